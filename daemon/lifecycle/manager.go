// Package lifecycle is the container lifecycle: create, start, the exit
// monitor, attach, exec, stop, kill, wait, pause and remove, restart
// policies and what the engine does with containers when it starts again
// (restore). Its Manager owns the running tasks, the attach sessions waiting
// for a start, the exec instances and the restart managers; it is built
// from the stores, the runtime, the network manager, the spec generator and
// the event bus, which it is given, and never reaches back into the root
// daemon package (the Engine API facade that calls it). Its methods take a
// container by name or ID, as the Engine API and an executor address it.
//
// Decisions are kept apart from their effects: planExit (after an exit)
// and planRestore (at start-up) are pure functions from a container's
// state, its exit, its policy and the daemon's shutdown to a plan, which a
// small apply step carries out.
package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	apievents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/events"
	"github.com/berth-project/berth/daemon/image"
	bnet "github.com/berth-project/berth/daemon/network"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/spec"
	"github.com/berth-project/berth/daemon/snapshot"
	"github.com/berth-project/berth/daemon/volume"
)

// Config is what a Manager is built from: the engine's stores and
// services, which it uses but does not own (the caller opens and closes
// them).
type Config struct {
	// ContainersDir holds one directory per container.
	ContainersDir string
	// CgroupParent is the cgroup parent of the containers.
	CgroupParent string
	Images       *image.Store
	Snapshots    *snapshot.Snapshotter
	Containers   *container.Store
	Volumes      *volume.Store
	Runtime      *runtime.Runtime
	Specs        *spec.Generator
	Network      *bnet.Manager
	Events       *events.Bus
	Log          *slog.Logger
}

// Manager drives containers through their lifecycle.
type Manager struct {
	cfg        Config
	log        *slog.Logger
	images     *image.Store
	snaps      *snapshot.Snapshotter
	containers *container.Store
	volumes    *volume.Store
	rt         *runtime.Runtime
	specs      *spec.Generator
	net        *bnet.Manager
	events     *events.Bus

	mu    sync.Mutex
	tasks map[string]*runtime.Task // container ID → running task
	// pending holds attach sessions waiting for their container to start.
	pending map[string]*pendingAttach
	execs   *execStore
	// restarts holds the restart manager of each container that has a
	// restart policy and has been started.
	restarts map[string]*container.RestartManager
	// starting holds a channel, closed when done, for each container
	// whose start (an API start or a policy restart) is under way;
	// removing marks containers being removed. Together they keep a
	// removal from tearing down a container while a start sets it up.
	starting map[string]chan struct{}
	removing map[string]bool
	// tmpMountMu serialises temporary rootfs mounts of stopped containers
	// (cp, export) so two never share an overlay work dir.
	tmpMountMu sync.Mutex
	// shutdown is set by Shutdown: exits seen after it belong to the next
	// daemon.
	shutdown bool
}

// New builds a Manager. It does not touch any container until Restore.
func New(cfg Config) *Manager {
	return &Manager{
		cfg:        cfg,
		log:        cfg.Log,
		images:     cfg.Images,
		snaps:      cfg.Snapshots,
		containers: cfg.Containers,
		volumes:    cfg.Volumes,
		rt:         cfg.Runtime,
		specs:      cfg.Specs,
		net:        cfg.Network,
		events:     cfg.Events,
		tasks:      map[string]*runtime.Task{},
		pending:    map[string]*pendingAttach{},
		execs:      newExecStore(),
		restarts:   map[string]*container.RestartManager{},
		starting:   map[string]chan struct{}{},
		removing:   map[string]bool{},
	}
}

// Shutdown stops applying exits: the containers keep running (live
// restore) and the shims keep their exit statuses for the next daemon.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.shutdown = true
	m.mu.Unlock()
}

// HasTask reports whether the container has a running task.
func (m *Manager) HasTask(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tasks[id] != nil
}

// ExecIDs lists the exec instances the manager still holds for a container.
func (m *Manager) ExecIDs(containerID string) []string {
	m.execs.mu.Lock()
	defer m.execs.mu.Unlock()
	var ids []string
	for _, e := range m.execs.execs {
		if e.containerID == containerID {
			ids = append(ids, e.id)
		}
	}
	return ids
}

// emit publishes an event about an object.
func (m *Manager) emit(typ apievents.Type, action apievents.Action, id string, attrs map[string]string) {
	m.events.Emit(typ, action, id, attrs)
}

// netAPI is the network package's Engine API side over this manager's
// networking and containers.
func (m *Manager) netAPI() *bnet.API {
	return &bnet.API{Manager: m.net, Containers: m.containers, Emit: m.emit, Log: m.log}
}

// setupNetworking gives a starting container its network namespace path
// and sandbox (see bnet.API.SetupContainer).
func (m *Manager) setupNetworking(ctx context.Context, c *container.Container) (string, *bnet.Sandbox, error) {
	return m.netAPI().SetupContainer(ctx, c)
}

// teardownNetworking removes a stopped container's network.
func (m *Manager) teardownNetworking(ctx context.Context, c *container.Container) {
	m.netAPI().TeardownContainer(ctx, c)
}

// IsRunning reports whether the container's record says it runs.
func IsRunning(c *container.Container) bool {
	c.Lock()
	defer c.Unlock()
	return c.State.Running
}

var errNotRunning = errors.New("not running")
