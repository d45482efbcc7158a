// Package cluster is berth's swarm mode: it embeds a SwarmKit node (raft,
// CA, dispatcher, scheduler, orchestrators) in the daemon, runs the tasks
// SwarmKit assigns to this node as berth containers (package executor),
// allocates swarm networks (package netalloc) and answers the Engine API's
// swarm endpoints (backend.Cluster) by converting between the Engine API's
// types and SwarmKit's (package convert). It is the only part of berth
// that imports SwarmKit.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/swarmkit/v2/agent"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"
	swarmnode "github.com/moby/swarmkit/v2/node"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/cluster/executor"
	"github.com/berth-project/berth/daemon/cluster/imageshare"
	"github.com/berth-project/berth/daemon/cluster/netalloc"
)

// Errors in Docker's words.
var (
	errNoSwarm        = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)
	errWorker         = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.`)
	errSwarmExists    = errdefs.ErrUnavailable.WithMessage(`This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.`)
	errSwarmLocked    = errdefs.ErrUnavailable.WithMessage(`Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.`)
	errSwarmNotLocked = errdefs.ErrFailedPrecondition.WithMessage("swarm is not locked")
	errJoinTimeout    = errdefs.ErrUnavailable.WithMessage("Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the \"docker info\" command to see the current swarm status of your node.")
)

const (
	defaultPort       = 2377
	stateFile         = "berth-state.json"
	swarmkitDir       = "swarmkit"
	taskFilesDir      = "tasks" // in RuntimeRoot: the tasks' secrets and configs
	readyTimeout      = 20 * time.Second
	controlDialPeriod = 100 * time.Millisecond
)

// Config is where the cluster keeps its state and how it reaches the engine.
type Config struct {
	// Root holds the swarm state (<data-root>/swarm).
	Root string
	// RuntimeRoot holds the control socket and the tasks' secrets and
	// configs (<exec-root>/swarm).
	RuntimeRoot string
	// Engine runs tasks and shares images (the daemon itself).
	Engine Engine
	// Networks realises swarm networks on this node; nil: tasks use the
	// default bridge only.
	Networks LocalNetworks
	// Mesh receives the routing mesh and service names; nil: none.
	Mesh MeshSetter
	// NetworkProvider allocates swarm networks on managers (default:
	// package netalloc).
	NetworkProvider networkallocator.Provider
	// Events receives the swarm's events (nodes, services, networks,
	// secrets and configs changing) while this node is a manager; nil:
	// none.
	Events Publisher
	// EngineSocket is the path of the daemon's own API socket, which
	// tasks that bind-mount Docker's socket get instead; empty: none.
	EngineSocket string
	// Version is berth's version, reported as the engine version.
	Version string
	Log     *slog.Logger
}

// state is what berth remembers about its swarm membership across
// restarts, beside SwarmKit's own state.
type state struct {
	ListenAddr    string   `json:"listen_addr"`
	AdvertiseAddr string   `json:"advertise_addr,omitempty"`
	DataPathAddr  string   `json:"data_path_addr,omitempty"`
	DefaultPool   []string `json:"default_addr_pool,omitempty"`
	SubnetSize    uint32   `json:"subnet_size,omitempty"`
	DataPathPort  uint32   `json:"data_path_port,omitempty"`
}

// Cluster is this daemon's membership of a swarm (or the lack of one).
type Cluster struct {
	cfg Config
	log *slog.Logger

	// opMu serialises init, join, leave, unlock and close; mu guards the
	// fields below for readers (written only with opMu held as well).
	opMu   sync.Mutex
	mu     sync.RWMutex
	node   *runningNode // nil: not in a swarm
	locked bool         // state exists but the node needs its unlock key
	st     state
}

// runningNode is a started SwarmKit node and its control API client.
type runningNode struct {
	*swarmnode.Node
	cancel context.CancelFunc
	nets   *taskNetworks // nil without engine networks
	images *imagePeers   // the other nodes' image servers
	done   chan struct{} // closed when the node has stopped
	err    error         // why it stopped, once done

	mu      sync.Mutex
	control swarmapi.ControlClient
	logs    swarmapi.LogsClient
	ca      swarmapi.CAClient
	ready   bool
}

var _ backend.Cluster = (*Cluster)(nil)

// New returns the cluster of a daemon, not yet started (Start).
func New(cfg Config) *Cluster {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	quietSwarmKitLogs(cfg.Log)
	return &Cluster{cfg: cfg, log: cfg.Log}
}

// Start rejoins the swarm this node was part of when the daemon last
// stopped. It does not wait for the node to be ready: it elects a leader
// or reaches its managers in the background.
func (c *Cluster) Start(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	b, err := os.ReadFile(filepath.Join(c.cfg.Root, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		// What a swarm left uncleanly may have left.
		if c.cfg.Networks != nil {
			c.cfg.Networks.RemoveSwarmNetworks(ctx)
		}
		c.removeTaskFiles()
		return nil
	}
	if err != nil {
		return fmt.Errorf("read swarm state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("read swarm state: %w", err)
	}
	c.set(func() { c.st = st })
	n, err := c.startNode(ctx, nodeOptions{})
	if err != nil {
		if errors.Is(err, swarmnode.ErrInvalidUnlockKey) {
			c.set(func() { c.locked = true })
			return nil
		}
		c.log.Error("rejoin swarm", "err", err)
		return nil
	}
	c.set(func() { c.node = n })
	go func() {
		select {
		case <-n.Ready():
			c.log.Info("swarm node ready", "node", n.NodeID())
		case <-n.done:
		}
	}()
	return nil
}

// taskFilesRoot is where the executor keeps the tasks' secrets and
// configs: in the exec root, never on the data root's disk.
func (c *Cluster) taskFilesRoot() string {
	if c.cfg.RuntimeRoot == "" {
		return ""
	}
	return filepath.Join(c.cfg.RuntimeRoot, taskFilesDir)
}

// removeTaskFiles removes every task's secrets and configs (their tasks
// are gone: the node left its swarm).
func (c *Cluster) removeTaskFiles() {
	if root := c.taskFilesRoot(); root != "" {
		if err := executor.RemoveTaskFiles(root); err != nil {
			c.log.Warn("remove task secrets and configs", "err", err)
		}
	}
}

// quietSwarmKitLogs sends SwarmKit's logrus output (it logs a lot at
// info level) to warnings only, unless the daemon debugs.
func quietSwarmKitLogs(log *slog.Logger) {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if logrus.GetLevel() > logrus.WarnLevel {
		logrus.SetLevel(logrus.WarnLevel)
	}
}

// Close stops this node's part in the swarm; it stays a member and
// rejoins when the daemon starts again.
func (c *Cluster) Close() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	n := c.node
	c.set(func() { c.node = nil })
	if n != nil {
		n.stop(false)
	}
}

// set changes the state fields for readers; the caller holds opMu.
func (c *Cluster) set(change func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change()
}

type nodeOptions struct {
	joinAddr, joinToken string
	forceNewCluster     bool
	autolock            bool
	unlockKey           []byte
	availability        swarmapi.NodeSpec_Availability
}

// startNode starts the SwarmKit node with c.st's addresses and waits
// until it either runs or fails to start (a locked node fails at once).
func (c *Cluster) startNode(ctx context.Context, o nodeOptions) (*runningNode, error) {
	if err := os.MkdirAll(c.cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create swarm state dir: %w", err)
	}
	if err := os.MkdirAll(c.cfg.RuntimeRoot, 0o700); err != nil {
		return nil, fmt.Errorf("create swarm runtime dir: %w", err)
	}
	hostname, _ := os.Hostname()
	provider := c.cfg.NetworkProvider
	if provider == nil {
		provider = netalloc.NewProvider()
	}
	var nets executor.Networks
	var tnets *taskNetworks
	if c.cfg.Networks != nil {
		tnets = newTaskNetworks(c.cfg.Networks, underlayAddr(c.st).IsValid(), c.cfg.Mesh)
		nets = tnets
	}
	n := &runningNode{done: make(chan struct{}), nets: tnets}
	n.images = &imagePeers{fetcher: imageshare.NewFetcher(c.cfg.Engine, c.identity(n), c.log)}
	exe := executor.New(c.cfg.Engine, nets, c.cfg.Version, agent.NewDependencyManager(nil), c.taskFilesRoot(), c.cfg.EngineSocket, n.images)
	sn, err := swarmnode.New(&swarmnode.Config{
		Hostname:           hostname,
		ForceNewCluster:    o.forceNewCluster,
		ListenControlAPI:   filepath.Join(c.cfg.RuntimeRoot, "control.sock"),
		ListenRemoteAPI:    c.st.ListenAddr,
		AdvertiseRemoteAPI: c.st.AdvertiseAddr,
		NetworkConfig: &networkallocator.Config{
			DefaultAddrPool: c.st.DefaultPool,
			SubnetSize:      c.st.SubnetSize,
			VXLANUDPPort:    c.st.DataPathPort,
		},
		NetworkProvider: provider,
		JoinAddr:        o.joinAddr,
		StateDir:        filepath.Join(c.cfg.Root, swarmkitDir),
		JoinToken:       o.joinToken,
		Executor:        exe,
		// Raft ticks are a second: a leader that stops answering is
		// replaced in 3 to 6 s (dockerd waits 10 to 20).
		HeartbeatTick:    1,
		ElectionTick:     3,
		UnlockKey:        o.unlockKey,
		AutoLockManagers: o.autolock,
		Availability:     o.availability,
	})
	if err != nil {
		return nil, fmt.Errorf("create swarm node: %w", err)
	}
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := sn.Start(nctx); err != nil {
		cancel()
		return nil, fmt.Errorf("start swarm node: %w", err)
	}
	n.Node, n.cancel = sn, cancel
	go func() {
		n.err = sn.Err(context.Background())
		if n.err != nil && !errors.Is(n.err, context.Canceled) {
			c.log.Warn("swarm node stopped", "err", n.err)
		}
		close(n.done)
	}()
	go n.watchControl(nctx, c.watchEvents)
	go c.runMesh(nctx, n)
	// A node that cannot start (locked, bad state) fails quickly.
	select {
	case <-n.done:
		if n.err != nil {
			return nil, n.err
		}
		return nil, errors.New("swarm node stopped")
	case <-sn.Ready():
	case <-time.After(500 * time.Millisecond):
	}
	return n, nil
}

// watchControl keeps the control API client in step with the node's
// local control socket (present while the node is a manager), and runs
// watch on each connection until it goes away.
func (n *runningNode) watchControl(ctx context.Context, watch func(context.Context, *grpc.ClientConn)) {
	stopWatch := func() {}
	defer func() { stopWatch() }()
	for conn := range n.ListenControlSocket(ctx) {
		stopWatch()
		stopWatch = func() {}
		n.mu.Lock()
		if conn == nil {
			n.control, n.logs, n.ca = nil, nil, nil
		} else {
			n.control = swarmapi.NewControlClient(conn)
			n.logs = swarmapi.NewLogsClient(conn)
			n.ca = swarmapi.NewCAClient(conn)
		}
		n.mu.Unlock()
		if conn != nil && watch != nil {
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); watch(wctx, conn) }()
			stopWatch = func() { cancel(); <-done }
		}
	}
}

func (n *runningNode) caClient() swarmapi.CAClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ca
}

func (n *runningNode) clients() (swarmapi.ControlClient, swarmapi.LogsClient) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.control, n.logs
}

// stop stops the node. With leave, its agent first hands back its tasks
// (their containers are removed); without, the tasks' containers keep
// running and the node picks them up again when it next starts.
func (n *runningNode) stop(leave bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if leave {
		if err := n.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			slog.Default().Debug("stop swarm node", "err", err)
		}
	}
	n.cancel()
	select {
	case <-n.done:
	case <-ctx.Done():
	}
}

// Address errors in dockerd's words.
var (
	errNoSuchInterface  = errors.New("no such interface")
	errBadListenAddr    = errdefs.ErrInvalidArgument.WithMessage("listen address must be an IP address or network interface (with optional port number)")
	errBadAdvertiseAddr = errdefs.ErrInvalidArgument.WithMessage("advertise address must be a non-zero IP address or network interface (with optional port number)")
)

// listenAddr resolves --listen-addr ("0.0.0.0:2377", "host", ":2377").
func listenAddr(s string) (string, error) {
	if s == "" {
		s = "0.0.0.0:2377"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, strconv.Itoa(defaultPort)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid listen address %s: invalid port", s))
	}
	if net.ParseIP(host) == nil {
		ip, err := interfaceAddr(host)
		if errors.Is(err, errNoSuchInterface) {
			return "", errBadListenAddr
		}
		if err != nil {
			return "", err
		}
		host = ip.String()
	}
	return net.JoinHostPort(host, port), nil
}

// advertiseAddr picks the address other nodes reach this one at: the one
// given (IP or interface, port defaulting to the listen port), else the
// listen IP when it is specific, else this host's address on its default
// route, as dockerd does.
func advertiseAddr(s, listen string) (string, error) {
	_, lport, _ := net.SplitHostPort(listen)
	if s == "" {
		lhost, _, _ := net.SplitHostPort(listen)
		if ip := net.ParseIP(lhost); ip != nil && !ip.IsUnspecified() {
			return listen, nil
		}
		ip, err := defaultRouteAddr()
		if err != nil {
			return "", errdefs.ErrInvalidArgument.WithMessage("could not choose an IP address to advertise since this system has no default route; please specify one with --advertise-addr")
		}
		return net.JoinHostPort(ip.String(), lport), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, lport
	}
	if ip, err := interfaceAddr(host); err == nil {
		return net.JoinHostPort(ip.String(), port), nil
	} else if !errors.Is(err, errNoSuchInterface) {
		return "", err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return "", errBadAdvertiseAddr
	}
	return net.JoinHostPort(host, port), nil
}

// interfaceAddr is the IPv4 address of a network interface, or
// errNoSuchInterface.
func interfaceAddr(name string) (net.IP, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, errNoSuchInterface
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of interface %s: %w", name, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP, nil
		}
	}
	return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("interface %s has no usable IPv4 address", name))
}

// defaultRouteAddr is the local address used to reach the outside.
func defaultRouteAddr() (net.IP, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9") // TEST-NET-1: nothing is sent
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP, nil
}

func (c *Cluster) saveState() error {
	b, err := json.MarshalIndent(c.st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.cfg.Root, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(c.cfg.Root, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.cfg.Root, stateFile))
}

// clearState forgets the swarm: berth's state and SwarmKit's.
func (c *Cluster) clearState() error {
	if err := os.RemoveAll(c.cfg.Root); err != nil {
		return fmt.Errorf("remove swarm state: %w", err)
	}
	return nil
}

// manager returns the control client of a running manager, or Docker's
// error for a node that is not one.
func (c *Cluster) manager() (swarmapi.ControlClient, swarmapi.LogsClient, *runningNode, error) {
	c.mu.RLock()
	n, locked := c.node, c.locked
	c.mu.RUnlock()
	if locked {
		return nil, nil, nil, errSwarmLocked
	}
	if n == nil {
		return nil, nil, nil, errNoSwarm
	}
	ctl, logs := n.clients()
	if ctl == nil {
		if n.Manager() == nil {
			select {
			case <-n.Ready():
				return nil, nil, nil, errWorker
			default:
				return nil, nil, nil, errdefs.ErrUnavailable.WithMessage("This node is not part of a swarm yet: it is still joining")
			}
		}
		// A manager whose control socket is not up yet: wait a moment.
		for i := 0; i < 50 && ctl == nil; i++ {
			time.Sleep(controlDialPeriod)
			ctl, logs = n.clients()
		}
		if ctl == nil {
			return nil, nil, nil, errdefs.ErrUnavailable.WithMessage("The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.")
		}
	}
	return ctl, logs, n, nil
}
