package cluster_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi"
)

// RSA keys take a while to generate: each size is made once per test binary.
var (
	rsaKeysMu sync.Mutex
	rsaKeys   = map[string]*rsa.PrivateKey{}
)

func rsaKey(t *testing.T, name string, bits int) *rsa.PrivateKey {
	t.Helper()
	rsaKeysMu.Lock()
	defer rsaKeysMu.Unlock()
	if k, ok := rsaKeys[name]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	rsaKeys[name] = k
	return k
}

// certSpec describes a test certificate; a nil signer makes it self-signed.
type certSpec struct {
	key       crypto.Signer
	signer    crypto.Signer
	notBefore time.Time
	notAfter  time.Time
	sigAlg    x509.SignatureAlgorithm
}

func makeCert(t *testing.T, s certSpec) string {
	t.Helper()
	if s.signer == nil {
		s.signer = s.key
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: s.notBefore.UTC().Truncate(time.Second), NotAfter: s.notAfter.UTC().Truncate(time.Second),
		SignatureAlgorithm: s.sigAlg, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.key.Public(), s.signer)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func keyPEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func fingerprintOf(t *testing.T, certPEM string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(certPEM))
	require.NotNil(t, block)
	sum := sha256.Sum256(block.Bytes)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return strings.Join(parts, ":")
}

func certTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

func TestPoolCACertificates(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	ed := func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }
	valid := makeCert(t, certSpec{key: ed()})
	past, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	expired := makeCert(t, certSpec{key: ed(), notBefore: past.Add(-time.Hour), notAfter: past})
	notYet := makeCert(t, certSpec{key: ed(), notBefore: future, notAfter: future.Add(time.Hour)})

	p.ok("pool.install_ca_certificate", "ca1.pem", valid)
	p.ok("pool.certificate_install", "ca2.pem", valid)
	assert.Equal(t, []any{"ca1.pem", "ca2.pem"}, p.ok("pool.certificate_list"))
	ca := p.first("Certificate", `field "name"="ca1.pem"`)
	rec := p.ok("Certificate.get_record", ca).(map[string]any)
	assert.Equal(t, "ca", rec["type"])
	assert.Equal(t, "OpaqueRef:NULL", rec["host"])
	assert.Equal(t, fingerprintOf(t, valid), rec["fingerprint"])

	now := func(e []string) []string { // the error's "now" is the server's
		if len(e) == 3 {
			e[1] = "now"
		}
		return e
	}
	for _, tc := range []struct {
		name, method, file, cert string
		want                     []string
	}{
		{"not PEM", "pool.install_ca_certificate", "x.pem", "garbage", []string{"CA_CERTIFICATE_INVALID"}},
		{"two certificates", "pool.install_ca_certificate", "x.pem", valid + valid, []string{"CA_CERTIFICATE_INVALID"}},
		{"expired", "pool.install_ca_certificate", "x.pem", expired, []string{"CA_CERTIFICATE_EXPIRED", "now", certTime(past)}},
		{"not yet valid", "pool.certificate_install", "x.pem", notYet, []string{"CA_CERTIFICATE_NOT_VALID_YET", "now", certTime(future)}},
		{"name without .pem", "pool.install_ca_certificate", "ca3", valid, []string{"CERTIFICATE_NAME_INVALID", "ca3"}},
		{"hidden name", "pool.install_ca_certificate", ".ca.pem", valid, []string{"CERTIFICATE_NAME_INVALID", ".ca.pem"}},
		{"unsafe name", "pool.install_ca_certificate", "../ca.pem", valid, []string{"CERTIFICATE_NAME_INVALID", "../ca.pem"}},
		{"empty name", "pool.install_ca_certificate", "", valid, []string{"INTERNAL_ERROR", `Invalid_argument("index out of bounds")`}},
		{"name clash", "pool.install_ca_certificate", "ca1.pem", valid, []string{"CERTIFICATE_ALREADY_EXISTS", "ca1.pem"}},
	} {
		_, err := p.call(tc.method, tc.file, tc.cert)
		assert.Equal(t, tc.want, now(err), tc.name)
	}

	p.expectErrors([]errorCase{
		{"uninstall unknown", "pool.uninstall_ca_certificate", []any{"nope.pem"}, []string{"CERTIFICATE_DOES_NOT_EXIST", "nope.pem"}},
		{"uninstall bad name", "pool.certificate_uninstall", []any{"nope"}, []string{"CERTIFICATE_NAME_INVALID", "nope"}},
	})
	p.ok("pool.uninstall_ca_certificate", "ca1.pem")
	p.ok("pool.certificate_uninstall", "ca2.pem")
	assert.Equal(t, []any{}, p.ok("pool.certificate_list"))
	assert.Empty(t, p.where("Certificate", "true"))

	// A slave that is down: the coordinator keeps the file, the record is not made.
	master := p.master()
	other := p.otherHost(master)
	p.ok("host.set_power_on_mode", other, "wake-on-lan", map[string]any{})
	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"copy fails", "pool.install_ca_certificate", []any{"ca4.pem", valid}, []string{"HOST_OFFLINE", other}},
		{"the file stays", "pool.install_ca_certificate", []any{"ca4.pem", valid}, []string{"CERTIFICATE_ALREADY_EXISTS", "ca4.pem"}},
		{"sync fails", "pool.certificate_sync", nil, []string{"HOST_OFFLINE", other}},
	})
	assert.Empty(t, p.where("Certificate", "true"))
	p.ok("host.power_on", other)
	p.ok("pool.certificate_sync")
	p.expectErrors([]errorCase{
		{"file without record", "pool.uninstall_ca_certificate", []any{"ca4.pem"}, []string{"INVALID_VALUE", "certificate:name", "ca4.pem"}},
	})
}

func TestPoolCRLs(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 1, VMs: 0})
	p.ok("pool.crl_install", "b.pem", "not parsed")
	p.ok("pool.crl_install", "a.pem", "")
	assert.Equal(t, []any{"a.pem", "b.pem"}, p.ok("pool.crl_list"))
	p.expectErrors([]errorCase{
		{"clash", "pool.crl_install", []any{"a.pem", "x"}, []string{"CRL_ALREADY_EXISTS", "a.pem"}},
		{"bad name", "pool.crl_install", []any{"a.crl", "x"}, []string{"CRL_NAME_INVALID", "a.crl"}},
		{"empty name", "pool.crl_uninstall", []any{""}, []string{"INTERNAL_ERROR", `Invalid_argument("index out of bounds")`}},
		{"unknown", "pool.crl_uninstall", []any{"c.pem"}, []string{"CRL_DOES_NOT_EXIST", "c.pem"}},
	})
	p.ok("pool.crl_uninstall", "a.pem")
	assert.Equal(t, []any{"b.pem"}, p.ok("pool.crl_list"))
	assert.Equal(t, []any{}, p.ok("pool.certificate_list"), "CRLs are not CA certificates")
}

func TestHostServerCertificate(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	other := p.otherHost(master)
	key := rsaKey(t, "a", 2048)
	generated := p.ok("host.get_server_certificate", master).(string)

	leaf := makeCert(t, certSpec{key: key})
	chain := makeCert(t, certSpec{key: rsaKey(t, "b", 2048)})
	p.ok("host.install_server_certificate", master, leaf, keyPEM(t, key), chain)
	assert.Equal(t, leaf, p.ok("host.get_server_certificate", master))
	certs := p.where("Certificate", fmt.Sprintf(`field "host"=%q`, master))
	require.Len(t, certs, 1)
	rec := p.ok("Certificate.get_record", certs[0]).(map[string]any)
	assert.Equal(t, "host", rec["type"])
	assert.Equal(t, fingerprintOf(t, leaf), rec["fingerprint"])
	assert.Equal(t, certs, toStrings(p.ok("host.get_certificates", master)))

	// Installing again replaces the record; the key may be PKCS #1.
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	leaf2 := makeCert(t, certSpec{key: key, sigAlg: x509.SHA512WithRSA})
	p.ok("host.install_server_certificate", master, leaf2, pkcs1, "")
	certs2 := p.where("Certificate", fmt.Sprintf(`field "host"=%q`, master))
	require.Len(t, certs2, 1)
	assert.NotEqual(t, certs, certs2)

	p.ok("host.reset_server_certificate", master)
	assert.Equal(t, generated, p.ok("host.get_server_certificate", master))
	certs3 := p.where("Certificate", fmt.Sprintf(`field "host"=%q and field "type"="host"`, master))
	require.Len(t, certs3, 1)
	assert.Equal(t, fingerprintOf(t, generated), p.ok("Certificate.get_fingerprint", certs3[0]))

	p.ok("host.install_server_certificate", master, leaf, keyPEM(t, key), "")
	p.ok("host.emergency_reset_server_certificate")
	assert.Equal(t, generated, p.ok("host.get_server_certificate", master))

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	small := rsaKey(t, "small", 1024)
	past, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	good := keyPEM(t, key)
	for _, tc := range []struct {
		name                   string
		host, cert, key, chain string
		want                   []string
	}{
		{"bogus host", "OpaqueRef:nope", leaf, good, "", []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"key not PEM", master, leaf, "garbage", "", []string{"SERVER_CERTIFICATE_KEY_INVALID"}},
		{"a certificate for a key", master, leaf, leaf, "", []string{"SERVER_CERTIFICATE_KEY_INVALID"}},
		{"ed25519 key", master, leaf, keyPEM(t, edKey), "", []string{"SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", "ed25519"}},
		{"EC key", master, leaf, keyPEM(t, ecKey), "", []string{"SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED", "p256"}},
		{"short RSA key", master, leaf, keyPEM(t, small), "", []string{"SERVER_CERTIFICATE_KEY_RSA_LENGTH_NOT_SUPPORTED", "1024"}},
		{"certificate not PEM", master, "garbage", good, "", []string{"SERVER_CERTIFICATE_INVALID"}},
		{"expired", master, makeCert(t, certSpec{key: key, notBefore: past.Add(-time.Hour), notAfter: past}), good, "",
			[]string{"SERVER_CERTIFICATE_EXPIRED", "now", certTime(past)}},
		{"not yet valid", master, makeCert(t, certSpec{key: key, notBefore: future, notAfter: future.Add(time.Hour)}), good, "",
			[]string{"SERVER_CERTIFICATE_NOT_VALID_YET", "now", certTime(future)}},
		{"key mismatch", master, chain, good, "", []string{"SERVER_CERTIFICATE_KEY_MISMATCH"}},
		{"SHA-384 signature", master, makeCert(t, certSpec{key: key, sigAlg: x509.SHA384WithRSA}), good, "",
			[]string{"SERVER_CERTIFICATE_SIGNATURE_NOT_SUPPORTED"}},
		{"chain not PEM", master, leaf, good, "garbage", []string{"SERVER_CERTIFICATE_CHAIN_INVALID"}},
	} {
		_, err := p.call("host.install_server_certificate", tc.host, tc.cert, tc.key, tc.chain)
		if len(err) == 3 && strings.HasPrefix(err[0], "SERVER_CERTIFICATE_") {
			err[1] = "now"
		}
		assert.Equal(t, tc.want, err, tc.name)
	}

	p.setField("pool", p.first("pool", "true"), "ha_enabled", true)
	p.expectErrors([]errorCase{{"HA on", "host.install_server_certificate", []any{master, leaf, good, ""}, []string{"HA_IS_ENABLED"}}})
	p.setField("pool", p.first("pool", "true"), "ha_enabled", false)

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"install on a host that is down", "host.install_server_certificate", []any{other, leaf, good, ""}, []string{"HOST_OFFLINE", other}},
		{"reset on a host that is down", "host.reset_server_certificate", []any{other}, []string{"HOST_OFFLINE", other}},
		{"reset bogus", "host.reset_server_certificate", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
	})
}

func TestHostRefreshServerCertificate(t *testing.T) {
	p := newPool(t, cluster.Spec{Hosts: 2, VMs: 0})
	master := p.master()
	other := p.otherHost(master)
	internal := func() []string {
		return p.where("Certificate", fmt.Sprintf(`field "host"=%q and field "type"="host_internal"`, other))
	}
	p.ok("host.refresh_server_certificate", other)
	first := internal()
	require.Len(t, first, 1)
	rec := p.ok("Certificate.get_record", first[0]).(map[string]any)
	assert.Regexp(t, `^([0-9A-F]{2}:){31}[0-9A-F]{2}$`, rec["fingerprint"])
	p.ok("host.refresh_server_certificate", other)
	second := internal()
	require.Len(t, second, 1)
	assert.NotEqual(t, first, second, "a new certificate replaces the old one")
	assert.NotEqual(t, rec["fingerprint"], p.ok("Certificate.get_fingerprint", second[0]))
	assert.Empty(t, xapi.Map(p.get("pool", p.first("pool", "true")), "current_operations"), "cert_refresh is over")

	p.ok("host.disable", other)
	p.ok("host.shutdown", other)
	p.expectErrors([]errorCase{
		{"bogus host", "host.refresh_server_certificate", []any{"OpaqueRef:nope"}, []string{"HANDLE_INVALID", "host", "OpaqueRef:nope"}},
		{"host down", "host.refresh_server_certificate", []any{other}, []string{"HOST_OFFLINE", other}},
		{"another host down", "host.refresh_server_certificate", []any{master}, []string{"CANNOT_CONTACT_HOST", other}},
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
