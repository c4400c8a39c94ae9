package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The client suites: Xen Orchestra's xen-api (Node) and the official XenAPI.py (Python)
// run their scenarios against the built binary. They print one line per check; any FAIL
// line fails the test. Checks listed in pending.txt are reported, not counted.
//
// .ci/run installs both clients. A developer without them may set XAPISIM_SKIP_CLIENTS=1.

func TestXenOrchestraXenAPI(t *testing.T) {
	node := requireTool(t, "node", "install Node.js 20 and run `npm ci` in e2e/node")
	if _, err := os.Stat(filepath.Join("node", "node_modules", "xen-api")); err != nil {
		skipOrFail(t, "xen-api is not installed: run `npm ci` in e2e/node (.ci/run does)")
	}
	s := Start(t, "--hosts", "3")
	runSuite(t, exec.Command(node, "scenarios.mjs", s.URL, s.User, s.Password), "node")
}

func TestXenAPIPy(t *testing.T) {
	python := requireTool(t, "python3", "install Python 3")
	if _, err := os.Stat("/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py"); err != nil {
		skipOrFail(t, "XenAPI.py is not installed: apt-get install -y python3-os-xenapi (.ci/run does)")
	}
	s := Start(t, "--hosts", "3")
	runSuite(t, exec.Command(python, "xenapi_scenarios.py", s.URL, s.User, s.Password), "python")
}

func runSuite(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log(line)
		if strings.HasPrefix(line, "FAIL") {
			t.Fail()
		}
	}
	if err != nil {
		t.Errorf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
}

func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not installed: "+hint)
	}
	return path
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("XAPISIM_SKIP_CLIENTS") != "" {
		t.Skip(msg)
	}
	t.Fatal(msg)
}
