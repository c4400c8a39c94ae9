// Package e2e runs the built xapisim binary and talks to it over real HTTP, the way
// clients do: Go JSON-RPC and XML-RPC here, Python's XenAPI.py and Xen Orchestra's
// xen-api in the client suites.
package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the xapisim built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xapisim-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "xapisim")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/xapisim")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building xapisim:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Server is a running xapisim.
type Server struct {
	URL, User, Password string
	PID                 int
	cmd                 *exec.Cmd
}

// Start runs xapisim on a free port with the given extra flags (--ephemeral unless a
// --db is given) and waits for its ready line.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	all := append([]string{"--listen", "127.0.0.1:0"}, args...)
	if !hasFlag(args, "--db") {
		all = append(all, "--ephemeral")
	}
	cmd := exec.Command(binary, all...)
	cmd.Stderr = &logWriter{t: t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{cmd: cmd}
	t.Cleanup(s.Stop)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		env := parseExport(line)
		if env["XAPI_URL"] == "" {
			t.Fatalf("unexpected ready line %q", line)
		}
		s.URL, s.User, s.Password = env["XAPI_URL"], env["XAPI_USER"], env["XAPI_PASSWORD"]
		fmt.Sscan(env["XAPISIM_PID"], &s.PID)
	case <-time.After(60 * time.Second):
		t.Fatal("xapisim did not print its ready line")
	}
	return s
}

// Stop ends the server gracefully (SIGTERM) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func parseExport(line string) map[string]string {
	env := map[string]string{}
	fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "export "))
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			env[k] = v
		}
	}
	return env
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// logWriter sends the server's stderr to the test log.
type logWriter struct{ t testing.TB }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Logf("xapisim: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
