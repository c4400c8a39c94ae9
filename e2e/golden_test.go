package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoldenReplies compares whole reply bodies, byte for byte, with the transcripts in
// testdata/golden. The pool is built with --seed 1 and a frozen --clock, so refs, UUIDs
// and datetimes are fixed. Set
// XAPISIM_UPDATE_GOLDEN=1 to rewrite the files after a deliberate change (and review the
// diff against protocol.md).
func TestGoldenReplies(t *testing.T) {
	s := Start(t, "--seed", "1", "--hosts", "1", "--clock", "2024-04-20T12:00:00Z")
	c := Login(t, s)
	master := c.S(t, "pool.get_master", c.S(t, "pool.get_all").([]any)[0]).(string)
	pool := c.S(t, "pool.get_all").([]any)[0].(string)

	jsonBody := func(version2 bool, id any, method string, params ...any) string {
		req := map[string]any{"method": method, "params": params, "id": id}
		if version2 {
			req["jsonrpc"] = "2.0"
		}
		b, _ := json.Marshal(req)
		return string(b)
	}
	for _, tc := range []struct {
		name, path, body string
	}{
		{"host_get_record.xml", "/", xmlBody("host.get_record", c.Session, master)},
		{"host_get_record.json", "/jsonrpc", jsonBody(true, 7, "host.get_record", c.Session, master)},
		{"pool_get_master_v1.json", "/jsonrpc", jsonBody(false, "abc", "pool.get_master", c.Session, pool)},
		{"handle_invalid.xml", "/RPC2", xmlBody("VM.get_record", c.Session, "OpaqueRef:bogus")},
		{"handle_invalid_v2.json", "/jsonrpc", jsonBody(true, 1, "VM.get_record", c.Session, "OpaqueRef:bogus")},
		{"handle_invalid_v1.json", "/jsonrpc", jsonBody(false, 1, "VM.get_record", c.Session, "OpaqueRef:bogus")},
		{"count_mismatch.xml", "/", xmlBody("VM.start", c.Session, master)},
		{"auth_failed.json", "/jsonrpc", jsonBody(true, 0, "session.login_with_password", "root", "wrong")},
		{"no_async.xml", "/", xmlBody("Async.VM.get_record", c.Session, master)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, got := Post(t, s.URL+tc.path, tc.body)
			require.Equal(t, 200, status)
			path := filepath.Join("..", "testdata", "golden", tc.name)
			if os.Getenv("XAPISIM_UPDATE_GOLDEN") != "" {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func xmlBody(method string, params ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?>\n<methodCall>\n<methodName>" + method + "</methodName>\n<params>\n")
	for _, p := range params {
		b.WriteString("<param>\n<value><string>" + p + "</string></value>\n</param>\n")
	}
	b.WriteString("</params>\n</methodCall>\n")
	return b.String()
}
