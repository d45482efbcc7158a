package visualizer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
)

// startServer runs a Watcher on f behind the handler.
func startServer(t *testing.T, f *fakeAPI, opts Options) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWatcher(f, opts)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	ts := httptest.NewServer(handler(w, 50*time.Millisecond))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		cancel()
		<-done
	})
	return ts
}

// sse reads the models a /api/events stream sends.
func sse(t *testing.T, url string) <-chan Model {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	out := make(chan Model, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var m Model
				if event != "model" || json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m) != nil {
					t.Errorf("bad event %q: %s", event, line)
					return
				}
				out <- m
			}
		}
	}()
	return out
}

// await reads models until one satisfies ok.
func await(t *testing.T, models <-chan Model, what string, ok func(Model) bool) Model {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m, open := <-models:
			if !open {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no model with %s", what)
		}
	}
}

func taskCount(m Model) int {
	n := 0
	for _, node := range m.Nodes {
		n += len(node.Tasks)
	}
	return n
}

func TestEventsStream(t *testing.T) {
	f := twoNodes()
	// A long resync: the changes below must come from events.
	ts := startServer(t, f, Options{Resync: time.Hour, StatsEvery: -1, Retry: 10 * time.Millisecond})
	models := sse(t, ts.URL)
	await(t, models, "4 tasks", func(m Model) bool { return m.Error == "" && taskCount(m) == 4 })

	// A scale-up: the engine's event makes the server push the new task.
	f.mu.Lock()
	f.tasks = append(f.tasks, task("t4", "s-web", "n-mgr", 4, swarm.TaskStateRunning, swarm.TaskStateRunning))
	f.mu.Unlock()
	f.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionStart}
	await(t, models, "5 tasks", func(m Model) bool { return taskCount(m) == 5 })

	// The daemon goes away: the model says so, keeps the last state.
	f.mu.Lock()
	f.down = errors.New("Cannot connect to the Docker daemon")
	f.mu.Unlock()
	f.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie}
	m := await(t, models, "an error", func(m Model) bool { return m.Error != "" })
	if !m.Stale || taskCount(m) != 5 || !strings.Contains(m.Error, "Cannot connect") {
		t.Fatalf("model while down: %+v", m)
	}

	// It comes back: the events stream is followed again and the error goes.
	f.mu.Lock()
	f.down = nil
	f.mu.Unlock()
	await(t, models, "recovery", func(m Model) bool { return m.Error == "" && !m.Stale && taskCount(m) == 5 })
}

func TestResyncWithoutEvents(t *testing.T) {
	f := twoNodes()
	ts := startServer(t, f, Options{Resync: 20 * time.Millisecond, StatsEvery: -1})
	models := sse(t, ts.URL)
	await(t, models, "4 tasks", func(m Model) bool { return taskCount(m) == 4 })
	f.mu.Lock()
	f.nodes[0].Status.State = swarm.NodeStateReady
	f.mu.Unlock()
	await(t, models, "the worker up", func(m Model) bool { return m.Nodes[1].State == "ready" })
}

func TestUsageSampled(t *testing.T) {
	f := twoNodes()
	ts := startServer(t, f, Options{Resync: time.Hour, StatsEvery: 10 * time.Millisecond})
	models := sse(t, ts.URL)
	m := await(t, models, "usage", func(m Model) bool { return len(m.Nodes) == 2 && m.Nodes[0].Tasks[1].Usage != nil })
	if u := m.Nodes[0].Tasks[1].Usage; u.CPUPercent != 40 || u.MemoryBytes != 9<<20 {
		t.Fatalf("usage: %+v", u)
	}
}

func TestModelAndPage(t *testing.T) {
	f := twoNodes()
	ts := startServer(t, f, Options{Resync: 10 * time.Millisecond, StatsEvery: -1})
	get := func(path string) (string, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return resp.Header.Get("Content-Type"), string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ct, body := get("/api/model")
		var m Model
		if err := json.Unmarshal([]byte(body), &m); err != nil || ct != "application/json" {
			t.Fatalf("/api/model (%s): %v %s", ct, err, body)
		}
		if taskCount(m) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/model: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]string{"/": "<title>berth visualizer</title>", "/app.js": "EventSource", "/style.css": ".node.down"} {
		if _, body := get(path); !strings.Contains(body, want) {
			t.Errorf("GET %s lacks %q", path, want)
		}
	}
	if resp, err := http.Post(ts.URL+"/api/model", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/model: %v %v", resp.Status, err)
	}
}

// TestSettlesStartingTasks: a task that just started on its way to
// running is looked at again soon, with no event and no resync.
func TestSettlesStartingTasks(t *testing.T) {
	f := twoNodes()
	f.mu.Lock()
	f.tasks[0].Status.State, f.tasks[0].Status.Timestamp = swarm.TaskStateStarting, time.Now()
	f.mu.Unlock()
	ts := startServer(t, f, Options{Resync: time.Hour, StatsEvery: -1, Settle: 10 * time.Millisecond})
	models := sse(t, ts.URL)
	state := func(m Model) string { // of t3, on the worker
		for _, n := range m.Nodes {
			for _, task := range n.Tasks {
				if task.ID == "t3" {
					return task.State
				}
			}
		}
		return ""
	}
	await(t, models, "the task starting", func(m Model) bool { return state(m) == "starting" })
	f.mu.Lock()
	f.tasks[0].Status.State = swarm.TaskStateRunning
	f.mu.Unlock()
	await(t, models, "the task running", func(m Model) bool { return state(m) == "running" })
}

func TestSettling(t *testing.T) {
	now := time.Now()
	since := now.Add(-10 * time.Second)
	for _, tc := range []struct {
		state, desired string
		at             time.Time
		want           bool
	}{
		{"starting", "running", now, true},
		{"pending", "running", now, true},
		{"running", "running", now, false},
		{"failed", "running", now, false},
		{"starting", "running", now.Add(-time.Minute), false}, // stuck: left to the resync
		{"starting", "shutdown", now, false},
	} {
		m := Model{Nodes: []Node{{Tasks: []Task{{State: tc.state, Desired: tc.desired, Since: tc.at}}}}}
		if got := settling(m, since); got != tc.want {
			t.Errorf("settling(%s → %s at %v) = %v", tc.state, tc.desired, tc.at, got)
		}
	}
}
