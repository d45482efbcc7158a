package service

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/cli/command/internal/apitest"
)

// fakeClock is the waiter's time: each sleep moves it on a second.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(context.Context, time.Duration) error {
	c.t = c.t.Add(time.Second)
	return nil
}

func tk(slot int, node string, desired, state swarmtypes.TaskState) swarmtypes.Task {
	return swarmtypes.Task{ID: "t" + string(rune('0'+slot)), Slot: slot, NodeID: node, DesiredState: desired, Status: swarmtypes.TaskStatus{State: state}}
}

// sequence answers each call with the next of steps (the last one then
// on).
func sequence(steps ...any) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		step := steps[min(i, len(steps)-1)]
		i++
		mu.Unlock()
		apitest.JSON(step)(w, r)
	}
}

func runWaiter(t *testing.T, service any, tasks http.HandlerFunc) (string, error) {
	t.Helper()
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /services/s1": sequence(service),
		"GET /tasks":       tasks,
		"GET /nodes":       apitest.JSON([]swarmtypes.Node{{ID: "n1", Status: swarmtypes.NodeStatus{State: "ready"}}}),
	})
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	w := &waiter{api: api, out: newDisplay(&out), prog: "berth", now: clock.now, sleep: clock.sleep}
	err = w.run(context.Background(), "s1")
	w.out.flush()
	return out.String(), err
}

func replicated(n uint64) swarmtypes.Service {
	s := swarmtypes.Service{ID: "s1"}
	s.Spec.Mode.Replicated = &swarmtypes.ReplicatedService{Replicas: &n}
	return s
}

func TestProgressReplicatedConverges(t *testing.T) {
	out, err := runWaiter(t, replicated(2), sequence(
		[]swarmtypes.Task{tk(1, "n1", "running", "preparing"), tk(2, "", "running", "pending")},
		[]swarmtypes.Task{tk(1, "n1", "running", "running"), tk(2, "n1", "running", "starting")},
		[]swarmtypes.Task{tk(1, "n1", "running", "running"), tk(2, "n1", "running", "running"), tk(2, "n1", "shutdown", "failed")},
	))
	if err != nil {
		t.Fatal(err)
	}
	bar := "[==================================================>]"
	want := "overall progress: 2 out of 2 tasks\n1/2: running   " + bar + "\n2/2: running   " + bar + "\nverify: Service s1 converged\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestProgressPaused(t *testing.T) {
	s := replicated(1)
	s.UpdateStatus = &swarmtypes.UpdateStatus{State: "paused", Message: "update paused due to failure or early termination of task abc"}
	_, err := runWaiter(t, s, sequence([]swarmtypes.Task{}))
	if err == nil || err.Error() != "service update paused: update paused due to failure or early termination of task abc" {
		t.Errorf("err = %v", err)
	}
}

func TestProgressTaskError(t *testing.T) {
	failing := tk(1, "n1", "running", "rejected")
	failing.Status.Err = "No such image: nope:latest"
	ok := tk(1, "n1", "running", "running")
	out, err := runWaiter(t, replicated(1), sequence([]swarmtypes.Task{failing}, []swarmtypes.Task{failing}, []swarmtypes.Task{ok}))
	if err != nil {
		t.Fatal(err)
	}
	// The slot's line shows its last state; the error was shown before.
	if !strings.Contains(out, "overall progress: 1 out of 1 tasks\n1/1: running   [") || !strings.HasSuffix(out, "verify: Service s1 converged\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestProgressReplicatedJob(t *testing.T) {
	s := swarmtypes.Service{ID: "s1", JobStatus: &swarmtypes.JobStatus{JobIteration: swarmtypes.Version{Index: 7}}}
	s.Spec.Mode.ReplicatedJob = &swarmtypes.ReplicatedJob{MaxConcurrent: u64(2), TotalCompletions: u64(2)}
	iter := &swarmtypes.Version{Index: 7}
	job := func(slot int, state swarmtypes.TaskState) swarmtypes.Task {
		t := tk(slot, "n1", "complete", state)
		t.JobIteration = iter
		return t
	}
	out, err := runWaiter(t, s, sequence(
		[]swarmtypes.Task{job(0, "running"), job(1, "pending")},
		[]swarmtypes.Task{job(0, "complete"), job(1, "complete")},
	))
	if err != nil {
		t.Fatal(err)
	}
	bar := "[==================================================>]"
	want := "job progress: 2 out of 2 complete " + bar + "\nactive tasks: 0 out of 0 tasks\n" +
		"1/2: complete  " + bar + "\n2/2: complete  " + bar + "\njob complete\n"
	if out != want {
		t.Errorf("output:\n%q\nwant:\n%q", out, want)
	}
}

func TestProgressGlobal(t *testing.T) {
	s := swarmtypes.Service{ID: "s1"}
	s.Spec.Mode.Global = &swarmtypes.GlobalService{}
	out, err := runWaiter(t, s, sequence(
		[]swarmtypes.Task{},
		[]swarmtypes.Task{tk(0, "n1", "running", "running")},
	))
	if err != nil {
		t.Fatal(err)
	}
	want := "overall progress: 1 out of 1 tasks\nn1: running   [==================================================>]\nverify: Service s1 converged\n"
	if out != want {
		t.Errorf("output:\n%q\nwant:\n%q", out, want)
	}
}

func TestDisplayTerminal(t *testing.T) {
	var b strings.Builder
	d := newDisplay(&b)
	d.TTY, d.Width = true, 80
	d.set("overall progress", "0 out of 2 tasks", 0, 0)
	d.set("1/2", "running  ", 9, 9)
	d.set("overall progress", "1 out of 2 tasks", 0, 0)
	want := "\n\x1b[1A\r\x1b[2Koverall progress: 0 out of 2 tasks \r\x1b[1B" +
		"\n\x1b[1A\r\x1b[2K1/2: running   \r\x1b[1B" +
		"\x1b[2A\r\x1b[2Koverall progress: 1 out of 2 tasks \r\x1b[2B"
	if b.String() != want {
		t.Errorf("terminal output %q\nwant %q", b.String(), want)
	}
	// A wide terminal shows bars.
	d.Width = 120
	if got := d.bar(6, 9); got != "["+strings.Repeat("=", 33)+">"+strings.Repeat(" ", 17)+"] " {
		t.Errorf("bar = %q", got)
	}
}
