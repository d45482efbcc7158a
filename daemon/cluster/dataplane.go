package cluster

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"

	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/daemon/cluster/gossip"
	bnet "github.com/berth-project/berth/daemon/network"
)

// The multi-host data plane. A node whose swarm address is not loopback
// (a machine, a real host) realises its swarm networks with VXLAN
// between nodes, and learns where every task of the swarm is by gossip
// (package gossip), managers and workers alike: the routing mesh,
// service VIPs and DNS are built from every node's record. On one host
// (loopback addresses: several daemons side by side) the swarm networks
// are bridges the daemons share, and managers build the mesh from their
// store as before.

// underlayAddr is this node's data-path address: --data-path-addr, else
// the advertise address; invalid on loopback or when not an IP.
func underlayAddr(st state) netip.Addr {
	s := st.DataPathAddr
	if s == "" {
		s = st.AdvertiseAddr
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsLoopback() || a.IsUnspecified() || !a.Is4() {
		return netip.Addr{}
	}
	return a
}

// routeAddr is the address this host sends from to reach one of the
// managers: the data-path address of a node that joined without
// --advertise-addr (SwarmKit finds its advertised address the same way).
func routeAddr(remotes []swarmapi.Peer) netip.Addr {
	for _, p := range remotes {
		c, err := net.Dial("udp", p.Addr)
		if err != nil {
			continue
		}
		a, _ := netip.ParseAddrPort(c.LocalAddr().String())
		c.Close()
		if ip := a.Addr().Unmap(); ip.Is4() && !ip.IsLoopback() && !ip.IsUnspecified() {
			return ip
		}
		return netip.Addr{}
	}
	return netip.Addr{}
}

// nodeLB is what taskNetworks keeps of the node's own attachments: its
// load-balancer address on the ingress network.
type nodeLB struct {
	mu   sync.Mutex
	addr map[string]netip.Addr // network ID → address
}

// ConfigureNode implements executor.NodeConfigurer: with a multi-host
// data plane, the node realises the ingress network even without a task
// on it (the mesh answers on every node) and plugs its load-balancer
// address in.
func (tn *taskNetworks) ConfigureNode(ctx context.Context, atts []*swarmapi.NetworkAttachment) {
	tn.mu.Lock()
	tn.lastAtts = atts
	tn.mu.Unlock()
	if !tn.multiHost.Load() || tn.plane == nil {
		return
	}
	want := map[string]netip.Addr{}
	for _, att := range atts {
		n := att.Network
		if n == nil || !n.Spec.Ingress || len(att.Addresses) == 0 {
			continue
		}
		p, err := netip.ParsePrefix(att.Addresses[0])
		if err != nil {
			continue
		}
		sn, err := swarmNetwork(n)
		if err != nil {
			continue
		}
		tn.mu.Lock()
		if tn.users[n.ID] == nil {
			tn.users[n.ID] = map[string]bool{}
		}
		tn.users[n.ID]["node-lb"] = true
		tn.mu.Unlock()
		if err := tn.local.EnsureSwarmNetwork(ctx, sn); err != nil {
			continue
		}
		want[n.ID] = p.Addr()
		_ = tn.plane.SetIngressLB(ctx, n.ID, p.Addr())
	}
	tn.lb.mu.Lock()
	tn.lb.addr = want
	tn.lb.mu.Unlock()
}

// SetNetworkKeys implements executor.KeyReceiver: it keeps the gossip
// subsystem's keys, oldest first.
func (tn *taskNetworks) SetNetworkKeys(keys []*swarmapi.EncryptionKey) {
	gossip, ipsec := subsystemKeys(keys, "networking:gossip"), subsystemKeys(keys, "networking:ipsec")
	tn.mu.Lock()
	tn.gossipKeys, tn.ipsecKeysOf = gossip, ipsec
	tn.mu.Unlock()
}

// subsystemKeys is one subsystem's keys, oldest first.
func subsystemKeys(keys []*swarmapi.EncryptionKey, subsystem string) [][]byte {
	var sel []*swarmapi.EncryptionKey
	for _, k := range keys {
		if k.Subsystem == subsystem && len(k.Key) > 0 {
			sel = append(sel, k)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].LamportTime < sel[j].LamportTime })
	out := make([][]byte, 0, len(sel))
	for _, k := range sel {
		out = append(out, append([]byte(nil), k.Key...))
	}
	return out
}

// ipsecKeys is the keys for encrypted overlays, oldest first.
func (tn *taskNetworks) ipsecKeys() [][]byte {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.ipsecKeysOf
}

// networkKeys is the gossip keys, oldest first.
func (tn *taskNetworks) networkKeys() [][]byte {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.gossipKeys
}

// setMultiHost turns the multi-host data plane on once the node's data
// path is known, with the attachments SwarmKit gave before.
func (tn *taskNetworks) setMultiHost() {
	if tn.multiHost.Swap(true) {
		return
	}
	tn.mu.Lock()
	atts := tn.lastAtts
	tn.mu.Unlock()
	tn.ConfigureNode(context.Background(), atts)
}

// lbAddrs is the node's load-balancer addresses.
func (tn *taskNetworks) lbAddrs() map[string]netip.Addr {
	tn.lb.mu.Lock()
	defer tn.lb.mu.Unlock()
	out := make(map[string]netip.Addr, len(tn.lb.addr))
	for k, v := range tn.lb.addr {
		out[k] = v
	}
	return out
}

// TaskRunning implements executor.TaskRunner.
func (tn *taskNetworks) TaskRunning(t *swarmapi.Task, running bool) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if _, ok := tn.tasks[t.ID]; !ok {
		return
	}
	if running {
		tn.running[t.ID] = true
	} else {
		delete(tn.running, t.ID)
	}
}

// servingTasks is the tasks here whose containers serve.
func (tn *taskNetworks) servingTasks() []*swarmapi.Task {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	out := make([]*swarmapi.Task, 0, len(tn.running))
	for id := range tn.running {
		out = append(out, tn.tasks[id])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// recordOf is the node's gossip record: its underlay address, its
// load-balancer addresses and its tasks.
func recordOf(vtep netip.Addr, lbs map[string]netip.Addr, tasks []*swarmapi.Task) gossip.Record {
	r := gossip.Record{VTEP: vtep.String(), LB: map[string]string{}}
	for id, a := range lbs {
		r.LB[id] = a.String()
	}
	for _, t := range tasks {
		gt := gossip.Task{ID: t.ID, ServiceID: t.ServiceID, ServiceName: t.ServiceAnnotations.Name}
		if t.Endpoint != nil {
			gt.DNSRR = t.Endpoint.Spec != nil && t.Endpoint.Spec.Mode == swarmapi.ResolutionModeDNSRoundRobin
			for _, v := range t.Endpoint.VirtualIPs {
				gt.VIPs = append(gt.VIPs, gossip.VIP{Network: v.NetworkID, Addr: v.Addr})
			}
			for _, p := range t.Endpoint.Ports {
				gt.Ports = append(gt.Ports, gossip.Port{Proto: protoName(p.Protocol), Published: p.PublishedPort, Target: p.TargetPort, Ingress: p.PublishMode == swarmapi.PublishModeIngress})
			}
		}
		for _, att := range t.Networks {
			if att.Network == nil || len(att.Addresses) == 0 || predefined(att.Network) {
				continue
			}
			gt.Networks = append(gt.Networks, gossip.Attachment{Network: att.Network.ID, Addr: att.Addresses[0], Ingress: att.Network.Spec.Ingress, Aliases: att.Aliases})
		}
		r.Tasks = append(r.Tasks, gt)
	}
	return r
}

// meshOfRecords is the mesh of the whole swarm and the overlay peers of
// each network, from every node's record: the records are turned into
// the services and tasks meshOf reads, so one and the same computation
// serves managers' stores and gossip.
func meshOfRecords(recs []gossip.Record) (bnet.Mesh, map[string][]bnet.OverlayPeer) {
	services := map[string]*swarmapi.Service{}
	var order []string
	var tasks []*swarmapi.Task
	peers := map[string][]bnet.OverlayPeer{}
	for _, rec := range recs {
		vtep, err := netip.ParseAddr(rec.VTEP)
		if err != nil {
			continue
		}
		for netID, a := range rec.LB {
			if ip, err := netip.ParseAddr(a); err == nil {
				peers[netID] = append(peers[netID], bnet.OverlayPeer{IP: ip, VTEP: vtep})
			}
		}
		for _, t := range rec.Tasks {
			s := services[t.ServiceID]
			if s == nil {
				s = &swarmapi.Service{ID: t.ServiceID, Spec: swarmapi.ServiceSpec{Annotations: swarmapi.Annotations{Name: t.ServiceName}}, Endpoint: &swarmapi.Endpoint{}}
				if t.DNSRR {
					s.Spec.Endpoint = &swarmapi.EndpointSpec{Mode: swarmapi.ResolutionModeDNSRoundRobin}
				}
				for _, v := range t.VIPs {
					s.Endpoint.VirtualIPs = append(s.Endpoint.VirtualIPs, &swarmapi.Endpoint_VirtualIP{NetworkID: v.Network, Addr: v.Addr})
				}
				for _, p := range t.Ports {
					pc := &swarmapi.PortConfig{Protocol: protoOf(p.Proto), PublishedPort: p.Published, TargetPort: p.Target, PublishMode: swarmapi.PublishModeHost}
					if p.Ingress {
						pc.PublishMode = swarmapi.PublishModeIngress
					}
					s.Endpoint.Ports = append(s.Endpoint.Ports, pc)
				}
				services[t.ServiceID] = s
				order = append(order, t.ServiceID)
			}
			st := &swarmapi.Task{ID: t.ID, ServiceID: t.ServiceID, Status: swarmapi.TaskStatus{State: swarmapi.TaskStateRunning}}
			for _, a := range t.Networks {
				st.Networks = append(st.Networks, &swarmapi.NetworkAttachment{
					Network:   &swarmapi.Network{ID: a.Network, Spec: swarmapi.NetworkSpec{Ingress: a.Ingress}},
					Addresses: []string{a.Addr},
					Aliases:   a.Aliases,
				})
				if p, err := netip.ParsePrefix(a.Addr); err == nil {
					peers[a.Network] = append(peers[a.Network], bnet.OverlayPeer{IP: p.Addr(), VTEP: vtep})
				}
			}
			tasks = append(tasks, st)
		}
	}
	sort.Strings(order)
	svcs := make([]*swarmapi.Service, 0, len(order))
	for _, id := range order {
		svcs = append(svcs, services[id])
	}
	return meshOf(svcs, tasks), peers
}

func protoOf(s string) swarmapi.PortConfig_Protocol {
	switch s {
	case "udp":
		return swarmapi.ProtocolUDP
	case "sctp":
		return swarmapi.ProtocolSCTP
	}
	return swarmapi.ProtocolTCP
}

// gossipJoinAddrs is where to find other members: the managers SwarmKit
// knows, at the gossip port, this node excluded.
func gossipJoinAddrs(remotes []swarmapi.Peer, self netip.Addr) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range remotes {
		host, _, err := net.SplitHostPort(p.Addr)
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a == self || seen[host] {
			continue
		}
		seen[host] = true
		out = append(out, net.JoinHostPort(host, strconv.Itoa(gossip.DefaultPort)))
	}
	sort.Strings(out)
	return out
}
