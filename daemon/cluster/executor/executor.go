// Package executor runs the tasks SwarmKit assigns to this node as berth
// containers: one Controller per task, whose Prepare, Start, Wait,
// Shutdown, Terminate and Remove map one-to-one onto the engine's
// create, start, wait, stop, kill and remove. The engine is called
// in-process (Engine), never through the API socket.
package executor

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/swarmkit/v2/agent/exec"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/api/backend"
)

// Engine is what the executor needs of berth's engine: the daemon's own
// container and image services.
type Engine interface {
	ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, name string) error
	ContainerStop(ctx context.Context, name string, signal string, timeout *int) error
	ContainerKill(ctx context.Context, name string, signal string) error
	ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error
	ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error)
	ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error)
	ContainerLogs(ctx context.Context, name string, opts backend.LogsOptions, tty func(bool), write func(stream string, line []byte, t time.Time) error) error
	ContainerList(ctx context.Context, opts backend.ContainerListOptions) ([]container.Summary, error)
	ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error)
	ImagePull(ctx context.Context, ref, platform, auth string, out func(backend.ProgressMessage)) error
	ImageTag(ctx context.Context, source, repo, tag string) error
	ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]image.DeleteResponse, error)
	SystemInfo(ctx context.Context) (*system.Info, error)
	SubscribeEvents(ctx context.Context, since, until time.Time, f backend.Filters, live bool) (past []events.Message, future <-chan events.Message, cancel func())
}

// ImageFetcher brings images that no registry has from the swarm's other
// nodes (package cluster implements it over package imageshare).
type ImageFetcher interface {
	// FetchImage loads the image with ID id from another node, verified
	// to be that image, and says which node served it.
	FetchImage(ctx context.Context, id string) (node string, err error)
}

// Networks realises a task's network attachments on this node (package
// cluster implements it over berth's network manager).
type Networks interface {
	// Attach makes sure every network of the task exists on this node and
	// returns, in attachment order, the engine network and endpoint
	// settings for each.
	Attach(ctx context.Context, t *swarmapi.Task) ([]AttachedNetwork, error)
	// Release is told that a task no longer uses its networks: a network
	// no task uses any more may go.
	Release(ctx context.Context, t *swarmapi.Task)
}

// Executor implements exec.Executor for berth.
type Executor struct {
	engine   Engine
	networks Networks
	version  string
	socket   string // the engine's own API socket, for tasks that mount Docker's
	images   ImageFetcher

	mu    sync.Mutex
	node  *swarmapi.NodeDescription // as last described, for templates
	deps  exec.DependencyManager
	files *taskFiles
}

var _ exec.Executor = (*Executor)(nil)

// New returns an executor running tasks on engine; version is berth's.
// deps is where SwarmKit's agent keeps the secrets and configs of this
// node's tasks; filesRoot (in the daemon's exec root) is where their files
// are kept for the tasks' containers, a tmpfs per task for the secrets.
// socket is the path of the engine's own API socket: a task that
// bind-mounts Docker's socket (/var/run/docker.sock) gets it instead
// (none: the mount is left as it is). images fetches pinned images from
// other nodes (nil: none).
func New(engine Engine, networks Networks, version string, deps exec.DependencyManager, filesRoot, socket string, images ImageFetcher) *Executor {
	return &Executor{engine: engine, networks: networks, version: version, socket: socket, deps: deps, files: newTaskFiles(filesRoot), images: images}
}

// Describe implements exec.Executor: the node as the scheduler sees it.
func (e *Executor) Describe(ctx context.Context) (*swarmapi.NodeDescription, error) {
	info, err := e.engine.SystemInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe node: %w", err)
	}
	plugins := []swarmapi.PluginDescription{
		{Type: "Log", Name: "json-file"},
		{Type: "Network", Name: "bridge"},
		{Type: "Network", Name: "host"},
		{Type: "Network", Name: "null"},
		{Type: "Network", Name: "overlay"},
		{Type: "Volume", Name: "local"},
	}
	labels := map[string]string{}
	for _, l := range info.Labels {
		if k, v, ok := strings.Cut(l, "="); ok {
			labels[k] = v
		}
	}
	d := &swarmapi.NodeDescription{
		Hostname: info.Name,
		Platform: &swarmapi.Platform{Architecture: info.Architecture, OS: info.OSType},
		Resources: &swarmapi.Resources{
			NanoCPUs:    int64(info.NCPU) * 1e9,
			MemoryBytes: info.MemTotal,
		},
		Engine: &swarmapi.EngineDescription{EngineVersion: e.version, Labels: labels, Plugins: plugins},
	}
	if d.Platform.Architecture == "" {
		d.Platform.Architecture = goruntime.GOARCH
	}
	if d.Platform.OS == "" {
		d.Platform.OS = goruntime.GOOS
	}
	sort.Slice(d.Engine.Plugins, func(i, j int) bool {
		a, b := d.Engine.Plugins[i], d.Engine.Plugins[j]
		return a.Type+a.Name < b.Type+b.Name
	})
	e.mu.Lock()
	e.node = d.Copy()
	e.mu.Unlock()
	return d, nil
}

// Configure implements exec.Executor: the node's attachments (its
// load-balancer address on the ingress network) go to the networks.
func (e *Executor) Configure(ctx context.Context, node *swarmapi.Node) error {
	if nc, ok := e.networks.(NodeConfigurer); ok && node != nil {
		nc.ConfigureNode(ctx, node.Attachments)
	}
	return nil
}

// NodeConfigurer is told the node's own network attachments (its
// load-balancer address on the ingress network) whenever they change.
type NodeConfigurer interface {
	ConfigureNode(ctx context.Context, atts []*swarmapi.NetworkAttachment)
}

// Controller implements exec.Executor.
func (e *Executor) Controller(t *swarmapi.Task) (exec.Controller, error) {
	if t.Spec.GetContainer() == nil {
		return nil, exec.ErrRuntimeUnsupported
	}
	e.mu.Lock()
	node := e.node
	e.mu.Unlock()
	return newController(e, t, node), nil
}

// SetNetworkBootstrapKeys implements exec.Executor: the managers' keys
// for network discovery (gossip) go to the networks.
func (e *Executor) SetNetworkBootstrapKeys(keys []*swarmapi.EncryptionKey) error {
	if kr, ok := e.networks.(KeyReceiver); ok {
		kr.SetNetworkKeys(keys)
	}
	return nil
}

// KeyReceiver is given the swarm's network bootstrap keys whenever the
// managers rotate them.
type KeyReceiver interface {
	SetNetworkKeys(keys []*swarmapi.EncryptionKey)
}

// Secrets and Configs give SwarmKit's agent the stores it fills with the
// secrets and configs of this node's tasks.
func (e *Executor) Secrets() exec.SecretsManager { return e.deps.Secrets() }

// Configs implements exec.ConfigsProvider.
func (e *Executor) Configs() exec.ConfigsManager { return e.deps.Configs() }

// Volumes implements exec.VolumesProvider (cluster volumes: none).
func (e *Executor) Volumes() exec.VolumesManager { return e.deps.Volumes() }
