// Package network owns a daemon's container networking on one host:
// bridge networks and their IP address management, each running
// container's network namespace and veth endpoints, published ports
// (nftables DNAT, no proxy processes), NAT for egress, isolation between
// networks, and the embedded DNS server that resolves container names.
//
// State (networks, and the sandboxes of running containers with their
// addresses and ports) is kept in the daemon's bbolt database; the kernel
// objects (links, namespaces, the nftables table) are derived from it and
// reconciled at start, so a daemon that crashed comes back without
// duplicating or leaking anything.
package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

var (
	bucketNetworks  = []byte("networks")
	bucketSandboxes = []byte("sandboxes")
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

// Manager is the networking of one daemon.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	table string
	ipv6  bool // the host has IPv6: published TCP ports also answer on [::]

	mu        sync.Mutex
	networks  map[string]*Network // by ID
	alloc     map[string]*allocator
	sandboxes map[string]*Sandbox // by container ID
	reserved  map[string]io.Closer
	dns       map[string]*dnsServer // by network ID
	// cleanups counts the background removals of links and namespaces
	// of stopped containers; Close waits for them.
	cleanups sync.WaitGroup
}

// New opens the networking state, creates the predefined networks on first
// use, and brings every network's bridge, rules and DNS up.
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
	m := &Manager{
		cfg: cfg, log: cfg.Log, table: "berth-" + cfg.DefaultBridge, ipv6: hostHasIPv6(),
		networks: map[string]*Network{}, alloc: map[string]*allocator{},
		sandboxes: map[string]*Sandbox{}, reserved: map[string]io.Closer{}, dns: map[string]*dnsServer{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if err := cfg.DB.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketSandboxes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	// Subnets are chosen among what the host's routes leave free; hold the
	// host-wide lock until the bridges (and so their routes) exist, so two
	// daemons starting together do not pick the same one.
	unlock, err := hostLock()
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
		if n.Driver != DriverBridge {
			continue
		}
		if err := m.upNetwork(ctx, n); err != nil {
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

func (m *Manager) load() error {
	return m.cfg.DB.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketNetworks).ForEach(func(k, v []byte) error {
			var n Network
			if err := json.Unmarshal(v, &n); err != nil {
				m.log.Warn("skip unreadable network record", "id", string(k), "err", err)
				return nil
			}
			m.networks[n.ID] = &n
			if n.Driver == DriverBridge {
				m.alloc[n.ID] = newAllocator(n.Subnet, n.IPRange, n.Gateway)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketSandboxes).ForEach(func(k, v []byte) error {
			var sb Sandbox
			if err := json.Unmarshal(v, &sb); err != nil {
				m.log.Warn("skip unreadable sandbox record", "id", string(k), "err", err)
				return nil
			}
			m.sandboxes[sb.ContainerID] = &sb
			for _, ep := range sb.Endpoints {
				if a := m.alloc[ep.NetworkID]; a != nil {
					if err := a.reserve(ep.IP, sb.ContainerID); err != nil {
						m.log.Warn("restore address", "container", sb.ContainerID, "ip", ep.IP, "err", err)
					}
				}
			}
			return nil
		})
	})
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
			n.Driver, n.Default, n.Bridge = DriverBridge, true, m.cfg.DefaultBridge
			if err := m.chooseSubnet(n, m.cfg.DefaultCIDR, netip.Prefix{}, netip.Addr{}); err != nil {
				return err
			}
			n.Options = map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
				"com.docker.network.bridge.name":                 m.cfg.DefaultBridge,
				"com.docker.network.driver.mtu":                  "1500",
			}
		case "host":
			n.Driver = DriverHost
		case "none":
			n.Driver = DriverNull
		}
		if err := m.put(n); err != nil {
			return err
		}
		m.networks[n.ID] = n
		if n.Driver == DriverBridge {
			m.alloc[n.ID] = newAllocator(n.Subnet, n.IPRange, n.Gateway)
		}
	}
	return nil
}

// chooseSubnet fills in n's subnet and gateway: the user's, or the first
// default pool that overlaps neither a host route nor another network.
func (m *Manager) chooseSubnet(n *Network, subnet, ipRange netip.Prefix, gw netip.Addr) error {
	if subnet.IsValid() {
		if !subnet.Addr().Is4() {
			return errdefs.ErrInvalidArgument.WithMessage("berth bridge networks are IPv4: invalid subnet " + subnet.String())
		}
		if !gw.IsValid() && subnet.Addr() != subnet.Masked().Addr() {
			gw = subnet.Addr() // --bip 172.30.0.1/16 names the gateway
		}
		subnet = subnet.Masked()
		for _, o := range m.networks {
			if o.Subnet.IsValid() && o.Subnet.Overlaps(subnet) {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid pool request: Pool overlaps with other one on this address space"))
			}
		}
	} else {
		used, err := hostRoutes()
		if err != nil {
			return err
		}
		for _, o := range m.networks {
			if o.Subnet.IsValid() {
				used = append(used, o.Subnet)
			}
		}
		if subnet, err = pickSubnet(defaultPools(), used); err != nil {
			return err
		}
	}
	if ipRange.IsValid() && (!subnet.Contains(ipRange.Addr()) || ipRange.Bits() < subnet.Bits()) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid ip-range %s: it must be inside subnet %s", ipRange, subnet))
	}
	if !gw.IsValid() {
		gw = firstHost(subnet)
	} else if !subnet.Contains(gw) || gw == subnet.Addr() || gw == broadcast(subnet) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid gateway %s: it must be a host address of subnet %s", gw, subnet))
	}
	if subnet.Bits() > 30 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("subnet %s is too small", subnet))
	}
	n.Subnet, n.IPRange, n.Gateway = subnet, ipRange, gw
	return nil
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

func (m *Manager) put(n *Network) error {
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return m.cfg.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNetworks).Put([]byte(n.ID), data) })
}

func (m *Manager) putSandbox(sb *Sandbox) error {
	data, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	return m.cfg.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSandboxes).Put([]byte(sb.ContainerID), data) })
}

func (m *Manager) deleteSandbox(id string) error {
	return m.cfg.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSandboxes).Delete([]byte(id)) })
}

// upNetwork creates a bridge network's link and starts its DNS server.
func (m *Manager) upNetwork(ctx context.Context, n *Network) error {
	if err := ensureBridge(n.Bridge, n.Gateway, n.Subnet.Bits(), n.MTU); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if m.dns[n.ID] == nil {
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

func (m *Manager) resolverFor(n *Network) *resolver {
	id := n.ID
	return &resolver{
		log: m.log, network: n.Name, forward: !n.Internal,
		lookup: func(name string) []netip.Addr {
			if n.Default {
				return nil // as Docker: no container names on the default bridge
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.lookupLocked(id, name)
		},
		reverse: func(ip netip.Addr) string {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, sb := range m.sandboxes {
				for _, ep := range sb.Endpoints {
					if ep.NetworkID == id && ep.IP == ip && sb.Name != "" {
						return sb.Name + "." + n.Name
					}
				}
			}
			return ""
		},
		upstreams: func(client netip.Addr) []string {
			m.mu.Lock()
			var dnsServers []netip.Addr
			for _, sb := range m.sandboxes {
				for _, ep := range sb.Endpoints {
					if ep.NetworkID == id && ep.IP == client {
						dnsServers = ep.DNS
					}
				}
			}
			m.mu.Unlock()
			if len(dnsServers) > 0 {
				var out []string
				for _, s := range dnsServers {
					out = append(out, netip.AddrPortFrom(s, 53).String())
				}
				return out
			}
			return hostResolvers(m.cfg.ResolvConf)
		},
	}
}

// lookupLocked resolves name among the endpoints of network id: container
// names, aliases, and IDs (full or 12 characters).
func (m *Manager) lookupLocked(id, name string) []netip.Addr {
	var out []netip.Addr
	for _, sb := range m.sandboxes {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID != id {
				continue
			}
			match := strings.EqualFold(sb.Name, name) || name == sb.ContainerID || (len(sb.ContainerID) >= 12 && name == sb.ContainerID[:12])
			for _, a := range ep.Aliases {
				if strings.EqualFold(a, name) {
					match = true
				}
			}
			if match {
				out = append(out, ep.IP)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// applyLocked rewrites the nftables table from the current state.
func (m *Manager) applyLocked() error {
	var st ruleState
	ids := make([]string, 0, len(m.networks))
	for id := range m.networks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := m.networks[id]
		if n.Driver == DriverBridge {
			st.networks = append(st.networks, ruleNetwork{bridge: n.Bridge, subnet: n.Subnet, internal: n.Internal})
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

// Create makes a user-defined bridge network.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (Network, error) {
	if req.Driver == "" {
		req.Driver = DriverBridge
	}
	if req.Driver != DriverBridge {
		return Network{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("could not find plugin %s in v1 plugin registry: plugin not found", req.Driver))
	}
	if req.Name == "" {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("network name is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.networks {
		if n.Name == req.Name {
			return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", req.Name))
		}
	}
	n := &Network{
		ID: newID(), Name: req.Name, Driver: DriverBridge, Internal: req.Internal, Attachable: req.Attachable,
		EnableIPv6: req.EnableIPv6, Options: req.Options, Labels: req.Labels, Created: time.Now().UTC(),
		UserIPAM: req.Subnet.IsValid(),
	}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Bridge = "br-" + n.ID[:12]
	for k, v := range n.Options {
		switch k {
		case "com.docker.network.bridge.name":
			if len(v) == 0 || len(v) > 15 || strings.ContainsAny(v, "/ \t") {
				return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid bridge name %q", v))
			}
			for _, o := range m.networks {
				if o.Bridge == v {
					return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("bridge name %s is used by network %s", v, o.Name))
				}
			}
			n.Bridge = v
		case "com.docker.network.driver.mtu":
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65535 {
				return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MTU %q", v))
			}
			n.MTU = mtu
		}
	}
	if req.IPRange.IsValid() && !req.Subnet.IsValid() {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("ip-range requires a subnet (--subnet)")
	}
	if req.Gateway.IsValid() && !req.Subnet.IsValid() {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage("gateway requires a subnet (--subnet)")
	}
	unlock, err := hostLock()
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	if err := m.chooseSubnet(n, req.Subnet, req.IPRange, req.Gateway); err != nil {
		return Network{}, err
	}
	if err := m.upNetwork(ctx, n); err != nil {
		_ = deleteLink(n.Bridge)
		return Network{}, err
	}
	m.networks[n.ID] = n
	m.alloc[n.ID] = newAllocator(n.Subnet, n.IPRange, n.Gateway)
	fail := func(err error) (Network, error) {
		delete(m.networks, n.ID)
		delete(m.alloc, n.ID)
		if s := m.dns[n.ID]; s != nil {
			s.close()
			delete(m.dns, n.ID)
		}
		_ = deleteLink(n.Bridge)
		_ = m.applyLocked()
		return Network{}, err
	}
	if err := m.applyLocked(); err != nil {
		return fail(err)
	}
	if err := m.put(n); err != nil {
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
	if err := m.cfg.DB.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNetworks).Delete([]byte(n.ID)) }); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	delete(m.networks, n.ID)
	delete(m.alloc, n.ID)
	if s := m.dns[n.ID]; s != nil {
		s.close()
		delete(m.dns, n.ID)
	}
	if err := m.applyLocked(); err != nil {
		m.log.Warn("rewrite rules after network removal", "network", n.Name, "err", err)
	}
	if err := deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("remove bridge of network %s: %w", n.Name, err)
	}
	return nil
}

// vethName names the host side of a new endpoint. Names are random, not
// derived from the container, so a restarting container never collides
// with the links of its previous run that are still being removed.
func vethName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "veth" + hex.EncodeToString(b)[:7]
}

// Setup creates a container's network namespace, its endpoints and its
// published ports. It is all or nothing: on error nothing is left behind.
func (m *Manager) Setup(ctx context.Context, req SetupRequest) (*Sandbox, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func(t time.Time) { m.log.Debug("network setup", "container", req.ContainerID, "took", time.Since(t)) }(time.Now())
	if old := m.sandboxes[req.ContainerID]; old != nil {
		// A stale sandbox from an exit the daemon did not see: replace it.
		m.teardownLocked(old, false)
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	sb := &Sandbox{ContainerID: req.ContainerID, Name: strings.TrimPrefix(req.Name, "/"),
		NetNS: filepath.Join(m.cfg.StateDir, req.ContainerID[:min(12, len(req.ContainerID))]+"-"+hex.EncodeToString(suffix))}
	if err := createNetNS(sb.NetNS); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			m.teardownLocked(sb, false)
		}
	}()
	if err := upNetNSLoopback(sb.NetNS); err != nil {
		return nil, fmt.Errorf("loopback: %w", err)
	}
	for i, er := range req.Endpoints {
		if _, err := m.addEndpointLocked(sb, er, req.DNS, i == 0); err != nil {
			return nil, err
		}
	}
	if len(req.Ports) > 0 {
		if len(sb.Endpoints) == 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("published ports need a bridge network")
		}
		ep := sb.Endpoints[0]
		var cs closers
		for _, pr := range req.Ports {
			port, c, err := reservePort(pr.Proto, pr.HostIP, pr.HostPortStart, pr.HostPortEnd)
			if err != nil {
				cs.Close()
				return nil, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("driver failed programming external connectivity on endpoint %s (%s): %v", sb.Name, ep.ID, err))
			}
			cs = append(cs, c)
			hip := pr.HostIP
			if !hip.IsValid() {
				hip = netip.IPv4Unspecified()
			}
			pm := PortMapping{Proto: pr.Proto, HostIP: hip, HostPort: port, ContainerPort: pr.ContainerPort, ContainerIP: ep.IP}
			sb.Ports = append(sb.Ports, pm)
			if hip.IsUnspecified() && pr.Proto == "tcp" && m.ipv6 {
				// The same port on the host's IPv6 addresses, as Docker
				// shows it: [::]:4000->80/tcp.
				p6, err := startProxy6(port, netip.AddrPortFrom(ep.IP, pr.ContainerPort))
				if err != nil {
					m.log.Warn("publish on IPv6", "port", port, "err", err)
				} else {
					cs = append(cs, p6)
					pm.HostIP = netip.IPv6Unspecified()
					sb.Ports = append(sb.Ports, pm)
				}
			}
		}
		m.reserved[sb.ContainerID] = cs
	}
	m.sandboxes[sb.ContainerID] = sb
	if len(sb.Ports) > 0 {
		if err := m.applyLocked(); err != nil {
			delete(m.sandboxes, sb.ContainerID)
			return nil, err
		}
	}
	if err := m.putSandbox(sb); err != nil {
		delete(m.sandboxes, sb.ContainerID)
		if len(sb.Ports) > 0 {
			_ = m.applyLocked()
		}
		return nil, fmt.Errorf("save sandbox: %w", err)
	}
	ok = true
	return cloneSandbox(sb), nil
}

func cloneSandbox(sb *Sandbox) *Sandbox {
	c := *sb
	c.Endpoints = nil
	for _, ep := range sb.Endpoints {
		e := *ep
		c.Endpoints = append(c.Endpoints, &e)
	}
	c.Ports = slices.Clone(sb.Ports)
	return &c
}

func (m *Manager) addEndpointLocked(sb *Sandbox, er EndpointRequest, dnsServers []netip.Addr, route bool) (*Endpoint, error) {
	n, err := m.findLocked(er.Network)
	if err != nil {
		return nil, err
	}
	if n.Driver != DriverBridge {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container cannot be connected to network %s: it is not a bridge network", n.Name))
	}
	for _, ep := range sb.Endpoints {
		if ep.NetworkID == n.ID {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", sb.Name, n.Name))
		}
	}
	a := m.alloc[n.ID]
	var ip netip.Addr
	if er.IP.IsValid() {
		if !n.UserIPAM {
			return nil, errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported only when connecting to networks with user configured subnets")
		}
		if err := a.reserve(er.IP, sb.ContainerID); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		ip = er.IP
	} else if ip, err = a.next(sb.ContainerID); err != nil {
		return nil, errdefs.ErrUnavailable.WithMessage(err.Error())
	}
	ep := &Endpoint{
		ID: newID(), NetworkID: n.ID, IfName: fmt.Sprintf("eth%d", len(sb.Endpoints)),
		HostVeth: vethName(), IP: ip, Bits: n.Subnet.Bits(), Gateway: n.Gateway,
		MAC: macFor(ip).String(), Aliases: er.Aliases, DNS: dnsServers,
	}
	if err := plugVeth(sb.NetNS, n.Bridge, ep.HostVeth, ep.IfName, ip, ep.Bits, n.Gateway, route, n.MTU); err != nil {
		a.release(ip, sb.ContainerID)
		return nil, fmt.Errorf("attach to network %s: %w", n.Name, err)
	}
	sb.Endpoints = append(sb.Endpoints, ep)
	return ep, nil
}

// Connect attaches a running container's sandbox to one more network.
func (m *Manager) Connect(ctx context.Context, containerID string, er EndpointRequest) (Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb := m.sandboxes[containerID]
	if sb == nil {
		return Endpoint{}, errdefs.ErrFailedPrecondition.WithMessage("container is not running")
	}
	ep, err := m.addEndpointLocked(sb, er, nil, len(sb.Endpoints) == 0)
	if err != nil {
		return Endpoint{}, err
	}
	if err := m.putSandbox(sb); err != nil {
		return Endpoint{}, fmt.Errorf("save sandbox: %w", err)
	}
	return *ep, nil
}

// Disconnect removes a running container's endpoint on a network.
func (m *Manager) Disconnect(ctx context.Context, containerID, networkRef string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.findLocked(networkRef)
	if err != nil {
		return err
	}
	sb := m.sandboxes[containerID]
	if sb == nil {
		return nil
	}
	for i, ep := range sb.Endpoints {
		if ep.NetworkID != n.ID {
			continue
		}
		if err := deleteLink(ep.HostVeth); err != nil {
			return err
		}
		if a := m.alloc[n.ID]; a != nil {
			a.release(ep.IP, containerID)
		}
		sb.Endpoints = slices.Delete(sb.Endpoints, i, i+1)
		return m.putSandbox(sb)
	}
	return nil
}

// Sandbox returns a copy of a running container's sandbox, or nil.
func (m *Manager) Sandbox(containerID string) *Sandbox {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		return cloneSandbox(sb)
	}
	return nil
}

// Teardown removes a container's sandbox: ports, endpoints, addresses and
// namespace. A container without one is fine.
func (m *Manager) Teardown(ctx context.Context, containerID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		m.teardownLocked(sb, true)
	}
}

// teardownLocked removes a sandbox. Ports, rules and names go at once;
// with async the links, namespace and addresses are released in the
// background (deleting a link waits for the kernel, ~10 ms), which keeps
// that wait out of `run --rm`.
func (m *Manager) teardownLocked(sb *Sandbox, async bool) {
	defer func(t time.Time) { m.log.Debug("network teardown", "container", sb.ContainerID, "took", time.Since(t)) }(time.Now())
	if c := m.reserved[sb.ContainerID]; c != nil {
		c.Close()
		delete(m.reserved, sb.ContainerID)
	}
	_, known := m.sandboxes[sb.ContainerID]
	delete(m.sandboxes, sb.ContainerID)
	if len(sb.Ports) > 0 && known {
		if err := m.applyLocked(); err != nil {
			m.log.Warn("remove published ports", "container", sb.ContainerID, "err", err)
		}
	}
	if known {
		if err := m.deleteSandbox(sb.ContainerID); err != nil {
			m.log.Warn("forget sandbox", "container", sb.ContainerID, "err", err)
		}
	}
	for _, ep := range sb.Endpoints {
		if a := m.alloc[ep.NetworkID]; a != nil {
			// Held until the link is gone, then freed below.
			if a.used[ep.IP] == sb.ContainerID {
				a.used[ep.IP] = "releasing:" + sb.ContainerID
			}
		}
	}
	release := func() {
		for _, ep := range sb.Endpoints {
			if err := deleteLink(ep.HostVeth); err != nil {
				m.log.Warn("remove veth", "container", sb.ContainerID, "veth", ep.HostVeth, "err", err)
			}
		}
		if err := removeNetNS(sb.NetNS); err != nil {
			m.log.Warn("remove netns", "container", sb.ContainerID, "err", err)
		}
	}
	free := func() {
		for _, ep := range sb.Endpoints {
			if a := m.alloc[ep.NetworkID]; a != nil {
				a.release(ep.IP, "releasing:"+sb.ContainerID)
			}
		}
	}
	if !async {
		release()
		free()
		return
	}
	m.cleanups.Add(1)
	go func() {
		defer m.cleanups.Done()
		release()
		m.mu.Lock()
		free()
		m.mu.Unlock()
	}()
}

// reservePorts re-binds the host ports of a restored sandbox.
func (m *Manager) reservePorts(sb *Sandbox) {
	var cs closers
	for _, pm := range sb.Ports {
		var c io.Closer
		var err error
		if pm.HostIP.Is6() {
			c, err = startProxy6(pm.HostPort, netip.AddrPortFrom(pm.ContainerIP, pm.ContainerPort))
		} else {
			_, c, err = reservePort(pm.Proto, pm.HostIP, pm.HostPort, pm.HostPort)
		}
		if err != nil {
			m.log.Warn("re-reserve published port", "container", sb.ContainerID, "port", pm.HostPort, "err", err)
			continue
		}
		cs = append(cs, c)
	}
	m.reserved[sb.ContainerID] = cs
}

// Reconcile is called once the daemon knows which containers survived its
// absence: the sandboxes of the others are torn down, and veths and
// namespaces nobody owns are removed.
func (m *Manager) Reconcile(ctx context.Context, alive func(containerID string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, sb := range m.sandboxes {
		if !alive(id) {
			m.log.Info("removing the network of a container that is gone", "container", id)
			m.teardownLocked(sb, false)
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
		if n.Driver != DriverBridge {
			continue
		}
		ports, err := bridgePorts(n.Bridge)
		if err != nil {
			continue
		}
		for _, p := range ports {
			if !owned[p] && strings.HasPrefix(p, "veth") {
				m.log.Info("removing a stale veth", "veth", p, "bridge", n.Bridge)
				_ = deleteLink(p)
			}
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
// container is running any more, the bridges and the rules go too (the
// networks stay defined and come back with the next daemon); otherwise
// everything stays so running containers keep their networking.
func (m *Manager) Close() error {
	m.cleanups.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.dns {
		s.close()
		delete(m.dns, id)
	}
	for id, c := range m.reserved {
		c.Close()
		delete(m.reserved, id)
	}
	if len(m.sandboxes) > 0 {
		return nil
	}
	var errs []error
	conn, err := nftables.New()
	if err == nil {
		errs = append(errs, applyRules(conn, m.table, ruleState{}))
		conn.CloseLasting()
	}
	for _, n := range m.networks {
		if n.Driver == DriverBridge {
			errs = append(errs, deleteLink(n.Bridge))
		}
	}
	_ = os.Remove(m.cfg.StateDir)
	return errors.Join(errs...)
}

// HostsEntries returns the /etc/hosts lines of a sandbox: its addresses
// with the container's hostname.
func (sb *Sandbox) HostsEntries(hostname string) string {
	var b strings.Builder
	for _, ep := range sb.Endpoints {
		fmt.Fprintf(&b, "%s\t%s\n", ep.IP, hostname)
	}
	return b.String()
}

// Nameserver is the resolver a container on network ref uses: the embedded
// DNS on the gateway of a user-defined network, zero on the default bridge
// (which uses the host's resolvers, as Docker's does).
func (m *Manager) Nameserver(networkID string) netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.networks[networkID]
	if n == nil || m.dns[networkID] == nil {
		return netip.Addr{}
	}
	if n.Default {
		return netip.Addr{}
	}
	return n.Gateway
}

// DefaultGateway is the default bridge's gateway (its embedded resolver
// forwards to the host's when those are unreachable from containers).
func (m *Manager) DefaultGateway() netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.networks {
		if n.Default && m.dns[n.ID] != nil {
			return n.Gateway
		}
	}
	return netip.Addr{}
}

// Rename changes the DNS name of a running container.
func (m *Manager) Rename(containerID, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		sb.Name = strings.TrimPrefix(name, "/")
		if err := m.putSandbox(sb); err != nil {
			m.log.Warn("save renamed sandbox", "container", containerID, "err", err)
		}
	}
}
