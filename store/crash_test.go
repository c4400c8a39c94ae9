package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashLosesNoAcknowledgedCommit runs a child process that commits durably and
// prints every acknowledged ref, SIGKILLs it mid-run, and checks that every acknowledged
// commit is in the file.
func TestCrashLosesNoAcknowledgedCommit(t *testing.T) {
	if path := os.Getenv("STORE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNoAcknowledgedCommit$")
	cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(1 * time.Second)
	for sc.Scan() {
		if ref, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, ref)
		}
		if time.Now().After(deadline) && len(acked) > 50 {
			break
		}
	}
	require.NoError(t, cmd.Process.Kill())
	for sc.Scan() { // what was printed before the kill was acknowledged too
		if ref, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, ref)
		}
	}
	_ = cmd.Wait()
	require.NotEmpty(t, acked)

	s, err := Open(testSchema(), Options{Path: path, Log: zerolog.Nop()})
	require.NoError(t, err)
	defer s.Close()
	missing := 0
	for _, ref := range acked {
		if s.Get("VM", ref) == nil {
			missing++
		}
	}
	assert.Zero(t, missing, "%d of %d acknowledged commits lost", missing, len(acked))
}

// crashChild commits from 8 goroutines forever, with fsync, printing acknowledgements.
func crashChild(path string) {
	s, err := Open(testSchema(), Options{Path: path, Log: zerolog.Nop()})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				ref := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.Update(func(tx *Tx) error { tx.Put(vm(ref, ref, "x")); return nil }); err != nil {
					return
				}
				mu.Lock()
				fmt.Println("acked", ref)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}
