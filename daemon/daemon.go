// Package daemon is berth's composition root: it opens the stores (images,
// snapshots, containers, volumes), the container runtime, networking and the
// event bus, builds the container lifecycle (daemon/lifecycle) over them,
// and implements the Engine API backend (api/backend.Backend) on top: the
// container and exec methods look the request up and call the lifecycle
// manager.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/build"
	"github.com/berth-project/berth/daemon/cluster"
	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/events"
	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/lifecycle"
	bnet "github.com/berth-project/berth/daemon/network"
	"github.com/berth-project/berth/daemon/registry"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/spec"
	"github.com/berth-project/berth/daemon/snapshot"
	"github.com/berth-project/berth/daemon/volume"
	"github.com/berth-project/berth/internal/version"
)

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
	// Socket is the unix socket the daemon's API listens on (the first
	// -H unix://): swarm tasks that bind-mount /var/run/docker.sock get
	// it instead. Empty: they get the host's path.
	Socket string
}

// Daemon is the engine. It implements backend.Backend.
type Daemon struct {
	// Cluster answers the swarm endpoints (daemon/cluster).
	backend.Cluster
	cluster *cluster.Cluster

	cfg        Config
	log        *slog.Logger
	db         *bolt.DB
	images     *image.Store
	snaps      *snapshot.Snapshotter
	containers *container.Store
	volumes    *volume.Store
	builder    *build.Builder
	rt         *runtime.Runtime
	specs      *spec.Generator // holds the default seccomp profile, built once
	net        *bnet.Manager
	reg        *registry.Client
	events     *events.Bus
	life       *lifecycle.Manager // the container lifecycle
	started    time.Time
}

var _ backend.Backend = (*Daemon)(nil)

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
		cfg:     cfg,
		log:     log,
		db:      db,
		events:  events.New(0),
		started: time.Now(),
		specs:   spec.NewGenerator(),
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
	regCfg := cfg.Registry
	regCfg.TempDir = filepath.Join(cfg.DataRoot, "tmp")
	if d.reg, err = registry.New(regCfg, log); err != nil {
		return fail(fmt.Errorf("open registry client: %w", err))
	}
	d.life = lifecycle.New(lifecycle.Config{
		ContainersDir: filepath.Join(cfg.DataRoot, "containers"),
		CgroupParent:  cfg.CgroupParent,
		Images:        d.images,
		Snapshots:     d.snaps,
		Containers:    d.containers,
		Volumes:       d.volumes,
		Runtime:       d.rt,
		Specs:         d.specs,
		Network:       d.net,
		Events:        d.events,
		Log:           log,
	})
	d.life.Restore(ctx)
	d.net.Reconcile(ctx, d.life.HasTask)
	d.cluster = cluster.New(cluster.Config{
		Root: filepath.Join(cfg.DataRoot, "swarm"), RuntimeRoot: filepath.Join(cfg.ExecRoot, "swarm"),
		Engine: d, Networks: swarmNetworks{net: d.net, log: log}, Mesh: d.net, Events: d.events, EngineSocket: cfg.Socket, Version: version.Version, Log: log,
	})
	d.Cluster = d.cluster
	if err := d.cluster.Start(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open swarm state: %w", err)
	}
	return d, nil
}

// Close stops watching containers and closes the stores. Containers keep
// running (live restore): the next daemon re-attaches to them.
func (d *Daemon) Close() error {
	if d.cluster != nil {
		d.cluster.Close()
	}
	d.life.Shutdown()
	d.events.Close()
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

// ShimBinary is the small binary (cmd/berth-shim) the daemon runs as the
// shim and the container init when it sits beside its own executable.
const ShimBinary = "berth-shim"

func runtimeOptions(cfg Config) []runtime.Option {
	exe := cfg.Executable
	if exe == "" {
		self, err := os.Executable()
		if err != nil {
			return nil
		}
		exe = self
		if small := filepath.Join(filepath.Dir(self), ShimBinary); isExecutable(small) {
			exe = small
		}
	}
	return []runtime.Option{runtime.WithExecutable(exe)}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
