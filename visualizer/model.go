// Package visualizer is `berth visualizer`: a live web page of a swarm's
// nodes and the tasks on each (or, on a daemon outside a swarm, of that
// daemon's containers). It talks to the engine only through the public
// Engine API (github.com/moby/moby/client), so it works against a berth
// daemon or Docker's. This file builds the model the page shows; watch.go
// keeps it current by following /events, server.go serves it.
package visualizer

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// API is the part of the Engine API client the visualizer uses
// (client.APIClient satisfies it).
type API interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	NodeList(ctx context.Context, options client.NodeListOptions) (client.NodeListResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerStats(ctx context.Context, containerID string, options client.ContainerStatsOptions) (client.ContainerStatsResult, error)
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}

// Model is everything the page shows, as /api/model answers it.
type Model struct {
	// Swarm is false on a daemon outside a swarm: Nodes then holds one
	// node, the daemon itself, whose tasks are its containers.
	Swarm bool `json:"swarm"`
	// Error says why the daemon could not be read; the rest is then the
	// last model read (Stale), or empty.
	Error    string    `json:"error,omitempty"`
	Stale    bool      `json:"stale,omitempty"`
	Nodes    []Node    `json:"nodes"`
	Services []Service `json:"services"`
	// UsageNote says where live usage comes from (only the daemon the
	// visualizer talks to: other nodes' tasks show limits only).
	UsageNote string `json:"usageNote,omitempty"`
}

// Node is one column: a swarm node, or the standalone daemon.
type Node struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	Role         string `json:"role"`
	Leader       bool   `json:"leader"`
	Availability string `json:"availability"`
	State        string `json:"state"`
	NanoCPUs     int64  `json:"nanoCPUs"`
	MemoryBytes  int64  `json:"memoryBytes"`
	// Local is the node of the daemon the visualizer talks to: its tasks
	// carry live usage.
	Local bool   `json:"local"`
	Tasks []Task `json:"tasks"`
}

// Task is one card: a swarm task, or a standalone container.
type Task struct {
	ID          string    `json:"id"`
	ServiceID   string    `json:"serviceID,omitempty"`
	Name        string    `json:"name"` // service.slot (service.node for global tasks), or the container name
	Service     string    `json:"service"`
	Slot        int       `json:"slot,omitempty"`
	Image       string    `json:"image"`
	State       string    `json:"state"`
	Desired     string    `json:"desired,omitempty"`
	Message     string    `json:"message,omitempty"`
	Since       time.Time `json:"since"`
	ContainerID string    `json:"containerID,omitempty"`
	Limits      Limits    `json:"limits"`
	// Usage is the live sample, nil when there is none (a task on
	// another node, a container not running, or not sampled yet).
	Usage *Usage `json:"usage,omitempty"`
}

// Limits are a task's CPU and memory limits (0: none).
type Limits struct {
	NanoCPUs    int64 `json:"nanoCPUs"`
	MemoryBytes int64 `json:"memoryBytes"`
}

// Usage is one stats sample of a task's container.
type Usage struct {
	CPUPercent  float64 `json:"cpuPercent"`
	MemoryBytes int64   `json:"memoryBytes"`
	MemoryLimit int64   `json:"memoryLimit"`
}

// Service is one entry of the summary, with the colour its cards carry.
type Service struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Mode    string `json:"mode"`
	Image   string `json:"image"`
	Color   string `json:"color"`
	Running uint64 `json:"running"`
	Desired uint64 `json:"desired"`
}

// Color is a service's colour, the same for a name on every load.
func Color(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return fmt.Sprintf("hsl(%d, 65%%, 42%%)", h.Sum32()%360)
}

// Build reads the daemon and returns the model, with usage samples taken
// from usage (by container ID) for the tasks on the local node.
func Build(ctx context.Context, api API, usage map[string]Usage) (Model, error) {
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Model{}, fmt.Errorf("read daemon info: %w", err)
	}
	if info.Info.Swarm.LocalNodeState != swarm.LocalNodeStateActive || !info.Info.Swarm.ControlAvailable {
		m, err := buildStandalone(ctx, api, info, usage)
		if err == nil && info.Info.Swarm.LocalNodeState == swarm.LocalNodeStateActive {
			m.UsageNote = "This daemon is a swarm worker: only its own containers are shown. Point the visualizer at a manager to see the swarm."
		}
		return m, err
	}
	return buildSwarm(ctx, api, info.Info.Swarm.NodeID, usage)
}

func buildSwarm(ctx context.Context, api API, localID string, usage map[string]Usage) (Model, error) {
	nodes, err := api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return Model{}, fmt.Errorf("list nodes: %w", err)
	}
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Status: true})
	if err != nil {
		return Model{}, fmt.Errorf("list services: %w", err)
	}
	tasks, err := api.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return Model{}, fmt.Errorf("list tasks: %w", err)
	}
	m := Model{Swarm: true, Nodes: []Node{}, Services: []Service{}}
	names := map[string]string{}
	for _, s := range services.Items {
		names[s.ID] = s.Spec.Name
		svc := Service{ID: s.ID, Name: s.Spec.Name, Mode: mode(s.Spec.Mode), Color: Color(s.Spec.Name)}
		if s.Spec.TaskTemplate.ContainerSpec != nil {
			svc.Image = shortImage(s.Spec.TaskTemplate.ContainerSpec.Image)
		}
		if s.ServiceStatus != nil {
			svc.Running, svc.Desired = s.ServiceStatus.RunningTasks, s.ServiceStatus.DesiredTasks
		}
		m.Services = append(m.Services, svc)
	}
	sort.Slice(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
	index := map[string]int{}
	for _, n := range nodes.Items {
		node := Node{
			ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role),
			Availability: string(n.Spec.Availability), State: string(n.Status.State),
			NanoCPUs: n.Description.Resources.NanoCPUs, MemoryBytes: n.Description.Resources.MemoryBytes,
			Leader: n.ManagerStatus != nil && n.ManagerStatus.Leader, Local: n.ID == localID,
			Tasks: []Task{},
		}
		m.Nodes = append(m.Nodes, node)
	}
	sort.Slice(m.Nodes, func(i, j int) bool {
		a, b := m.Nodes[i], m.Nodes[j]
		if a.Role != b.Role {
			return a.Role == string(swarm.NodeRoleManager)
		}
		return a.Hostname < b.Hostname
	})
	for i, n := range m.Nodes {
		index[n.ID] = i
		if n.Local {
			m.UsageNote = "Live CPU and memory usage is shown for tasks on " + n.Hostname +
				" (the daemon this visualizer talks to); tasks on other nodes show their limits only."
		}
	}
	for _, t := range tasks.Items {
		if !shown(t) {
			continue
		}
		i, ok := index[t.NodeID]
		if !ok {
			continue // not yet assigned: counted in the summary only
		}
		task := Task{
			ID: t.ID, ServiceID: t.ServiceID, Service: names[t.ServiceID], Slot: t.Slot,
			State: string(t.Status.State), Desired: string(t.DesiredState), Message: t.Status.Message,
			Since: t.Status.Timestamp,
		}
		if task.Service == "" {
			task.Service = t.ServiceID
		}
		if t.Status.Err != "" {
			task.Message = t.Status.Err
		}
		if t.Slot > 0 {
			task.Name = fmt.Sprintf("%s.%d", task.Service, t.Slot)
		} else {
			task.Name = task.Service + "." + m.Nodes[i].Hostname
		}
		if cs := t.Spec.ContainerSpec; cs != nil {
			task.Image = shortImage(cs.Image)
		}
		if r := t.Spec.Resources; r != nil && r.Limits != nil {
			task.Limits = Limits{NanoCPUs: r.Limits.NanoCPUs, MemoryBytes: r.Limits.MemoryBytes}
		}
		if cs := t.Status.ContainerStatus; cs != nil {
			task.ContainerID = cs.ContainerID
		}
		if m.Nodes[i].Local && task.ContainerID != "" && task.State == string(swarm.TaskStateRunning) {
			if u, ok := usage[task.ContainerID]; ok {
				task.Usage = &u
			}
		}
		m.Nodes[i].Tasks = append(m.Nodes[i].Tasks, task)
	}
	for _, n := range m.Nodes {
		sort.Slice(n.Tasks, func(a, b int) bool {
			x, y := n.Tasks[a], n.Tasks[b]
			if x.Service != y.Service {
				return x.Service < y.Service
			}
			if x.Slot != y.Slot {
				return x.Slot < y.Slot
			}
			return x.ID < y.ID
		})
	}
	return m, nil
}

// shown is whether a task gets a card: it is meant to run (or has not
// yet been told to stop), so a scaled-down or replaced task goes away.
func shown(t swarm.Task) bool {
	switch t.DesiredState {
	case swarm.TaskStateShutdown, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return false
	}
	return true
}

func mode(m swarm.ServiceMode) string {
	switch {
	case m.Global != nil:
		return "global"
	case m.ReplicatedJob != nil:
		return "replicated job"
	case m.GlobalJob != nil:
		return "global job"
	}
	return "replicated"
}

// shortImage drops the digest a service's image is pinned to.
func shortImage(ref string) string {
	if i := strings.Index(ref, "@sha256:"); i > 0 {
		return ref[:i]
	}
	return ref
}

func buildStandalone(ctx context.Context, api API, info client.SystemInfoResult, usage map[string]Usage) (Model, error) {
	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return Model{}, fmt.Errorf("list containers: %w", err)
	}
	node := Node{
		ID: info.Info.ID, Hostname: info.Info.Name, Role: "standalone", Availability: "active", State: "ready",
		NanoCPUs: int64(info.Info.NCPU) * 1e9, MemoryBytes: info.Info.MemTotal, Local: true, Tasks: []Task{},
	}
	m := Model{Swarm: false, Services: []Service{},
		UsageNote: "This daemon is not in a swarm: its containers are shown, with live usage for the running ones."}
	for _, c := range list.Items {
		name := c.ID
		if len(name) > 12 {
			name = name[:12]
		}
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		service := name
		if p := c.Labels["com.docker.compose.project"]; p != "" {
			service = p
		}
		t := Task{ID: c.ID, Name: name, Service: service, Image: shortImage(c.Image), State: string(c.State),
			Message: c.Status, Since: time.Unix(c.Created, 0).UTC(), ContainerID: c.ID}
		if u, ok := usage[c.ID]; ok && c.State == "running" {
			t.Usage = &u
			t.Limits.MemoryBytes = u.MemoryLimit
			if t.Limits.MemoryBytes >= node.MemoryBytes && node.MemoryBytes > 0 {
				t.Limits.MemoryBytes = 0 // the host's memory: no limit
			}
		}
		node.Tasks = append(node.Tasks, t)
	}
	sort.Slice(node.Tasks, func(i, j int) bool { return node.Tasks[i].Name < node.Tasks[j].Name })
	counts := map[string]*Service{}
	for _, t := range node.Tasks {
		s, ok := counts[t.Service]
		if !ok {
			s = &Service{ID: t.Service, Name: t.Service, Mode: "container", Image: t.Image, Color: Color(t.Service)}
			counts[t.Service] = s
		}
		s.Desired++
		if t.State == "running" {
			s.Running++
		}
	}
	for _, s := range counts {
		m.Services = append(m.Services, *s)
	}
	sort.Slice(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
	m.Nodes = []Node{node}
	return m, nil
}

// RunningLocal lists the container IDs of m's running tasks on the local
// node: the ones to sample.
func (m Model) RunningLocal() []string {
	var ids []string
	for _, n := range m.Nodes {
		if !n.Local {
			continue
		}
		for _, t := range n.Tasks {
			if t.ContainerID != "" && t.State == "running" {
				ids = append(ids, t.ContainerID)
			}
		}
	}
	return ids
}
