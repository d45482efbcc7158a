package visualizer

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// fakeAPI is a canned engine: what it answers can change under a lock,
// and Events hands out a channel the test sends on.
type fakeAPI struct {
	mu         sync.Mutex
	info       system.Info
	nodes      []swarm.Node
	services   []swarm.Service
	tasks      []swarm.Task
	containers []container.Summary
	stats      map[string]string
	down       error // every call fails with it
	events     chan events.Message
}

func (f *fakeAPI) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeAPI) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	if err := f.fail(); err != nil {
		return client.SystemInfoResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.SystemInfoResult{Info: f.info}, nil
}

func (f *fakeAPI) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.NodeListResult{Items: append([]swarm.Node(nil), f.nodes...)}, f.down
}

func (f *fakeAPI) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.ServiceListResult{Items: append([]swarm.Service(nil), f.services...)}, f.down
}

func (f *fakeAPI) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.TaskListResult{Items: append([]swarm.Task(nil), f.tasks...)}, f.down
}

func (f *fakeAPI) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.ContainerListResult{Items: append([]container.Summary(nil), f.containers...)}, f.down
}

func (f *fakeAPI) ContainerStats(_ context.Context, id string, _ client.ContainerStatsOptions) (client.ContainerStatsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.stats[id]
	if !ok {
		return client.ContainerStatsResult{}, errors.New("no such container")
	}
	return client.ContainerStatsResult{Body: io.NopCloser(strings.NewReader(s))}, nil
}

func (f *fakeAPI) Events(ctx context.Context, _ client.EventsListOptions) client.EventsResult {
	errs := make(chan error, 1)
	if err := f.fail(); err != nil {
		errs <- err
		return client.EventsResult{Messages: make(chan events.Message), Err: errs}
	}
	out := make(chan events.Message)
	go func() {
		for {
			select {
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			case m := <-f.events:
				select {
				case out <- m:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}
	}()
	return client.EventsResult{Messages: out, Err: errs}
}

var since = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func replicated(n uint64) swarm.ServiceMode {
	return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}
}

func task(id, service, node string, slot int, state, desired swarm.TaskState) swarm.Task {
	return swarm.Task{
		ID: id, ServiceID: service, NodeID: node, Slot: slot, DesiredState: desired,
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox:latest@sha256:abcd"}},
		Status: swarm.TaskStatus{State: state, Timestamp: since,
			ContainerStatus: &swarm.ContainerStatus{ContainerID: "c-" + id}},
	}
}

// twoNodes is a manager (the local daemon) and a worker, a web service
// of 3 replicas with limits and a global agent.
func twoNodes() *fakeAPI {
	web := task("t1", "s-web", "n-mgr", 1, swarm.TaskStateRunning, swarm.TaskStateRunning)
	web.Spec.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 5e8, MemoryBytes: 64 << 20}}
	return &fakeAPI{
		info: system.Info{Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "n-mgr"}},
		nodes: []swarm.Node{
			{ID: "n-wrk", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityActive},
				Description: swarm.NodeDescription{Hostname: "worker1", Resources: swarm.Resources{NanoCPUs: 2e9, MemoryBytes: 1 << 30}},
				Status:      swarm.NodeStatus{State: swarm.NodeStateDown}},
			{ID: "n-mgr", Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
				Description:   swarm.NodeDescription{Hostname: "manager1", Resources: swarm.Resources{NanoCPUs: 4e9, MemoryBytes: 2 << 30}},
				Status:        swarm.NodeStatus{State: swarm.NodeStateReady},
				ManagerStatus: &swarm.ManagerStatus{Leader: true}},
		},
		services: []swarm.Service{
			{ID: "s-web", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, Mode: replicated(3),
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox:latest@sha256:abcd"}}},
				ServiceStatus: &swarm.ServiceStatus{RunningTasks: 2, DesiredTasks: 3}},
			{ID: "s-agent", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "agent"}, Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}},
				ServiceStatus: &swarm.ServiceStatus{RunningTasks: 1, DesiredTasks: 2}},
		},
		tasks: []swarm.Task{
			task("t3", "s-web", "n-wrk", 3, swarm.TaskStateRunning, swarm.TaskStateRunning),
			web,
			task("t2", "s-web", "n-mgr", 2, swarm.TaskStatePreparing, swarm.TaskStateRunning),
			task("t0", "s-web", "n-mgr", 2, swarm.TaskStateFailed, swarm.TaskStateShutdown), // replaced: no card
			task("t9", "s-web", "", 4, swarm.TaskStatePending, swarm.TaskStateRunning),      // unassigned: no card
			task("ta", "s-agent", "n-mgr", 0, swarm.TaskStateRunning, swarm.TaskStateRunning),
		},
		stats: map[string]string{
			"c-t1": `{"cpu_stats":{"cpu_usage":{"total_usage":3000},"system_cpu_usage":20000,"online_cpus":2},
				"precpu_stats":{"cpu_usage":{"total_usage":1000},"system_cpu_usage":10000},
				"memory_stats":{"usage":10485760,"limit":67108864,"stats":{"inactive_file":1048576}}}`,
		},
		events: make(chan events.Message),
	}
}

func TestBuildSwarm(t *testing.T) {
	f := twoNodes()
	m, err := Build(context.Background(), f, map[string]Usage{"c-t1": {CPUPercent: 40, MemoryBytes: 9 << 20, MemoryLimit: 64 << 20}, "c-t3": {CPUPercent: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Swarm || m.Error != "" || !strings.Contains(m.UsageNote, "manager1") {
		t.Fatalf("model: %+v", m)
	}
	if len(m.Nodes) != 2 {
		t.Fatalf("nodes: %+v", m.Nodes)
	}
	mgr, wrk := m.Nodes[0], m.Nodes[1]
	if mgr.Hostname != "manager1" || !mgr.Leader || !mgr.Local || mgr.Role != "manager" || mgr.State != "ready" || mgr.NanoCPUs != 4e9 || mgr.MemoryBytes != 2<<30 {
		t.Errorf("manager column: %+v", mgr)
	}
	if wrk.Hostname != "worker1" || wrk.Leader || wrk.Local || wrk.State != "down" || wrk.Availability != "active" {
		t.Errorf("worker column: %+v", wrk)
	}
	var names []string
	for _, tk := range mgr.Tasks {
		names = append(names, tk.Name+"="+tk.State)
	}
	if got, want := strings.Join(names, " "), "agent.manager1=running web.1=running web.2=preparing"; got != want {
		t.Errorf("manager's tasks: %s, want %s", got, want)
	}
	web1 := mgr.Tasks[1]
	if web1.Image != "busybox:latest" || web1.Limits != (Limits{NanoCPUs: 5e8, MemoryBytes: 64 << 20}) ||
		web1.Usage == nil || web1.Usage.CPUPercent != 40 || !web1.Since.Equal(since) || web1.ContainerID != "c-t1" {
		t.Errorf("web.1: %+v", web1)
	}
	if mgr.Tasks[2].Usage != nil {
		t.Errorf("a preparing task has usage: %+v", mgr.Tasks[2])
	}
	if len(wrk.Tasks) != 1 || wrk.Tasks[0].Name != "web.3" || wrk.Tasks[0].Usage != nil {
		t.Errorf("worker's tasks (usage only on the local node): %+v", wrk.Tasks)
	}
	if len(m.Services) != 2 || m.Services[0].Name != "agent" || m.Services[0].Mode != "global" ||
		m.Services[1].Name != "web" || m.Services[1].Running != 2 || m.Services[1].Desired != 3 || m.Services[1].Image != "busybox:latest" {
		t.Errorf("services: %+v", m.Services)
	}
	if m.Services[1].Color != Color("web") || m.Services[0].Color == m.Services[1].Color {
		t.Errorf("colours: %+v", m.Services)
	}
}

func TestBuildStandalone(t *testing.T) {
	f := &fakeAPI{
		info: system.Info{ID: "d1", Name: "box", NCPU: 2, MemTotal: 4 << 30},
		containers: []container.Summary{
			{ID: "bbbbbbbbbbbbbbbb", Names: []string{"/web"}, Image: "nginx", State: "running", Status: "Up 2 minutes", Created: since.Unix()},
			{ID: "aaaaaaaaaaaaaaaa", Names: []string{"/db"}, Image: "postgres", State: "exited", Status: "Exited (0) 1 minute ago", Created: since.Unix(),
				Labels: map[string]string{"com.docker.compose.project": "shop"}},
		},
	}
	m, err := Build(context.Background(), f, map[string]Usage{"bbbbbbbbbbbbbbbb": {MemoryBytes: 1 << 20, MemoryLimit: 4 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Swarm || len(m.Nodes) != 1 {
		t.Fatalf("model: %+v", m)
	}
	n := m.Nodes[0]
	if n.Hostname != "box" || n.Role != "standalone" || n.NanoCPUs != 2e9 || !n.Local || len(n.Tasks) != 2 {
		t.Fatalf("node: %+v", n)
	}
	db, web := n.Tasks[0], n.Tasks[1]
	if db.Name != "db" || db.Service != "shop" || db.State != "exited" || db.Usage != nil || db.Message != "Exited (0) 1 minute ago" {
		t.Errorf("db: %+v", db)
	}
	if web.Name != "web" || web.Usage == nil || web.Limits.MemoryBytes != 0 {
		t.Errorf("web (host memory is no limit): %+v", web)
	}
	if len(m.Services) != 2 || m.Services[0].Name != "shop" || m.Services[0].Running != 0 || m.Services[1].Running != 1 {
		t.Errorf("services: %+v", m.Services)
	}
}

func TestBuildError(t *testing.T) {
	f := &fakeAPI{down: errors.New("Cannot connect to the Docker daemon")}
	if _, err := Build(context.Background(), f, nil); err == nil || !strings.Contains(err.Error(), "read daemon info: Cannot connect") {
		t.Fatalf("error: %v", err)
	}
}

func TestUsageOf(t *testing.T) {
	f := twoNodes()
	u, err := sample(context.Background(), f, "c-t1")
	if err != nil {
		t.Fatal(err)
	}
	// 2000/10000 of the machine's 2 CPUs; 10 MiB less 1 MiB inactive.
	if u.CPUPercent != 40 || u.MemoryBytes != 9<<20 || u.MemoryLimit != 64<<20 {
		t.Fatalf("usage: %+v", u)
	}
	if _, err := sample(context.Background(), f, "gone"); err == nil {
		t.Fatal("stats of a missing container succeeded")
	}
}

func TestRelevant(t *testing.T) {
	for _, tc := range []struct {
		m    events.Message
		want bool
	}{
		{events.Message{Type: events.ContainerEventType, Action: events.ActionStart}, true},
		{events.Message{Type: events.ContainerEventType, Action: events.ActionDie}, true},
		{events.Message{Type: events.ContainerEventType, Action: events.ActionExecStart}, false},
		{events.Message{Type: events.ServiceEventType, Action: events.ActionUpdate}, true},
		{events.Message{Type: events.NodeEventType, Action: events.ActionUpdate}, true},
		{events.Message{Type: events.ImageEventType, Action: events.ActionPull}, false},
	} {
		if got := relevant(tc.m); got != tc.want {
			t.Errorf("relevant(%s %s) = %v", tc.m.Type, tc.m.Action, got)
		}
	}
}

func TestBuildWorker(t *testing.T) {
	f := &fakeAPI{info: system.Info{Name: "w1", Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, NodeID: "n1"}}}
	m, err := Build(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Swarm || len(m.Nodes) != 1 || !strings.Contains(m.UsageNote, "swarm worker") {
		t.Fatalf("model on a worker: %+v", m)
	}
}
