package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashLosesNoAcknowledgedCommit runs a child process that commits durably and
// prints every acknowledged generation and ref, SIGKILLs it mid-run, and checks that
// every acknowledged commit is in the file.
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
	acked := map[string]uint64{} // ref -> generation
	var last uint64
	sc := bufio.NewScanner(out)
	read := func() {
		var gen uint64
		var ref string
		if _, err := fmt.Sscanf(sc.Text(), "acked %d %s", &gen, &ref); err == nil {
			acked[ref] = gen
			last = max(last, gen)
		}
	}
	deadline := time.Now().Add(1 * time.Second)
	for sc.Scan() {
		read()
		if time.Now().After(deadline) && len(acked) > 50 {
			break
		}
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no chance to flush or close
	// What was printed before the kill was acknowledged too.
	for sc.Scan() {
		read()
	}
	_ = cmd.Wait()
	require.NotEmpty(t, acked)
	t.Logf("%d commits acknowledged before the kill, the last at generation %d", len(acked), last)

	s, err := Open(testSchema(), Options{Path: path, Log: zerolog.Nop()})
	require.NoError(t, err)
	defer s.Close()
	assert.GreaterOrEqual(t, s.Generation(), last)
	missing := 0
	for ref, gen := range acked {
		if o := s.Get("VM", ref); o == nil || o.Created != gen {
			missing++
		}
	}
	assert.Zero(t, missing, "%d of %d acknowledged commits lost", missing, len(acked))
}

// crashChild commits from 8 goroutines forever, with fsync, printing each acknowledged
// generation and ref.
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
				gen, err := s.Update(func(tx *Tx) error { tx.Put(vm(ref, ref, "x")); return nil })
				if err != nil {
					return
				}
				mu.Lock()
				fmt.Println("acked", gen, ref)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}
