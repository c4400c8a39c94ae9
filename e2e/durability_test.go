package e2e

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKillLosesNoAcknowledgedWrite SIGKILLs the server while writers are busy and
// restarts it on the same --db: every write that was acknowledged must be there.
func TestKillLosesNoAcknowledgedWrite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	s := Start(t, "--db", db, "--hosts", "1")
	c := Login(t, s)
	vms := c.S(t, "VM.get_all").([]any)
	require.NotEmpty(t, vms)
	vm := vms[0].(string)

	type ack struct{ key, value string }
	var mu sync.Mutex
	var acked []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, value := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("v%d", i)
				if _, err := c.Try("VM.add_to_other_config", c.Session, vm, key, value); err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, ack{key, value})
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	s.Kill()
	close(stop)
	wg.Wait()
	require.NotEmpty(t, acked)

	s2 := Start(t, "--db", db, "--hosts", "1")
	c2 := Login(t, s2)
	other := c2.S(t, "VM.get_other_config", vm).(map[string]any)
	missing := 0
	for _, a := range acked {
		if other[a.key] != a.value {
			missing++
		}
	}
	assert.Zero(t, missing, "%d of %d acknowledged writes lost", missing, len(acked))
	t.Logf("%d acknowledged writes, all present after SIGKILL and restart", len(acked))
}
