package cluster

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// NBD export of disks (xapi_vdi.ml get_nbd_info). Each host with the VDI's SR plugged
// serves it on port 10809 on every IP of its attached PIFs whose network has the purpose
// nbd or insecure_nbd; clients check the TLS certificate the host answers with.
//
// The model: a host's TLS certificate is self-signed for its hostname, made from a key
// derived from the host's UUID, so it is the same on every call and after restarts. It
// uses Ed25519 because RSA and ECDSA signatures in Go are randomised.

// nbdPort is where xapi's NBD server listens.
const nbdPort = 10809

func (p *Sim) registerNBD() {
	s := p.srv
	s.Handle("host.get_server_certificate", func(c *xapi.Call) (any, error) {
		h, err := c.Get("host", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		if err := forwardTo(s.Store, h.Ref); err != nil {
			return nil, err
		}
		return serverCertificate(h), nil
	})
	s.Handle("VDI.get_nbd_info", p.nbdInfo)
}

// nbdInfo lists where the VDI can be read over NBD: one entry per serving host and IP.
func (p *Sim) nbdInfo(c *xapi.Call) (any, error) {
	r := p.srv.Store
	vdi, err := c.Get("VDI", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	if xapi.Str(vdi, "type") == "cbt_metadata" {
		return nil, apierror.New("VDI_INCOMPATIBLE_TYPE", vdi.Ref, vdiTypeNames["cbt_metadata"])
	}
	info := p.srv.Schema.Class("vdi_nbd_server_info")
	out := []any{}
	for _, host := range srHosts(r, xapi.Str(vdi, "SR")) {
		h := r.Get("host", host)
		for _, ip := range nbdAddresses(r, h) {
			rec := make([]any, len(info.Fields))
			for name, v := range map[string]any{
				"exportname": "/" + xapi.Str(vdi, "uuid") + "?session_id=" + c.SessionRef,
				"address":    ip, "port": int64(nbdPort), "cert": serverCertificate(h), "subject": xapi.Str(h, "hostname"),
			} {
				rec[info.Field(name).Index] = v
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// srHosts are the hosts with a plugged PBD of the SR.
func srHosts(r store.Reader, sr string) []string {
	var hosts []string
	for _, ref := range xapi.Refs(r.Get("SR", sr), "PBDs") {
		if pbd := r.Get("PBD", ref); pbd != nil && xapi.Bool(pbd, "currently_attached") {
			hosts = append(hosts, xapi.Str(pbd, "host"))
		}
	}
	return hosts
}

// nbdAddresses are the IPs (IPv4 first, then IPv6) of a host's attached PIFs on NBD
// networks.
func nbdAddresses(r store.Reader, h *store.Object) []string {
	var ips []string
	for _, ref := range xapi.Refs(h, "PIFs") {
		pif := r.Get("PIF", ref)
		if pif == nil || !xapi.Bool(pif, "currently_attached") || !nbdNetwork(r.Get("network", xapi.Str(pif, "network"))) {
			continue
		}
		if ip := xapi.Str(pif, "IP"); ip != "" {
			ips = append(ips, ip)
		}
		for _, ip := range xapi.Refs(pif, "IPv6") {
			if ip != "" {
				ips = append(ips, ip)
			}
		}
	}
	return ips
}

func nbdNetwork(net *store.Object) bool {
	for _, purpose := range xapi.Refs(net, "purpose") {
		if purpose == "nbd" || purpose == "insecure_nbd" {
			return true
		}
	}
	return false
}

// hostCertificate is the host's generated TLS certificate in PEM.
func hostCertificate(h *store.Object) string {
	hostname := xapi.Str(h, "hostname")
	notBefore := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	der := selfSigned("xapisim host key "+xapi.Str(h, "uuid"), hostname, []string{hostname}, notBefore, notBefore.AddDate(10, 0, 0))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// selfSigned is a server certificate (DER) for name, self-signed with an Ed25519 key
// derived from seedText.
func selfSigned(seedText, name string, dnsNames []string, notBefore, notAfter time.Time) []byte {
	seed := sha256.Sum256([]byte(seedText))
	key := ed25519.NewKeyFromSeed(seed[:])
	template := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(seed[:16]),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     dnsNames,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(nil, template, template, key.Public(), key)
	if err != nil { // only a malformed template fails, and this one is fixed
		panic(err)
	}
	return der
}
