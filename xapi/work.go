package xapi

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xapisim/xapisim/xapi/apierror"
)

// Durations gives the simulated time long operations take, by wire name ("VM.start");
// the key "*" is the default for every call that simulates work. Zero means instant.
type Durations map[string]time.Duration

// Set parses "VM.start=2s" and records it.
func (d Durations) Set(spec string) error {
	name, text, ok := strings.Cut(spec, "=")
	if !ok || name == "" {
		return fmt.Errorf("duration %q: want MESSAGE=DURATION, e.g. VM.start=2s", spec)
	}
	v, err := time.ParseDuration(text)
	if err != nil || v < 0 {
		return fmt.Errorf("duration %q: %q is not a duration", spec, text)
	}
	d[name] = v
	return nil
}

// progressSteps is how many progress updates a task gets while its work is simulated.
const progressSteps = 10

// cancels holds a channel per running Async task, closed by task.cancel.
type cancels struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (c *cancels) register(task string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	c.ch[task] = ch
	return ch
}

func (c *cancels) done(task string) {
	c.mu.Lock()
	delete(c.ch, task)
	c.mu.Unlock()
}

// cancel signals a running task; it reports whether the task was running.
func (c *cancels) cancel(task string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.ch[task]
	if ok {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	return ok
}

// CancelTask asks a running Async task to stop; its work ends with TASK_CANCELLED at the
// next check. It reports whether the task was still running.
func (s *Server) CancelTask(task string) bool { return s.cancels.cancel(task) }

// Cancelled returns a channel closed when the call's task is cancelled (never closed
// for a sync call). Handlers that wait, as xapi does for a busy object, select on it.
func (c *Call) Cancelled() <-chan struct{} { return c.cancel }

// OperationKey is the key of this call in an object's current_operations: the task of an
// Async call, or a fresh ref standing for the task xapi creates for a sync call.
func (c *Call) OperationKey() string {
	if c.Task == "" {
		c.Task = c.Server.IDs.Ref()
		c.syncTask = true
	}
	return c.Task
}

// Work simulates the time the call's operation takes (Config.Durations): it waits in
// steps, updating the task's progress, and returns TASK_CANCELLED [task] when the task is
// cancelled meanwhile. Handlers call it before they commit their effect, so a cancelled
// operation changes nothing.
func (c *Call) Work() error {
	d, ok := c.Server.durations[c.Name]
	if !ok {
		d = c.Server.durations["*"]
	}
	cancelled := c.Cancelled()
	select {
	case <-cancelled:
		return apierror.New(apierror.TaskCancelled, c.Task)
	default:
	}
	if d <= 0 {
		return nil
	}
	step := d / progressSteps
	for i := 1; i <= progressSteps; i++ {
		select {
		case <-cancelled:
			return apierror.New(apierror.TaskCancelled, c.Task)
		case <-time.After(step):
		}
		if c.Task != "" && !c.syncTask && i < progressSteps {
			p := float64(i) / progressSteps
			_ = c.Server.UpdateField("task", c.Task, "progress", func(any) (any, error) { return p, nil })
		}
	}
	return nil
}
