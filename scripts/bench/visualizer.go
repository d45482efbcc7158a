package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/visualizer"
)

// visualizerProc is a running `berth visualizer` and the models its
// page receives over Server-Sent Events.
type visualizerProc struct {
	cmd    *exec.Cmd
	url    string
	cancel context.CancelFunc

	mu     sync.Mutex
	models []sseModel // every model pushed, with when it arrived
	wake   chan struct{}
}

type sseModel struct {
	at time.Time
	m  visualizer.Model
}

// startVisualizer runs args (a visualizer command line without --listen)
// with env, and follows its /api/events as the page does.
func startVisualizer(env []string, args ...string) (*visualizerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(args[0], append(args[1:], "--listen", addr)...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &visualizerProc{cmd: cmd, url: "http://" + addr, cancel: cancel, wake: make(chan struct{}, 1)}
	var resp *http.Response
	for i := 0; i < 200; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.url+"/api/events", nil)
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		v.stop()
		return nil, fmt.Errorf("follow the visualizer's events: %w", err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m visualizer.Model
			if json.Unmarshal([]byte(data), &m) != nil {
				continue
			}
			v.mu.Lock()
			v.models = append(v.models, sseModel{time.Now(), m})
			v.mu.Unlock()
			select {
			case v.wake <- struct{}{}:
			default:
			}
		}
	}()
	return v, nil
}

// waitFor returns when the first model pushed after index from that
// satisfies ok arrived.
func (v *visualizerProc) waitFor(from int, timeout time.Duration, ok func(visualizer.Model) bool) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		v.mu.Lock()
		for _, s := range v.models[min(from, len(v.models)):] {
			if ok(s.m) {
				v.mu.Unlock()
				return s.at, nil
			}
		}
		v.mu.Unlock()
		select {
		case <-v.wake:
		case <-deadline:
			return time.Time{}, fmt.Errorf("no such model within %s", timeout)
		}
	}
}

func (v *visualizerProc) pushed() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.models)
}

func (v *visualizerProc) stop() {
	v.cancel()
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	_ = v.cmd.Wait()
}

func running(m visualizer.Model, service string) int {
	n := 0
	for _, node := range m.Nodes {
		for _, t := range node.Tasks {
			if t.Service == service && t.State == "running" {
				n++
			}
		}
	}
	return n
}

// benchVisualizer prints the visualizer's figures: on the bench daemon
// (made a swarm manager for the while), how long after `service scale` and after the last
// new task's container started the page is pushed the scaled service;
// then, against a canned Engine API of 3 nodes and 100 services × 10
// tasks, the server's memory and the latency of one task's change.
func benchVisualizer(bin string, env []string) error {
	out := func(args ...string) error {
		c := exec.Command("docker", args...)
		c.Env = env
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := out("swarm", "init", "--advertise-addr", addr, "--listen-addr", addr); err != nil {
		return err
	}
	defer out("swarm", "leave", "--force") //nolint:errcheck // best effort
	v, err := startVisualizer(env, bin, "visualizer")
	if err != nil {
		return err
	}
	defer v.stop()
	if err := out("service", "create", "-d", "--name", "viz", "--replicas", "2", "--stop-grace-period", "1s", "busybox", "sleep", "1000"); err != nil {
		return err
	}
	defer out("service", "rm", "viz") //nolint:errcheck // best effort
	if _, err := v.waitFor(0, 60*time.Second, func(m visualizer.Model) bool { return running(m, "viz") == 2 }); err != nil {
		return fmt.Errorf("2 tasks of viz on the page: %w", err)
	}
	from := v.pushed()
	start := time.Now()
	if err := out("service", "scale", "-d", "viz=4"); err != nil {
		return err
	}
	at, err := v.waitFor(from, 60*time.Second, func(m visualizer.Model) bool { return running(m, "viz") == 4 })
	if err != nil {
		return fmt.Errorf("4 tasks of viz on the page: %w", err)
	}
	fmt.Printf("%-58s %12s %12s\n", "visualizer: service scale 2 → 4 until the page shows 4", ms(at.Sub(start)), "(figure)")
	// The engine's last container start of the scale-up.
	c := exec.Command("docker", "events", "--since", strconv.FormatInt(start.Add(-time.Second).Unix(), 10),
		"--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--filter", "type=container", "--filter", "event=start",
		"--filter", "label=com.docker.swarm.service.name=viz", "--format", "{{.TimeNano}}")
	c.Env = env
	b, err := c.Output()
	if err != nil {
		return fmt.Errorf("docker events: %w", err)
	}
	var last int64
	for _, f := range strings.Fields(string(b)) {
		if n, _ := strconv.ParseInt(f, 10, 64); n > last {
			last = n
		}
	}
	if last > 0 {
		fmt.Printf("%-58s %12s %12s\n", "visualizer: last new task's container start → page", ms(at.Sub(time.Unix(0, last))), "≤ 500 ms")
	}
	return benchVisualizerScale(bin, env)
}

// benchVisualizerScale runs the visualizer against a canned Engine API
// holding 1,000 tasks: its RSS with a page open, and how long one task's
// change (with its container event) takes to reach the page.
func benchVisualizerScale(bin string, env []string) error {
	api := newCannedSwarm(3, 100, 10)
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer api.close()
	host := "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	var envHost []string
	for _, e := range env {
		if !strings.HasPrefix(e, "BERTH_HOST=") && !strings.HasPrefix(e, "DOCKER_HOST=") {
			envHost = append(envHost, e)
		}
	}
	envHost = append(envHost, "BERTH_HOST="+host, "DOCKER_HOST="+host)
	for _, args := range [][]string{{bin, "visualizer"}, {filepath.Join(filepath.Dir(bin), "berth-visualizer")}} {
		if _, err := os.Stat(args[0]); err != nil {
			continue
		}
		v, err := startVisualizer(envHost, args...)
		if err != nil {
			return err
		}
		total := func(m visualizer.Model) int {
			n := 0
			for _, node := range m.Nodes {
				n += len(node.Tasks)
			}
			return n
		}
		if _, err := v.waitFor(0, 30*time.Second, func(m visualizer.Model) bool { return total(m) == 1000 }); err != nil {
			v.stop()
			return fmt.Errorf("1,000 tasks on the page: %w", err)
		}
		// One task goes from running to failed, the engine says so.
		var worst time.Duration
		for i := 0; i < 5; i++ {
			from := v.pushed()
			id, state := api.flip(i)
			start := time.Now()
			at, err := v.waitFor(from, 30*time.Second, func(m visualizer.Model) bool {
				for _, node := range m.Nodes {
					for _, t := range node.Tasks {
						if t.ID == id {
							return t.State == state
						}
					}
				}
				return false
			})
			if err != nil {
				v.stop()
				return fmt.Errorf("a task's change on the page: %w", err)
			}
			worst = max(worst, at.Sub(start))
		}
		time.Sleep(4 * time.Second) // a usage sampling round
		rss, anon := rssKB(v.cmd.Process.Pid), statusKB(v.cmd.Process.Pid, "RssAnon:")
		v.stop()
		name := filepath.Base(args[0])
		if len(args) > 1 {
			name += " " + args[1]
		}
		fmt.Printf("%-58s %12s %12s\n", name+", 1k tasks: a task's change → page (worst of 5)", ms(worst), "≤ 500 ms")
		fmt.Printf("%-58s %12s %12s\n", name+", 1k tasks: RSS, a page open", mb(rss), "(figure)")
		fmt.Printf("%-58s %12s %12s\n", name+", 1k tasks: anonymous RSS (not the binary)", mb(anon), "≤ 30 MB")
	}
	return nil
}

// cannedSwarm is an Engine API of nodes × services × tasks, enough for
// the visualizer: info, nodes, services, tasks, events and stats.
type cannedSwarm struct {
	mu     sync.Mutex
	info   system.Info
	nodes  []swarm.Node
	svcs   []swarm.Service
	tasks  []swarm.Task
	events chan events.Message
	done   chan struct{}
}

func newCannedSwarm(nodes, services, perService int) *cannedSwarm {
	c := &cannedSwarm{events: make(chan events.Message, 16), done: make(chan struct{})}
	c.info = system.Info{Name: "node0", NCPU: 2, Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "node0"}}
	for i := 0; i < nodes; i++ {
		n := swarm.Node{ID: fmt.Sprintf("node%d", i),
			Spec:        swarm.NodeSpec{Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityActive},
			Description: swarm.NodeDescription{Hostname: fmt.Sprintf("node%d", i), Resources: swarm.Resources{NanoCPUs: 2e9, MemoryBytes: 4 << 30}},
			Status:      swarm.NodeStatus{State: swarm.NodeStateReady}}
		if i == 0 {
			n.Spec.Role = swarm.NodeRoleManager
			n.ManagerStatus = &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable}
		}
		c.nodes = append(c.nodes, n)
	}
	now := time.Now()
	for s := 0; s < services; s++ {
		replicas := uint64(perService)
		id := fmt.Sprintf("service%03d", s)
		c.svcs = append(c.svcs, swarm.Service{ID: id,
			Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: fmt.Sprintf("svc%03d", s)},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox:latest"}}},
			ServiceStatus: &swarm.ServiceStatus{RunningTasks: replicas, DesiredTasks: replicas}})
		for t := 1; t <= perService; t++ {
			tid := fmt.Sprintf("task%03d%03d", s, t)
			c.tasks = append(c.tasks, swarm.Task{ID: tid, ServiceID: id, Slot: t, NodeID: c.nodes[(s*perService+t)%nodes].ID,
				DesiredState: swarm.TaskStateRunning,
				Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox:latest"},
					Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 1e8, MemoryBytes: 50 << 20}}},
				Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Timestamp: now, Message: "started",
					ContainerStatus: &swarm.ContainerStatus{ContainerID: "c" + tid}}})
		}
	}
	return c
}

// flip changes the i-th task's state (running ↔ failed), publishes its
// container's event and returns the task and its new state.
func (c *cannedSwarm) flip(i int) (string, string) {
	c.mu.Lock()
	t := &c.tasks[i*97%len(c.tasks)]
	action := events.ActionDie
	if t.Status.State == swarm.TaskStateRunning {
		t.Status.State = swarm.TaskStateFailed
	} else {
		t.Status.State, action = swarm.TaskStateRunning, events.ActionStart
	}
	t.Status.Timestamp = time.Now()
	id, state := t.ID, string(t.Status.State)
	cid := t.Status.ContainerStatus.ContainerID
	c.mu.Unlock()
	c.events <- events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: cid}, Scope: "local",
		Time: time.Now().Unix(), TimeNano: time.Now().UnixNano()}
	return id, state
}

func (c *cannedSwarm) close() { close(c.done) }

func (c *cannedSwarm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/v1.") {
		if i := strings.Index(p[1:], "/"); i > 0 {
			p = p[i+1:]
		}
	}
	w.Header().Set("Api-Version", "1.51")
	w.Header().Set("Content-Type", "application/json")
	reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case p == "/_ping":
		_, _ = w.Write([]byte("OK"))
	case p == "/info":
		reply(c.info)
	case p == "/nodes":
		reply(c.nodes)
	case p == "/services":
		reply(c.svcs)
	case p == "/tasks":
		reply(c.tasks)
	case strings.HasSuffix(p, "/stats"):
		reply(map[string]any{"memory_stats": map[string]any{"usage": 4 << 20, "limit": 50 << 20}})
	case p == "/events":
		c.mu.Unlock()
		defer c.mu.Lock()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		for {
			select {
			case m := <-c.events:
				_ = enc.Encode(m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			case <-c.done:
				return
			}
		}
	default:
		http.Error(w, `{"message":"page not found"}`, http.StatusNotFound)
	}
}
