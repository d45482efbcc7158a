// Package daemon is berth's composition root: it opens the stores (images,
// snapshots, containers, volumes), the container runtime and the event bus,
// wires them together and implements the Engine API backend
// (api/server.Backend) on top of them.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/api/types/mount"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/daemon/build"
	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/image"
	bnet "github.com/berth-project/berth/daemon/network"
	"github.com/berth-project/berth/daemon/registry"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/snapshot"
	"github.com/berth-project/berth/daemon/volume"
)

// Version is berth's own version, reported by /version.
const Version = "0.1.0"

// Config holds the daemon's settings (flags of `berth daemon`).
type Config struct {
	DataRoot     string // persistent state, default /var/lib/berth
	ExecRoot     string // runtime state, default /run/berth
	CgroupParent string // cgroup parent for containers, default "berth"
	// Executable re-exec'd as the container init and the shim; empty means
	// os.Executable().
	Executable string
	// Bridge names the default bridge network's link (--bridge, default
	// berth0); two daemons on one host need different ones.
	Bridge string
	// BIP is the default bridge's gateway address and prefix (--bip).
	BIP netip.Prefix
	// Registry holds the registry settings (insecure registries, mirrors,
	// certs.d dirs).
	Registry registry.Config
}

// Daemon is the engine. It implements server.Backend.
type Daemon struct {
	cfg        Config
	log        *slog.Logger
	db         *bolt.DB
	images     *image.Store
	snaps      *snapshot.Snapshotter
	containers *container.Store
	volumes    *volume.Store
	builder    *build.Builder
	rt         *runtime.Runtime
	net        *bnet.Manager
	reg        *registry.Client
	events     *eventBus
	started    time.Time

	mu    sync.Mutex
	tasks map[string]*runtime.Task // container ID → running task
	// pending holds attach sessions waiting for their container to start.
	pending map[string]*pendingAttach
	execs   *execStore
	// restarts holds the restart manager of each container that has a
	// restart policy and has been started.
	restarts map[string]*container.RestartManager
	// tmpMountMu serialises temporary rootfs mounts of stopped containers
	// (cp, export) so two never share an overlay work dir.
	tmpMountMu sync.Mutex
	// shutdown is set by Close: exits seen after it belong to the next daemon.
	shutdown bool
}

var _ server.Backend = (*Daemon)(nil)

// New opens (or creates) the daemon's state and restores containers that
// were running when it last stopped.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Daemon, error) {
	if cfg.DataRoot == "" {
		cfg.DataRoot = "/var/lib/berth"
	}
	if cfg.ExecRoot == "" {
		cfg.ExecRoot = "/run/berth"
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "berth"
	}
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot, filepath.Join(cfg.DataRoot, "containers")} {
		if err := os.MkdirAll(dir, 0o710); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	db, err := bolt.Open(filepath.Join(cfg.DataRoot, "meta.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w (is another daemon using %s?)", err, cfg.DataRoot)
	}
	d := &Daemon{
		cfg:      cfg,
		log:      log,
		db:       db,
		events:   newEventBus(),
		started:  time.Now(),
		tasks:    map[string]*runtime.Task{},
		execs:    newExecStore(),
		restarts: map[string]*container.RestartManager{},
	}
	fail := func(err error) (*Daemon, error) {
		db.Close()
		return nil, err
	}
	if d.snaps, err = snapshot.New(filepath.Join(cfg.DataRoot, "snapshots")); err != nil {
		return fail(fmt.Errorf("open snapshots: %w", err))
	}
	if d.images, err = image.New(cfg.DataRoot, db, d.snaps, log); err != nil {
		return fail(fmt.Errorf("open image store: %w", err))
	}
	if d.builder, err = d.newBuilder(); err != nil {
		return fail(fmt.Errorf("open builder: %w", err))
	}
	if d.containers, err = container.New(filepath.Join(cfg.DataRoot, "containers")); err != nil {
		return fail(fmt.Errorf("open container store: %w", err))
	}
	if d.volumes, err = volume.New(filepath.Join(cfg.DataRoot, "volumes")); err != nil {
		return fail(fmt.Errorf("open volume store: %w", err))
	}
	if d.rt, err = runtime.New(filepath.Join(cfg.ExecRoot, "runtime"), log, runtimeOptions(cfg)...); err != nil {
		return fail(fmt.Errorf("open runtime: %w", err))
	}
	if d.net, err = bnet.New(ctx, bnet.Config{
		DB: db, Log: log, StateDir: filepath.Join(cfg.ExecRoot, "netns"),
		DefaultBridge: cfg.Bridge, DefaultCIDR: cfg.BIP,
	}); err != nil {
		return fail(fmt.Errorf("open networking: %w", err))
	}
	d.reg = registry.New(cfg.Registry, log)
	d.restore(ctx)
	d.net.Reconcile(ctx, func(id string) bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.tasks[id] != nil
	})
	return d, nil
}

// Close stops watching containers and closes the stores. Containers keep
// running (live restore): the next daemon re-attaches to them.
func (d *Daemon) Close() error {
	d.mu.Lock()
	d.shutdown = true
	d.mu.Unlock()
	d.events.close()
	d.rt.Close()
	if err := d.net.Close(); err != nil {
		d.log.Warn("close networking", "err", err)
	}
	d.removeEmptyCgroupParent()
	return d.db.Close()
}

// removeEmptyCgroupParent removes the daemon's cgroup parent in every
// hierarchy where no container is left (a live container keeps it).
func (d *Daemon) removeEmptyCgroupParent() {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", d.cfg.CgroupParent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", d.cfg.CgroupParent))
	for _, dir := range dirs {
		_ = os.Remove(dir) // fails, harmlessly, while containers remain
	}
}

// restore re-attaches to containers that were running when the daemon
// stopped, records the real exit of those that ended meanwhile, and starts
// containers whose restart policy asks for it.
func (d *Daemon) restore(ctx context.Context) {
	// Volume references live in memory: rebuild them from the containers.
	for _, c := range d.containers.List() {
		c.Lock()
		for _, mp := range c.MountPoints {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				d.volumes.Ref(mp.Name, c.ID)
			}
		}
		c.Unlock()
	}
	for _, c := range d.containers.List() {
		c.Lock()
		running := c.State.Running || c.State.Paused || c.State.Restarting
		c.Unlock()
		c.Lock()
		removing := c.State.RemovalInProgress
		c.Unlock()
		if removing {
			d.log.Warn("container removal was interrupted, removing", "id", c.ID)
			_ = d.removeContainer(ctx, c, true, false)
			continue
		}
		if running {
			task, err := d.rt.Restore(ctx, c.ID)
			if err != nil {
				d.log.Warn("restore container", "id", c.ID, "err", err)
				d.markStopped(c, 128+9, false, time.Now(), fmt.Sprintf("container lost while the daemon was down: %v", err))
				d.rt.Forget(c.ID)
				d.cleanupAfterExit(ctx, c)
				d.maybeRestartAfterBoot(ctx, c)
				continue
			}
			d.mu.Lock()
			d.tasks[c.ID] = task
			d.mu.Unlock()
			if c.HostConfig != nil && !c.HostConfig.RestartPolicy.IsNone() {
				d.mu.Lock()
				d.restarts[c.ID] = container.NewRestartManager(c.HostConfig.RestartPolicy, c.RestartCount)
				d.mu.Unlock()
			}
			go d.monitor(c, task)
			continue
		}
		d.maybeRestartAfterBoot(ctx, c)
	}
}

// maybeRestartAfterBoot starts a stopped container whose policy is always
// (or unless-stopped and it was not stopped by hand), as dockerd does at
// start-up.
func (d *Daemon) maybeRestartAfterBoot(ctx context.Context, c *container.Container) {
	c.Lock()
	hc := c.HostConfig
	manual := c.HasBeenManuallyStopped
	c.Unlock()
	if hc == nil {
		return
	}
	p := hc.RestartPolicy
	if p.IsAlways() || (p.IsUnlessStopped() && !manual) {
		if err := d.startContainer(ctx, c); err != nil {
			d.log.Warn("restart container at boot", "id", c.ID, "err", err)
		}
	}
}

func isRunning(c *container.Container) bool {
	c.Lock()
	defer c.Unlock()
	return c.State.Running
}

var errNotRunning = errors.New("not running")

func runtimeOptions(cfg Config) []runtime.Option {
	if cfg.Executable == "" {
		return nil
	}
	return []runtime.Option{runtime.WithExecutable(cfg.Executable)}
}
