package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A swarm network across nodes: on every node that has it, the network's
// bridge (ov-<id>) has a VXLAN device (vx-<id>, the network's VNI from
// the swarm's allocator, UDP 4789 from this node's underlay address) as
// a port. The device learns nothing: the cluster programs, for each task
// of the network on another node, a neighbour entry (task IP → its MAC,
// which berth derives from the IP) that the device answers ARP from, and
// a forwarding entry (MAC → that node's underlay address). So a frame to
// a remote task leaves this node in one UDP packet to the right node, and
// nothing floods.
//
// The ingress network also gets this node's load-balancer endpoint: a
// veth (lb-<id> in the host, lp-<id> on the bridge) holding the address
// the swarm gave this node on the ingress network. Connections the
// routing mesh sends to a task leave with that source address, so the
// task's answer comes back through this node, which undoes its NAT.

// OverlayOptVNI is the driver option holding a swarm network's VXLAN
// identifiers (SwarmKit's name for it).
const OverlayOptVNI = "com.docker.network.driver.overlay.vxlanid_list"

// overlayMTU leaves room for the VXLAN header on a 1500-byte underlay.
const overlayMTU = 1450

// Underlay is this node's address and port for VXLAN traffic; the zero
// Underlay means the node is in no multi-host swarm (its swarm networks
// stay local bridges).
type Underlay struct {
	Addr netip.Addr
	Port int // UDP, 4789 by default
}

// OverlayPeer is a task (or a node's load-balancer endpoint) of a swarm
// network on another node.
type OverlayPeer struct {
	IP   netip.Addr // on the overlay
	VTEP netip.Addr // the node's underlay address
}

// vxlanPlane is the multi-host state the overlay driver reads.
type vxlanPlane struct {
	mu      sync.Mutex
	under   Underlay
	peers   map[string][]OverlayPeer // network ID → desired peers
	written map[string]map[netip.Addr]netip.Addr
	lb      map[string]netip.Addr // network ID → this node's LB address
	// ipsecKeys are the swarm's keys for encrypted overlays, oldest
	// first (ipsec.go).
	ipsecKeys [][]byte
	// peersFailed: the last SetOverlayPeers did not program everything.
	peersFailed bool
}

func newVXLANPlane() *vxlanPlane {
	return &vxlanPlane{peers: map[string][]OverlayPeer{}, written: map[string]map[netip.Addr]netip.Addr{}, lb: map[string]netip.Addr{}}
}

func vxlanName(n *Network) string { return "vx-" + n.ID[:12] }
func lbName(n *Network) string    { return "lb-" + n.ID[:12] }
func lbPeerName(n *Network) string {
	return "lp-" + n.ID[:12]
}

// vniOf is the network's first VXLAN identifier.
func vniOf(n *Network) (int, bool) {
	s := strings.Split(n.Options[OverlayOptVNI], ",")[0]
	v, err := strconv.Atoi(strings.TrimSpace(s))
	return v, err == nil && v > 0
}

// up gives n its VXLAN device (and LB endpoint) when the node has an
// underlay, then programs its peers.
func (p *vxlanPlane) up(n *Network) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upLocked(n)
}

func (p *vxlanPlane) upLocked(n *Network) error {
	vni, ok := vniOf(n)
	if !p.under.Addr.IsValid() || !ok {
		return nil
	}
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("overlay %s: %w", n.Name, err)
	}
	name := vxlanName(n)
	if l, err := netlink.LinkByName(name); err == nil {
		vx, isVX := l.(*netlink.Vxlan)
		if !isVX || vx.VxlanId != vni || !vx.SrcAddr.Equal(p.under.Addr.AsSlice()) || vx.Port != p.under.Port {
			_ = netlink.LinkDel(l) // made for another underlay
			delete(p.written, n.ID)
		}
	}
	if _, err := netlink.LinkByName(name); err != nil {
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: overlayMTU, MasterIndex: br.Attrs().Index},
			VxlanId:   vni, SrcAddr: p.under.Addr.AsSlice(), Port: p.under.Port, Learning: false, Proxy: true,
		}
		if err := netlink.LinkAdd(vx); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("overlay %s: create %s (VNI %d): %w", n.Name, name, vni, err)
		}
		delete(p.written, n.ID)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("overlay %s: attach %s: %w", n.Name, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("overlay %s: bring up %s: %w", n.Name, name, err)
	}
	if lb, ok := p.lb[n.ID]; ok && n.Ingress {
		if err := plugLB(n, br, lb); err != nil {
			return err
		}
	}
	return p.programLocked(n, l)
}

// down removes what up made (the bridge goes after it).
func (p *vxlanPlane) down(n *Network) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range []string{vxlanName(n), lbName(n)} {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
	}
	delete(p.written, n.ID)
}

// programLocked makes the device's neighbour and forwarding entries those
// of the network's peers.
func (p *vxlanPlane) programLocked(n *Network, vx netlink.Link) error {
	want := map[netip.Addr]netip.Addr{}
	for _, peer := range p.peers[n.ID] {
		if peer.VTEP != p.under.Addr {
			want[peer.IP] = peer.VTEP
		}
	}
	have := p.written[n.ID]
	var errs []error
	for ip, vtep := range have {
		if want[ip] != vtep {
			mac := macFor(ip)
			_ = netlink.NeighDel(&netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_INET, IP: ip.AsSlice(), HardwareAddr: mac})
			_ = netlink.NeighDel(&netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, IP: vtep.AsSlice(), HardwareAddr: mac})
		}
	}
	written := map[netip.Addr]netip.Addr{}
	for ip, vtep := range want {
		if have[ip] == vtep {
			written[ip] = vtep
			continue
		}
		mac := macFor(ip)
		if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT, IP: vtep.AsSlice(), HardwareAddr: mac}); err != nil {
			errs = append(errs, fmt.Errorf("overlay %s: forwarding entry %s → %s: %w", n.Name, mac, vtep, err))
			continue
		}
		if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: ip.AsSlice(), HardwareAddr: mac}); err != nil {
			errs = append(errs, fmt.Errorf("overlay %s: neighbour %s: %w", n.Name, ip, err))
			continue
		}
		written[ip] = vtep
	}
	p.written[n.ID] = written
	return errors.Join(errs...)
}

// plugLB makes the node's load-balancer endpoint on the ingress bridge.
func plugLB(n *Network, br netlink.Link, addr netip.Addr) error {
	name := lbName(n)
	l, err := netlink.LinkByName(name)
	if err == nil {
		if addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4); len(addrs) == 1 && addrs[0].IP.Equal(addr.AsSlice()) {
			return nil
		}
		_ = netlink.LinkDel(l)
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: macFor(addr), MTU: overlayMTU},
		PeerName:  lbPeerName(n),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("ingress load-balancer endpoint: %w", err)
	}
	host, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	peer, err := netlink.LinkByName(lbPeerName(n))
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMTU(peer, overlayMTU); err != nil {
		return err
	}
	if err := netlink.LinkSetMaster(peer, br); err != nil {
		return fmt.Errorf("ingress load-balancer endpoint: %w", err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		return fmt.Errorf("ingress load-balancer address %s: %w", addr, err)
	}
	// Answers from tasks arrive here though their source is routed via
	// the bridge: loose reverse-path filtering for this link.
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/rp_filter", []byte("2"), 0o644)
	for _, l := range []netlink.Link{host, peer} {
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
	}
	return nil
}

// SetUnderlay sets this node's VXLAN address (the zero Underlay: none) and
// realises it on every swarm network here.
func (m *Manager) SetUnderlay(ctx context.Context, u Underlay) error {
	if u.Addr.IsValid() && u.Port == 0 {
		u.Port = 4789
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vx.mu.Lock()
	m.vx.under = u
	m.vx.mu.Unlock()
	var errs []error
	for _, n := range m.overlaysLocked() {
		if !u.Addr.IsValid() {
			m.vx.down(n)
			continue
		}
		if err := m.vx.up(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.ipsecLocked(); err != nil {
		errs = append(errs, err)
	}
	if err := m.applyLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SetOverlayPeers replaces the remote tasks of every swarm network (by
// network ID) and programs them where the network is here.
func (m *Manager) SetOverlayPeers(ctx context.Context, peers map[string][]OverlayPeer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[string][]OverlayPeer{}
	for id, ps := range peers {
		sorted := append([]OverlayPeer(nil), ps...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].IP.Less(sorted[j].IP) })
		want[id] = sorted
	}
	m.vx.mu.Lock()
	same := reflect.DeepEqual(want, m.vx.peers) && !m.vx.peersFailed
	m.vx.peers = want
	m.vx.mu.Unlock()
	if same {
		return nil // called every half second: nothing to do
	}
	var errs []error
	for _, n := range m.overlaysLocked() {
		if err := m.vx.up(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.ipsecLocked(); err != nil {
		errs = append(errs, err)
	}
	m.vx.mu.Lock()
	m.vx.peersFailed = len(errs) > 0 // tried again next time
	m.vx.mu.Unlock()
	return errors.Join(errs...)
}

// SetIPsecKeys gives the swarm's keys for encrypted overlays (oldest
// first) and reprograms the node's IPsec states.
func (m *Manager) SetIPsecKeys(ctx context.Context, keys [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vx.mu.Lock()
	same := len(keys) == len(m.vx.ipsecKeys)
	for i := 0; same && i < len(keys); i++ {
		same = string(keys[i]) == string(m.vx.ipsecKeys[i])
	}
	m.vx.ipsecKeys = keys
	m.vx.mu.Unlock()
	if same {
		return nil
	}
	return m.ipsecLocked()
}

// ipsecLocked programs IPsec for the encrypted overlays here, and the
// marking rules with it.
func (m *Manager) ipsecLocked() error {
	nets := m.overlaysLocked()
	m.vx.mu.Lock()
	var err error
	if m.vx.under.Addr.IsValid() {
		err = m.vx.programIPsecLocked(nets)
	} else {
		err = m.vx.programIPsecLocked(nil)
	}
	m.vx.mu.Unlock()
	return errors.Join(err, m.applyLocked())
}

// encryptedVNIsLocked lists the VNIs of the encrypted overlays here.
func (m *Manager) encryptedVNIsLocked() (int, []int) {
	m.vx.mu.Lock()
	defer m.vx.mu.Unlock()
	if !m.vx.under.Addr.IsValid() || len(m.vx.ipsecKeys) == 0 {
		return 0, nil
	}
	var vnis []int
	for _, n := range m.overlaysLocked() {
		if v, ok := vniOf(n); ok && encrypted(n) {
			vnis = append(vnis, v)
		}
	}
	return m.vx.under.Port, vnis
}

// SetIngressLB gives this node's load-balancer address on the ingress
// network (the swarm allocates one per node); invalid addr removes it.
func (m *Manager) SetIngressLB(ctx context.Context, netID string, addr netip.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vx.mu.Lock()
	if addr.IsValid() {
		m.vx.lb[netID] = addr
	} else {
		delete(m.vx.lb, netID)
	}
	m.vx.mu.Unlock()
	if n, ok := m.networks[netID]; ok && n.Driver == DriverOverlay {
		if !addr.IsValid() {
			if l, err := netlink.LinkByName(lbName(n)); err == nil {
				_ = netlink.LinkDel(l)
			}
		} else if err := m.vx.up(n); err != nil {
			return err
		}
	}
	return m.applyLocked()
}

// lbRulesLocked is the SNAT of mesh connections to this node's LB
// address, for the ruleset (only with an underlay: on one host the
// tasks' answers come back through this node anyway).
func (m *Manager) lbRulesLocked() []lbSNAT {
	m.vx.mu.Lock()
	defer m.vx.mu.Unlock()
	if !m.vx.under.Addr.IsValid() {
		return nil
	}
	var out []lbSNAT
	for id, addr := range m.vx.lb {
		if n, ok := m.networks[id]; ok && n.Ingress {
			out = append(out, lbSNAT{bridge: n.Bridge, addr: addr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].bridge < out[j].bridge })
	return out
}

// overlaysLocked lists the swarm networks realised here.
func (m *Manager) overlaysLocked() []*Network {
	var out []*Network
	for _, n := range m.networks {
		if n.Driver == DriverOverlay {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// lbSNAT is one ingress network's source NAT to the node's LB address.
type lbSNAT struct {
	bridge string
	addr   netip.Addr
}
