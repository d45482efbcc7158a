package network

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The swarm's routing mesh and service discovery on this node, as the
// cluster computes them from the swarm's services and tasks: published
// ingress ports that balance over every task, and the names a service
// answers to on each network it is attached to.

// ServicePort is a port published in ingress mode: connections to it on
// any of this node's addresses go round-robin (nftables numgen) to the
// tasks' addresses on the ingress network.
type ServicePort struct {
	Service    string // service name, for errors and logs
	Proto      string // tcp, udp or sctp
	Port       uint16 // published
	TargetPort uint16
	Backends   []netip.Addr
}

// Mesh is the swarm's desired state for this node.
type Mesh struct {
	Ports []ServicePort
	// Names maps a network ID to the service names it resolves: a
	// service's name (its VIP, or its tasks' addresses with dnsrr) and
	// tasks.<name> (its tasks' addresses).
	Names map[string]map[string][]netip.Addr
	// VIPs maps a network ID to the virtual IPs of the services on it.
	VIPs map[string][]VIP
}

// SetMesh replaces the node's routing mesh and service names; rules are
// rewritten only when they change. A published port that a container
// already publishes here is refused, naming it, and the rest applied.
func (m *Manager) SetMesh(ctx context.Context, mesh Mesh) error {
	norm := normalizeMesh(mesh)
	m.mu.Lock()
	defer m.mu.Unlock()
	var conflict error
	var ports []ServicePort
	keep := map[string]bool{}
	for _, sp := range norm.Ports {
		key := fmt.Sprintf("%d/%s", sp.Port, sp.Proto)
		if owner := m.portOwnerLocked(sp.Proto, sp.Port); owner != "" {
			conflict = errdefs.ErrConflict.WithMessage(fmt.Sprintf("port %s of service %s is already in use by container %s on this node", key, sp.Service, owner))
			continue
		}
		if m.meshReserved[key] == nil {
			// Hold the port as a published container port is held, so
			// nothing else on this host takes it.
			// Another daemon of the same swarm on this host may hold it
			// already (it balances over the same tasks): not an error.
			if _, c, err := reservePort(sp.Proto, netip.IPv4Unspecified(), sp.Port, sp.Port); err == nil {
				m.meshReserved[key] = c
			} else {
				m.log.Debug("service port held elsewhere on this host", "port", key, "service", sp.Service, "err", err)
			}
		}
		keep[key] = true
		ports = append(ports, sp)
	}
	for key, c := range m.meshReserved {
		if !keep[key] {
			c.Close()
			delete(m.meshReserved, key)
		}
	}
	m.meshNames = norm.Names
	m.meshVIPs = norm.VIPs
	m.applyVIPsLocked()
	if slices.EqualFunc(ports, m.meshPorts, servicePortEqual) {
		return conflict
	}
	m.meshPorts = ports
	if err := m.applyLocked(); err != nil {
		return err
	}
	return conflict
}

func (m *Manager) portOwnerLocked(proto string, port uint16) string {
	for _, sb := range m.sandboxes {
		for _, p := range sb.Ports {
			if p.Proto == proto && p.HostPort == port {
				return sb.Name
			}
		}
	}
	return ""
}

func servicePortEqual(a, b ServicePort) bool {
	return a.Proto == b.Proto && a.Port == b.Port && a.TargetPort == b.TargetPort && slices.Equal(a.Backends, b.Backends)
}

// normalizeMesh sorts everything, so the same mesh gives the same rules.
func normalizeMesh(in Mesh) Mesh {
	out := Mesh{Names: map[string]map[string][]netip.Addr{}, VIPs: map[string][]VIP{}}
	for id, vips := range in.VIPs {
		for _, v := range vips {
			b := slices.Clone(v.Backends)
			slices.SortFunc(b, func(x, y netip.Addr) int { return x.Compare(y) })
			out.VIPs[id] = append(out.VIPs[id], VIP{Addr: v.Addr, Backends: slices.Compact(b)})
		}
		slices.SortFunc(out.VIPs[id], func(a, b VIP) int { return a.Addr.Compare(b.Addr) })
	}
	for _, sp := range in.Ports {
		sp.Backends = slices.Clone(sp.Backends)
		slices.SortFunc(sp.Backends, func(a, b netip.Addr) int { return a.Compare(b) })
		sp.Backends = slices.Compact(sp.Backends)
		out.Ports = append(out.Ports, sp)
	}
	sort.Slice(out.Ports, func(i, j int) bool {
		a, b := out.Ports[i], out.Ports[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		return a.Port < b.Port
	})
	for id, names := range in.Names {
		nm := map[string][]netip.Addr{}
		for name, addrs := range names {
			a := slices.Clone(addrs)
			slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
			nm[strings.ToLower(name)] = slices.Compact(a)
		}
		out.Names[id] = nm
	}
	return out
}

// meshLookupLocked answers a service name on network id.
func (m *Manager) meshLookupLocked(id, name string) []netip.Addr {
	return m.meshNames[id][strings.ToLower(name)]
}

// meshRules are the ingress ports' rules for the "ports" chain, each a
// numgen lookup in an anonymous map of backends. Each rule comes with the
// map it uses.
type meshRule struct {
	exprs []expr.Any
	set   *nftables.Set
	elems []nftables.SetElement
}

func buildMeshRules(ports []ServicePort) []meshRule {
	var out []meshRule
	for _, sp := range ports {
		if len(sp.Backends) == 0 {
			continue
		}
		set := &nftables.Set{Anonymous: true, Constant: true, IsMap: true, KeyType: nftables.TypeInteger, DataType: nftables.TypeIPAddr}
		var elems []nftables.SetElement
		for i, b := range sp.Backends {
			a := b.As4()
			elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: a[:]})
		}
		e := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNum(sp.Proto)}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(sp.Port)},
			&expr.Numgen{Register: 1, Modulus: uint32(len(sp.Backends)), Type: unix.NFT_NG_INCREMENTAL},
			&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(sp.TargetPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		}
		out = append(out, meshRule{exprs: e, set: set, elems: elems})
	}
	return out
}
