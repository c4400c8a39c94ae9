package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// TestCoreJSONRPC walks the core's contract with a Go JSON-RPC 2.0 client.
func TestCoreJSONRPC(t *testing.T) {
	s := Start(t)
	c := &JSONRPC{URL: s.URL}

	for _, args := range [][]any{{s.User, s.Password}, {s.User, s.Password, "1.0", "e2e"}} {
		ref, err := c.Call(t, "session.login_with_password", args...)
		require.NoError(t, err, "login with %d arguments", len(args))
		assert.True(t, strings.HasPrefix(ref.(string), "OpaqueRef:"))
		c.Session = ref.(string)
	}

	pools := c.S(t, "pool.get_all_records").(map[string]any)
	require.Len(t, pools, 1)
	var master string
	for _, p := range pools {
		master = p.(map[string]any)["master"].(string)
	}
	host := c.S(t, "host.get_record", master).(map[string]any)
	assert.Equal(t, "2", host["API_version_major"].(interface{ String() string }).String())
	assert.Equal(t, "21", host["API_version_minor"].(interface{ String() string }).String())
	assert.Contains(t, host["software_version"], "xapi")

	vms := c.S(t, "VM.get_all_records").(map[string]any)
	require.NotEmpty(t, vms)
	var vm string
	for ref := range vms {
		vm = ref
	}

	assert.Equal(t, APIError{"HANDLE_INVALID", "VM", "OpaqueRef:bogus"}, c.Err(t, "VM.get_record", "OpaqueRef:bogus"))
	assert.Equal(t, APIError{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"}, c.Err(t, "VM.start", vm))
	assert.Equal(t, APIError{"UUID_INVALID", "VM", "nope"}, c.Err(t, "VM.get_by_uuid", "nope"))

	listed, err := c.Call(t, "system.listMethods")
	require.NoError(t, err)
	names := map[string]bool{}
	for _, n := range listed.([]any) {
		names[n.(string)] = true
	}
	for _, cls := range datamodel.Load().Classes {
		if cls.Message("get_all_records") != nil {
			assert.True(t, names[cls.Name+".get_all_records"], "listMethods lacks %s.get_all_records", cls.Name)
		}
	}

	_, err = c.Call(t, "session.login_with_password", s.User, "wrong")
	assert.Equal(t, APIError{"SESSION_AUTHENTICATION_FAILED", s.User, "Authentication failure"}, err)

	c.S(t, "session.logout")
	assert.Equal(t, APIError{"SESSION_INVALID", c.Session}, c.Err(t, "pool.get_all"))
}

// TestCorePythonXMLRPC runs the same contract from Python's xmlrpc.client over XML-RPC on
// "/" and "/RPC2".
func TestCorePythonXMLRPC(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	s := Start(t)
	out, err := exec.Command(python, "python/core_xmlrpc.py", s.URL, s.User, s.Password).CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err)
	assert.Contains(t, string(out), " 0 failed")
}
