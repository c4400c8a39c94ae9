package cluster

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Certificates (certificates.ml, xapi_pool.ml, xapi_host.ml, cert_refresh.ml, gencert's
// lib.ml). The coordinator's trusted CA certificates and CRLs are files in its dom0,
// copied to every host; they are kept in the pool's internal maps trusted_certificates and
// crls (PEM by file name). A host's installed server certificate is its internal field
// server_certificate, empty for the one generated from its UUID (hostCertificate). The
// Certificate records follow xapi: a `ca` record per trusted certificate, and a `host`
// (server) or `host_internal` (pool TLS) record per host once a certificate call made one.

// certLibrary is one of xapi's certificate libraries: its pool field and its error codes.
type certLibrary struct {
	field, prefix string
}

var (
	caLibrary  = certLibrary{field: "trusted_certificates", prefix: "CERTIFICATE"}
	crlLibrary = certLibrary{field: "crls", prefix: "CRL"}
)

// validateName is Certificates.validate_name: a file name of safe characters ending in
// .pem that does not start with a dot. xapi reads the first character before anything
// else, so the empty name escapes as an OCaml exception.
func (l certLibrary) validateName(name string) error {
	if name == "" {
		return apierror.Internal(`Invalid_argument("index out of bounds")`)
	}
	safe := func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
	}
	if name[0] == '.' || !strings.HasSuffix(name, ".pem") || strings.IndexFunc(name, func(r rune) bool { return !safe(r) }) >= 0 {
		return apierror.New(l.prefix+"_NAME_INVALID", name)
	}
	return nil
}

// install is Certificates.host_install on the coordinator.
func (l certLibrary) install(pool *store.Object, name, content string) error {
	if err := l.validateName(name); err != nil {
		return err
	}
	files := xapi.CopyMap(xapi.Map(pool, l.field))
	if _, ok := files[name]; ok {
		return apierror.New(l.prefix+"_ALREADY_EXISTS", name)
	}
	files[name] = content
	xapi.Set(pool, l.field, files)
	return nil
}

// uninstall is Certificates.host_uninstall without force.
func (l certLibrary) uninstall(pool *store.Object, name string) error {
	if err := l.validateName(name); err != nil {
		return err
	}
	files := xapi.CopyMap(xapi.Map(pool, l.field))
	if _, ok := files[name]; !ok {
		return apierror.New(l.prefix+"_DOES_NOT_EXIST", name)
	}
	delete(files, name)
	xapi.Set(pool, l.field, files)
	return nil
}

// copyCertsToAll is Cert_distrib.copy_certs_to_all: every host but the coordinator gets
// the files; all are tried and the first failure is raised.
func copyCertsToAll(r store.Reader) error {
	master := xapi.Str(firstPool(r), "master")
	var first error
	for _, h := range sortedHosts(r) {
		if h != master {
			if err := forwardTo(r, h); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func sortedHosts(r store.Reader) []string {
	var refs []string
	for _, h := range r.All("host") {
		refs = append(refs, h.Ref)
	}
	sort.Strings(refs)
	return refs
}

// decodeCertificate is X509.Certificate.decode_pem: exactly one certificate.
func decodeCertificate(text string) (*x509.Certificate, bool) {
	certs, ok := decodeCertificates(text)
	if !ok || len(certs) != 1 {
		return nil, false
	}
	return certs[0], true
}

// decodeCertificates is X509.Certificate.decode_pem_multiple.
func decodeCertificates(text string) ([]*x509.Certificate, bool) {
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return certs, true
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, false
		}
		certs = append(certs, cert)
	}
}

// pemTime is how gencert prints a time in its errors (Ptime.to_rfc3339, UTC).
func pemTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// validateNotExpired is Gencertlib.Lib.validate_not_expired with the error codes of prefix
// (CA_CERTIFICATE, SERVER_CERTIFICATE).
func validateNotExpired(text string, now time.Time, prefix string) (*x509.Certificate, error) {
	cert, ok := decodeCertificate(text)
	if !ok {
		return nil, apierror.New(prefix + "_INVALID")
	}
	return cert, checkValidity(cert, now, prefix)
}

func checkValidity(cert *x509.Certificate, now time.Time, prefix string) error {
	switch {
	case now.Before(cert.NotBefore):
		return apierror.New(prefix+"_NOT_VALID_YET", pemTime(now), pemTime(cert.NotBefore))
	case now.After(cert.NotAfter):
		return apierror.New(prefix+"_EXPIRED", pemTime(now), pemTime(cert.NotAfter))
	}
	return nil
}

// fingerprint is Certificates.pp_hash of the certificate's SHA-256: upper-case hex
// octets joined by colons.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	octets := make([]string, len(sum))
	for i, b := range sum {
		octets[i] = strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	return strings.Join(octets, ":")
}

// addCertificate is Db_util.add_cert: a record for the certificate; for a named CA the
// records of the same name it replaces go.
func (p *Sim) addCertificate(tx *store.Tx, typ, name, host string, cert *x509.Certificate) {
	var old []string
	if typ == "ca" {
		old = caCertificates(tx, name)
	}
	o := p.srv.NewObject("Certificate")
	xapi.Set(o, "name", name)
	xapi.Set(o, "type", typ)
	xapi.Set(o, "host", host)
	xapi.Set(o, "not_before", cert.NotBefore.UTC())
	xapi.Set(o, "not_after", cert.NotAfter.UTC())
	xapi.Set(o, "fingerprint", fingerprint(cert))
	tx.Put(o)
	for _, ref := range old {
		tx.Delete("Certificate", ref)
	}
}

// caCertificates are the refs of the CA records with the name.
func caCertificates(r store.Reader, name string) []string {
	var refs []string
	for _, c := range r.All("Certificate") {
		if xapi.Str(c, "type") == "ca" && xapi.Str(c, "name") == name {
			refs = append(refs, c.Ref)
		}
	}
	return refs
}

// replaceHostCertificate is replace_host_certificate: the host's records of the type give
// way to one for the new certificate.
func (p *Sim) replaceHostCertificate(tx *store.Tx, host, typ string, cert *x509.Certificate) {
	for _, ref := range xapi.Refs(tx.Get("host", host), "certificates") {
		if c := tx.Get("Certificate", ref); c != nil && xapi.Str(c, "type") == typ {
			tx.Delete("Certificate", ref)
		}
	}
	p.addCertificate(tx, typ, "", host, cert)
}

// serverCertificate is the PEM a host's TLS server answers with.
func serverCertificate(h *store.Object) string {
	if installed := xapi.Str(h, "server_certificate"); installed != "" {
		return installed
	}
	return hostCertificate(h)
}

// generatedCertificate is the host's generated certificate, parsed.
func generatedCertificate(h *store.Object) *x509.Certificate {
	cert, _ := decodeCertificate(hostCertificate(h))
	return cert
}

func (p *Sim) registerCertificates() {
	s := p.srv
	installCA := func(c *xapi.Call) (any, error) {
		name, text := c.StringArg(0), c.StringArg(1)
		cert, err := validateNotExpired(text, s.Clock.Now(), "CA_CERTIFICATE")
		if err != nil {
			return nil, err
		}
		return nil, p.poolLibraryChange(func(tx *store.Tx, pool *store.Object) error {
			return caLibrary.install(pool, name, text)
		}, func(tx *store.Tx) error {
			p.addCertificate(tx, "ca", name, datamodel.NullRef, cert)
			return nil
		})
	}
	uninstallCA := func(c *xapi.Call) (any, error) {
		name := c.StringArg(0)
		return nil, p.poolLibraryChange(func(tx *store.Tx, pool *store.Object) error {
			return caLibrary.uninstall(pool, name)
		}, func(tx *store.Tx) error {
			refs := caCertificates(tx, name)
			if len(refs) == 0 {
				return apierror.New(apierror.InvalidValue, "certificate:name", name)
			}
			for _, ref := range refs {
				tx.Delete("Certificate", ref)
			}
			return nil
		})
	}
	s.Handle("pool.install_ca_certificate", installCA)
	s.Handle("pool.certificate_install", installCA)
	s.Handle("pool.uninstall_ca_certificate", uninstallCA)
	s.Handle("pool.certificate_uninstall", uninstallCA)
	// CRLs are written as given: xapi does not parse them.
	s.Handle("pool.crl_install", func(c *xapi.Call) (any, error) {
		name, text := c.StringArg(0), c.StringArg(1)
		return nil, p.poolLibraryChange(func(tx *store.Tx, pool *store.Object) error {
			return crlLibrary.install(pool, name, text)
		}, nil)
	})
	s.Handle("pool.crl_uninstall", func(c *xapi.Call) (any, error) {
		name := c.StringArg(0)
		return nil, p.poolLibraryChange(func(tx *store.Tx, pool *store.Object) error {
			return crlLibrary.uninstall(pool, name)
		}, nil)
	})
	s.Handle("pool.crl_list", func(*xapi.Call) (any, error) {
		var names []string
		for name := range xapi.Map(firstPool(s.Store), "crls") {
			names = append(names, name)
		}
		sort.Strings(names)
		return xapi.StringSet(names...), nil
	})
	s.Handle("pool.certificate_sync", func(*xapi.Call) (any, error) {
		return nil, copyCertsToAll(s.Store)
	})

	s.Handle("host.install_server_certificate", p.installServerCertificate)
	s.Handle("host.reset_server_certificate", func(c *xapi.Call) (any, error) {
		return nil, p.resetServerCertificate(c.StringArg(0), true)
	})
	// xapi writes a new certificate without touching the database; the records follow at
	// the toolstack's next start, which the simulation does at once.
	s.Handle("host.emergency_reset_server_certificate", func(*xapi.Call) (any, error) {
		return nil, p.resetServerCertificate(xapi.Str(firstPool(s.Store), "master"), false)
	})
	s.Handle("host.refresh_server_certificate", p.refreshServerCertificate)
}

// poolLibraryChange installs or removes a file of the coordinator's library, copies the
// library to the other hosts and, when that worked, runs record. The file change stays
// when the copy fails, as in xapi.
func (p *Sim) poolLibraryChange(change func(tx *store.Tx, pool *store.Object) error, record func(tx *store.Tx) error) error {
	var late error
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		pool := firstPool(tx).Clone()
		if err := change(tx, pool); err != nil {
			return err
		}
		tx.Put(pool)
		if late = copyCertsToAll(tx); late != nil || record == nil {
			return nil
		}
		return record(tx)
	})
	if err == nil {
		err = late
	}
	return err
}

// installServerCertificate is host.install_server_certificate: forwarded to the host,
// refused while HA is on, then gencert's checks of the key, the leaf and the chain.
func (p *Sim) installServerCertificate(c *xapi.Call) (any, error) {
	host, leaf, key, chain := c.StringArg(0), c.StringArg(1), c.StringArg(2), c.StringArg(3)
	now := p.srv.Clock.Now()
	return nil, p.updateHost(host, func(tx *store.Tx, h *store.Object) error {
		if xapi.Bool(firstPool(tx), "ha_enabled") {
			return apierror.New("HA_IS_ENABLED")
		}
		cert, err := validateServerCertificate(leaf, key, chain, now)
		if err != nil {
			return err
		}
		xapi.Set(h, "server_certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
		p.replaceHostCertificate(tx, h.Ref, "host", cert)
		return nil
	})
}

// validateServerCertificate is Gencertlib.Lib.install_server_certificate's checks in
// order: the private key (RSA of 2048 to 4096 bits), the leaf's validity, the key pair,
// the leaf's signature hash (SHA-256 or SHA-512), then the chain when one is given.
func validateServerCertificate(leaf, keyText, chain string, now time.Time) (*x509.Certificate, error) {
	key, err := decodeServerKey(keyText)
	if err != nil {
		return nil, err
	}
	cert, err := validateNotExpired(leaf, now, "SERVER_CERTIFICATE")
	if err != nil {
		return nil, err
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, apierror.New("SERVER_CERTIFICATE_KEY_MISMATCH")
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA512WithRSA, x509.SHA256WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA512, x509.PureEd25519:
	default:
		return nil, apierror.New("SERVER_CERTIFICATE_SIGNATURE_NOT_SUPPORTED")
	}
	if chain != "" {
		if certs, ok := decodeCertificates(chain); !ok || len(certs) == 0 {
			return nil, apierror.New("SERVER_CERTIFICATE_CHAIN_INVALID")
		}
	}
	return cert, nil
}

// decodeServerKey is gencert's validate_private_key.
func decodeServerKey(text string) (*rsa.PrivateKey, error) {
	invalid := apierror.New("SERVER_CERTIFICATE_KEY_INVALID")
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, invalid
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, invalid
	}
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "multi-prime"):
			return nil, apierror.New("SERVER_CERTIFICATE_KEY_RSA_MULTI_NOT_SUPPORTED")
		case strings.Contains(msg, "unknown algorithm: "):
			_, oid, _ := strings.Cut(msg, "unknown algorithm: ")
			return nil, apierror.New("SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", oid)
		}
		return nil, invalid
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) > 2 {
			return nil, apierror.New("SERVER_CERTIFICATE_KEY_RSA_MULTI_NOT_SUPPORTED")
		}
		if bits := k.N.BitLen(); bits < 2048 || bits > 4096 {
			return nil, apierror.New("SERVER_CERTIFICATE_KEY_RSA_LENGTH_NOT_SUPPORTED", strconv.Itoa(bits))
		}
		return k, nil
	case ed25519.PrivateKey:
		return nil, apierror.New("SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", "ed25519")
	case *ecdsa.PrivateKey:
		curve := strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
		return nil, apierror.New("SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", curve)
	}
	return nil, invalid
}

// resetServerCertificate puts back the host's generated certificate. forwarded says
// whether the call goes through the coordinator's forwarding (reset) or runs on the host
// it reached (the emergency reset on the coordinator).
func (p *Sim) resetServerCertificate(host string, forwarded bool) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		h, err := xapi.GetObject(tx, "host", host)
		if err != nil {
			return err
		}
		if forwarded {
			if err := forwardTo(tx, host); err != nil {
				return err
			}
		}
		h = h.Clone()
		xapi.Set(h, "server_certificate", "")
		tx.Put(h)
		p.replaceHostCertificate(tx, host, "host", generatedCertificate(h))
		return nil
	})
	return err
}

// refreshServerCertificate is host.refresh_server_certificate under the pool's
// cert_refresh operation: the host makes a new pool-internal certificate (valid for ten
// years from now; its key derives from the new record's UUID) once every host can be
// reached, and the others pick it up.
func (p *Sim) refreshServerCertificate(c *xapi.Call) (any, error) {
	host := c.StringArg(0)
	if _, err := c.Get("host", host); err != nil {
		return nil, err
	}
	return nil, p.withOp(c, poolOp(firstPool(p.srv.Store).Ref, "cert_refresh"), func() error {
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			h, err := liveHost(tx, host)
			if err != nil {
				return err
			}
			for _, ref := range sortedHosts(tx) {
				if !hostLive(tx, ref) {
					return apierror.New("CANNOT_CONTACT_HOST", ref)
				}
			}
			seed := p.srv.IDs.UUID()
			cert := internalCertificate(xapi.Str(h, "uuid"), seed, p.srv.Clock.Now())
			p.replaceHostCertificate(tx, host, "host_internal", cert)
			return nil
		})
		return err
	})
}

// internalCertificate is a host's pool-internal certificate, named after the host's UUID.
func internalCertificate(hostUUID, seed string, now time.Time) *x509.Certificate {
	notBefore := now.UTC().Truncate(time.Second)
	der := selfSigned("xapisim internal key "+seed, hostUUID, nil, notBefore, notBefore.AddDate(0, 0, 3650))
	cert, _ := x509.ParseCertificate(der)
	return cert
}
