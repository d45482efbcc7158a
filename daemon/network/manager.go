package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Config configures a Manager.
type Config struct {
	DB  *bolt.DB
	Log *slog.Logger
	// StateDir holds the bind-mounted network namespaces (under the
	// daemon's exec root).
	StateDir string
	// DefaultBridge names the default network's bridge (--bridge); it
	// also names the daemon's nftables table, so two daemons on one host
	// must use different bridges.
	DefaultBridge string
	// DefaultCIDR is the default bridge's gateway/prefix (--bip); zero:
	// the first free pool.
	DefaultCIDR netip.Prefix
	// ResolvConf is the host's resolver configuration (for forwarding).
	ResolvConf string
}

// Manager is the networking of one daemon. It dispatches what differs
// between kinds of network to their Driver and keeps the rest.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	table   string
	ipv6    bool // the host has IPv6: published TCP ports also answer on [::]
	store   *store
	drivers map[string]Driver // by name; fixed once the Manager exists
	vx      *vxlanPlane       // swarm networks across nodes (vxlan.go)
	// lock takes the host-wide network lock (hostLock).
	lock func() (func(), error)
	// writeRules replaces the daemon's nftables table (writeTable).
	writeRules func(ruleState) error

	mu        sync.Mutex
	networks  map[string]*Network // by ID
	alloc     map[string]*allocator
	sandboxes map[string]*Sandbox // by container ID
	reserved  map[string]io.Closer
	dns       map[string]*dnsServer // by network ID
	// The swarm's routing mesh and service names (mesh.go).
	meshPorts    []ServicePort
	meshNames    map[string]map[string][]netip.Addr
	meshReserved map[string]io.Closer // "port/proto" → the held socket
	meshVIPs     map[string][]VIP     // by network ID
	vipWritten   map[string][]VIP     // by container ID: each sandbox's VIP table as written
	// cleanups counts the background removals of links and namespaces
	// of stopped containers; Close waits for them.
	cleanups sync.WaitGroup
}

// New opens the networking state, creates the predefined networks on first
// use, and brings every network's kernel objects, rules and DNS up.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "berth0"
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if len(cfg.DefaultBridge) > 15 {
		return nil, fmt.Errorf("bridge name %q is longer than 15 characters", cfg.DefaultBridge)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.StateDir, err)
	}
	st, err := openStore(cfg.DB)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	vx := newVXLANPlane()
	m := &Manager{
		cfg: cfg, log: log, table: "berth-" + cfg.DefaultBridge, ipv6: hostHasIPv6(), store: st,
		drivers: builtinDrivers(&bridgeDriver{log: log}, vx), vx: vx, lock: hostLock,
		alloc: map[string]*allocator{}, reserved: map[string]io.Closer{}, meshReserved: map[string]io.Closer{}, vipWritten: map[string][]VIP{}, dns: map[string]*dnsServer{},
	}
	m.writeRules = m.writeTable
	if err := m.load(); err != nil {
		return nil, err
	}
	// Subnets are chosen among what the host's routes leave free; hold the
	// host-wide lock until the bridges (and so their routes) exist, so two
	// daemons starting together do not pick the same one.
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := m.ensurePredefined(); err != nil {
		return nil, err
	}
	if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.networks {
		drv := m.driverOf(n)
		if drv == nil {
			m.log.Warn("network of an unknown driver left down", "network", n.Name, "driver", n.Driver)
			continue
		}
		if err := m.upNetworkLocked(ctx, drv, n); err != nil {
			return nil, err
		}
	}
	// Running containers keep their ports while the daemon was away;
	// take the host ports back so nothing else grabs them.
	for _, sb := range m.sandboxes {
		m.reservePorts(sb)
	}
	if err := m.applyLocked(); err != nil {
		return nil, err
	}
	return m, nil
}

// load reads the stored networks and sandboxes and rebuilds the addresses
// in use from the sandboxes' endpoints.
func (m *Manager) load() error {
	networks, sandboxes, err := m.store.load(m.log)
	if err != nil {
		return err
	}
	m.networks, m.sandboxes = networks, sandboxes
	for _, n := range m.networks {
		m.addAllocator(n)
	}
	for _, sb := range m.sandboxes {
		for _, ep := range sb.Endpoints {
			if a := m.alloc[ep.NetworkID]; a != nil {
				if err := a.reserve(ep.IP, sb.ContainerID); err != nil {
					m.log.Warn("restore address", "container", sb.ContainerID, "ip", ep.IP, "err", err)
				}
			}
		}
	}
	return nil
}

// addAllocator gives a network with a subnet (one whose containers get
// addresses) its IPAM.
func (m *Manager) addAllocator(n *Network) {
	if n.Subnet.IsValid() {
		m.alloc[n.ID] = newAllocator(n.Subnet, n.IPRange, n.Gateway)
	}
}

func (m *Manager) ensurePredefined() error {
	have := map[string]bool{}
	for _, n := range m.networks {
		if n.Predefined() {
			have[n.Name] = true
		}
	}
	for _, name := range []string{"bridge", "host", "none"} {
		if have[name] {
			continue
		}
		n := &Network{ID: newID(), Name: name, Created: time.Now().UTC(), Options: map[string]string{}, Labels: map[string]string{}}
		switch name {
		case "bridge":
			n.Driver, n.Default = DriverBridge, true
			drv, err := m.driver(DriverBridge)
			if err != nil {
				return err
			}
			req := CreateRequest{Subnet: m.cfg.DefaultCIDR, Options: map[string]string{optBridgeName: m.cfg.DefaultBridge}}
			if err := drv.Configure(n, req, m.networkList()); err != nil {
				return err
			}
			n.Options = map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
				optBridgeName: m.cfg.DefaultBridge,
				optMTU:        "1500",
			}
		case "host":
			n.Driver = DriverHost
		case "none":
			n.Driver = DriverNull
		}
		if err := m.store.putNetwork(n); err != nil {
			return fmt.Errorf("save network %s: %w", n.Name, err)
		}
		m.networks[n.ID] = n
		m.addAllocator(n)
	}
	return nil
}

// networkList is every network, for a driver's Configure.
func (m *Manager) networkList() []*Network {
	out := make([]*Network, 0, len(m.networks))
	for _, n := range m.networks {
		out = append(out, n)
	}
	return out
}

// hostLockPath serialises subnet choice between the daemons of a host.
const hostLockPath = "/run/berth-network.lock"

// hostLock takes the host-wide network lock; the returned func releases it.
func hostLock() (func(), error) {
	f, err := os.OpenFile(hostLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("network lock: %w", err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// upNetworkLocked brings a network's kernel objects up by its driver and
// starts its DNS server (networks with endpoints only).
func (m *Manager) upNetworkLocked(ctx context.Context, drv Driver, n *Network) error {
	if err := drv.Up(ctx, n); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if drv.Endpoints() && n.Gateway.IsValid() && m.dns[n.ID] == nil {
		s, err := startDNS(ctx, n.Gateway, m.resolverFor(n))
		if err != nil {
			// Names will not resolve, but containers still run.
			m.log.Warn("embedded DNS not started", "network", n.Name, "err", err)
		} else {
			m.dns[n.ID] = s
		}
	}
	return nil
}

// stopDNSLocked stops a network's DNS server, if it has one.
func (m *Manager) stopDNSLocked(id string) {
	if s := m.dns[id]; s != nil {
		s.close()
		delete(m.dns, id)
	}
}

// applyLocked rewrites the nftables table from the current state.
func (m *Manager) applyLocked() error {
	return m.writeRules(m.ruleStateLocked())
}

// ruleStateLocked is what the ruleset is made of: each network's driver's
// contribution, by network ID, and every sandbox's published ports, by
// container ID (sorted, so the same state always gives the same rules).
func (m *Manager) ruleStateLocked() ruleState {
	var st ruleState
	ids := make([]string, 0, len(m.networks))
	for id := range m.networks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := m.networks[id]
		if drv := m.driverOf(n); drv != nil {
			st.networks = append(st.networks, drv.Rules(n)...)
		}
	}
	cids := make([]string, 0, len(m.sandboxes))
	for id := range m.sandboxes {
		cids = append(cids, id)
	}
	sort.Strings(cids)
	for _, id := range cids {
		st.ports = append(st.ports, m.sandboxes[id].Ports...)
	}
	st.mesh = m.meshPorts
	st.lb = m.lbRulesLocked()
	st.encryptPort, st.encryptVNIs = m.encryptedVNIsLocked()
	return st
}

// writeTable replaces the daemon's nftables table with the ruleset of st.
func (m *Manager) writeTable(st ruleState) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	defer conn.CloseLasting()
	return applyRules(conn, m.table, st)
}

// find returns the network named or identified (by a unique ID prefix).
func (m *Manager) findLocked(ref string) (*Network, error) {
	if ref == "" {
		return nil, errdefs.ErrNotFound.WithMessage("network not found")
	}
	if n, ok := m.networks[ref]; ok {
		return n, nil
	}
	for _, n := range m.networks {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *Network
	for _, n := range m.networks {
		if strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", ref, 2))
			}
			found = n
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	return found, nil
}

// Get returns a copy of the network named or identified by ref.
func (m *Manager) Get(ref string) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.findLocked(ref)
	if err != nil {
		return Network{}, err
	}
	return *n, nil
}

// List returns copies of all networks, by name.
func (m *Manager) List() []Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Network, 0, len(m.networks))
	for _, n := range m.networks {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Endpoints returns the sandboxes' endpoints on network id, by container.
func (m *Manager) Endpoints(id string) map[string]Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Endpoint{}
	for _, sb := range m.sandboxes {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID == id {
				out[sb.ContainerID] = *ep
			}
		}
	}
	return out
}

// Create makes a user-defined network of the driver req names (bridge
// when none).
func (m *Manager) Create(ctx context.Context, req CreateRequest) (Network, error) {
	if req.Driver == "" {
		req.Driver = DriverBridge
	}
	drv, err := m.driver(req.Driver)
	if err != nil {
		return Network{}, err
	}
	if req.Name == "" {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("network name is required")
	}
	if req.IPRange.IsValid() && !req.Subnet.IsValid() {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("ip-range requires a subnet (--subnet)")
	}
	if req.Gateway.IsValid() && !req.Subnet.IsValid() {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("gateway requires a subnet (--subnet)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.networks {
		if n.Name == req.Name && n.Scope == req.Scope {
			return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", req.Name))
		}
	}
	id := req.ID
	if id == "" {
		id = newID()
	} else if _, ok := m.networks[id]; ok {
		return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with id %s already exists", id))
	}
	n := &Network{
		ID: id, Scope: req.Scope, Ingress: req.Ingress,
		Name: req.Name, Driver: drv.Name(), Internal: req.Internal, Attachable: req.Attachable,
		EnableIPv6: req.EnableIPv6, Options: req.Options, Labels: req.Labels, Created: time.Now().UTC(),
		UserIPAM: req.Subnet.IsValid(),
	}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	unlock, err := m.lock()
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	if err := drv.Configure(n, req, m.networkList()); err != nil {
		return Network{}, err
	}
	if err := m.upNetworkLocked(ctx, drv, n); err != nil {
		_ = drv.Down(ctx, n)
		return Network{}, err
	}
	m.networks[n.ID] = n
	m.addAllocator(n)
	fail := func(err error) (Network, error) {
		delete(m.networks, n.ID)
		delete(m.alloc, n.ID)
		m.stopDNSLocked(n.ID)
		_ = drv.Down(ctx, n)
		_ = m.applyLocked()
		return Network{}, err
	}
	if err := m.applyLocked(); err != nil {
		return fail(err)
	}
	if err := m.store.putNetwork(n); err != nil {
		return fail(fmt.Errorf("save network: %w", err))
	}
	return *n, nil
}

// Remove deletes a user-defined network that no running container uses.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.findLocked(ref)
	if err != nil {
		return err
	}
	if n.Predefined() {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	for _, sb := range m.sandboxes {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID == n.ID {
				return errdefs.ErrConflict.WithMessage(fmt.Sprintf("error while removing network: network %s has active endpoints (name:%q id:%q)", n.Name, sb.Name, sb.ContainerID[:12]))
			}
		}
	}
	if err := m.store.deleteNetwork(n.ID); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	delete(m.networks, n.ID)
	delete(m.alloc, n.ID)
	m.stopDNSLocked(n.ID)
	if err := m.applyLocked(); err != nil {
		m.log.Warn("rewrite rules after network removal", "network", n.Name, "err", err)
	}
	if drv := m.driverOf(n); drv != nil {
		if err := drv.Down(ctx, n); err != nil {
			return fmt.Errorf("remove the %s link of network %s: %w", n.Driver, n.Name, err)
		}
	}
	return nil
}

// Reconcile is called once the daemon knows which containers survived its
// absence: the sandboxes of the others are torn down, and what each
// driver left of endpoints nobody owns, and namespaces nobody owns, are
// removed.
func (m *Manager) Reconcile(ctx context.Context, alive func(containerID string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, sb := range m.sandboxes {
		if !alive(id) {
			m.log.Info("removing the network of a container that is gone", "container", id)
			m.teardownLocked(ctx, sb, false)
		}
	}
	owned := map[string]bool{}
	for _, sb := range m.sandboxes {
		owned[filepath.Base(sb.NetNS)] = true
		for _, ep := range sb.Endpoints {
			owned[ep.HostVeth] = true
		}
	}
	for _, n := range m.networks {
		if drv := m.driverOf(n); drv != nil {
			drv.Reconcile(ctx, n, owned)
		}
	}
	entries, _ := os.ReadDir(m.cfg.StateDir)
	for _, e := range entries {
		if !owned[e.Name()] {
			_ = removeNetNS(filepath.Join(m.cfg.StateDir, e.Name()))
		}
	}
}

// Close stops the DNS servers and releases the port reservations. When no
// container is running any more, the networks' kernel objects and the
// rules go too (the networks stay defined and come back with the next
// daemon); otherwise everything stays so running containers keep their
// networking.
func (m *Manager) Close() error {
	m.cleanups.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.dns {
		m.stopDNSLocked(id)
	}
	for id := range m.reserved {
		m.unpublishLocked(id)
	}
	for key, c := range m.meshReserved {
		c.Close()
		delete(m.meshReserved, key)
	}
	if len(m.sandboxes) > 0 {
		return nil
	}
	ctx := context.Background()
	errs := []error{m.writeRules(ruleState{})}
	for _, n := range m.networks {
		if drv := m.driverOf(n); drv != nil {
			errs = append(errs, drv.Down(ctx, n))
		}
	}
	_ = os.Remove(m.cfg.StateDir)
	return errors.Join(errs...)
}
