package cluster

import (
	"context"
	"net/netip"
	"slices"
	"time"

	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/daemon/cluster/gossip"
	"github.com/berth-project/berth/daemon/cluster/imageshare"
	bnet "github.com/berth-project/berth/daemon/network"
)

// MeshSetter is the engine's side of the routing mesh, service names and
// the multi-host data plane (daemon/network's Manager).
type MeshSetter interface {
	SetMesh(ctx context.Context, mesh bnet.Mesh) error
	SetUnderlay(ctx context.Context, u bnet.Underlay) error
	SetOverlayPeers(ctx context.Context, peers map[string][]bnet.OverlayPeer) error
	SetIngressLB(ctx context.Context, netID string, addr netip.Addr) error
	SetIPsecKeys(ctx context.Context, keys [][]byte) error
}

// meshPeriod is how often a manager recomputes the mesh from the swarm's
// services and tasks.
const meshPeriod = 500 * time.Millisecond

// runMesh keeps this node's routing mesh and service names in step with
// the swarm while the node runs: a reconcile loop (desired state written
// whole, idempotent). With a multi-host data plane (dataplane.go) the
// desired state comes from every node's gossip record; on one host from
// the managers' store (a worker keeps what it has).
func (c *Cluster) runMesh(ctx context.Context, n *runningNode) {
	if c.cfg.Mesh == nil {
		return
	}
	c.mu.RLock()
	under := underlayAddr(c.st)
	port := int(c.st.DataPathPort)
	// Without any address given, the data path is the one towards the
	// managers, known once SwarmKit has them.
	derive := c.st.AdvertiseAddr == "" && c.st.DataPathAddr == ""
	c.mu.RUnlock()
	kick := make(chan struct{}, 1)
	var g *gossip.Gossip
	var images *imageshare.Server
	var imagesAddr string
	var warned, planeSet bool
	var lastPeerErr string // logged once until it changes
	var joinFails int
	t := time.NewTicker(meshPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.stopDataPlane(n, g, images, under)
			return
		case <-n.done:
			c.stopDataPlane(n, g, images, under)
			return
		case <-t.C:
		case <-kick:
		}
		if !under.IsValid() && derive {
			under = routeAddr(n.Remotes())
		}
		if !under.IsValid() {
			if !derive || len(n.Remotes()) > 0 {
				n.images.setMode(shareOff) // one host: no gossip
			}
			c.meshFromStore(ctx, n)
			continue
		}
		if !planeSet {
			planeSet = true
			n.images.setMode(shareOn)
			if n.nets != nil {
				n.nets.setMultiHost()
			}
			if err := c.cfg.Mesh.SetUnderlay(ctx, bnet.Underlay{Addr: under, Port: port}); err != nil {
				c.log.Warn("swarm data plane", "err", err)
			}
		}
		var keys [][]byte
		if n.nets != nil {
			keys = n.nets.networkKeys()
		}
		if len(keys) == 0 {
			continue // the managers' keys come with the node's session
		}
		if g != nil {
			if err := g.SetKeys(keys); err != nil {
				c.log.Warn("network discovery keys", "err", err)
			}
		}
		if g == nil {
			var err error
			g, err = gossip.Start(gossip.Config{
				Node: n.NodeID(), Bind: netip.AddrPortFrom(under, gossip.DefaultPort), Log: c.log, Keys: keys,
				OnChange: func() {
					select {
					case kick <- struct{}{}:
					default:
					}
				},
			})
			if err != nil {
				if !warned {
					c.log.Warn("swarm network discovery is off: tasks on other nodes are out of reach", "err", err)
					warned = true
				}
				continue
			}
			n.images.setGossip(n.NodeID(), g)
			images, imagesAddr = c.serveImages(n, under)
		}
		if g.Members() < 2 {
			if addrs := gossipJoinAddrs(n.Remotes(), under); len(addrs) > 0 {
				if _, err := g.Join(addrs); err != nil {
					// Not a silent black hole: tasks elsewhere stay out of
					// reach until this works.
					joinFails++
					if joinFails == 10 {
						c.log.Warn("network discovery cannot reach the other nodes: is TCP and UDP 7946 open between them? Tasks on other nodes are out of reach until it is", "addrs", addrs, "err", err)
					}
				} else {
					joinFails = 0
				}
			}
		}
		if n.nets != nil {
			rec := recordOf(under, n.nets.lbAddrs(), n.nets.servingTasks())
			rec.Images = imagesAddr
			g.SetLocal(rec)
		}
		if n.nets != nil {
			if err := c.cfg.Mesh.SetIPsecKeys(ctx, n.nets.ipsecKeys()); err != nil {
				c.log.Warn("encrypted overlays", "err", err)
			}
		}
		mesh, peers := meshOfRecords(g.Records())
		if err := c.cfg.Mesh.SetOverlayPeers(ctx, peers); err != nil {
			if err.Error() != lastPeerErr {
				c.log.Warn("overlay peers", "err", err)
			}
			lastPeerErr = err.Error()
		} else {
			lastPeerErr = ""
		}
		if err := c.cfg.Mesh.SetMesh(ctx, mesh); err != nil {
			c.log.Debug("routing mesh", "err", err)
		}
	}
}

// stopDataPlane empties the mesh and, with gossip, leaves it and stops
// serving images.
func (c *Cluster) stopDataPlane(n *runningNode, g *gossip.Gossip, images *imageshare.Server, under netip.Addr) {
	ctx := context.Background()
	n.images.setGossip("", nil)
	if images != nil {
		_ = images.Close()
	}
	if g != nil {
		g.Leave()
	}
	_ = c.cfg.Mesh.SetMesh(ctx, bnet.Mesh{})
	if under.IsValid() {
		_ = c.cfg.Mesh.SetOverlayPeers(ctx, nil)
		_ = c.cfg.Mesh.SetUnderlay(ctx, bnet.Underlay{})
	}
}

// meshFromStore is one round of the single-host mesh: a manager reads it
// from the store.
func (c *Cluster) meshFromStore(ctx context.Context, n *runningNode) {
	ctl, _ := n.clients()
	if ctl == nil {
		return
	}
	mesh, err := desiredMesh(ctx, ctl)
	if err != nil {
		c.log.Debug("routing mesh", "err", err)
		return
	}
	if err := c.cfg.Mesh.SetMesh(ctx, mesh); err != nil {
		c.log.Debug("routing mesh", "err", err)
	}
}

func desiredMesh(ctx context.Context, ctl swarmapi.ControlClient) (bnet.Mesh, error) {
	svcs, err := ctl.ListServices(ctx, &swarmapi.ListServicesRequest{})
	if err != nil {
		return bnet.Mesh{}, err
	}
	tasks, err := ctl.ListTasks(ctx, &swarmapi.ListTasksRequest{Filters: &swarmapi.ListTasksRequest_Filters{DesiredStates: []swarmapi.TaskState{swarmapi.TaskStateRunning}}})
	if err != nil {
		return bnet.Mesh{}, err
	}
	return meshOf(svcs.Services, tasks.Tasks), nil
}

// meshOf computes the mesh from the swarm's services and tasks: pure, so
// tests can check it without a swarm.
func meshOf(services []*swarmapi.Service, tasks []*swarmapi.Task) bnet.Mesh {
	mesh := bnet.Mesh{Names: map[string]map[string][]netip.Addr{}, VIPs: map[string][]bnet.VIP{}}
	// Addresses of running tasks, by service and network.
	addrs := map[string]map[string][]netip.Addr{}
	// The service's aliases on each network (a stack's service answers
	// to its short name too): service ID → network ID → aliases.
	aliases := map[string]map[string][]string{}
	ingressNets := map[string]bool{}
	for _, t := range tasks {
		if t.Status.State != swarmapi.TaskStateRunning {
			continue
		}
		for _, att := range t.Networks {
			if att.Network == nil || len(att.Addresses) == 0 {
				continue
			}
			if att.Network.Spec.Ingress {
				ingressNets[att.Network.ID] = true
			}
			p, err := netip.ParsePrefix(att.Addresses[0])
			if err != nil {
				continue
			}
			if addrs[t.ServiceID] == nil {
				addrs[t.ServiceID] = map[string][]netip.Addr{}
			}
			addrs[t.ServiceID][att.Network.ID] = append(addrs[t.ServiceID][att.Network.ID], p.Addr())
			if len(att.Aliases) > 0 {
				if aliases[t.ServiceID] == nil {
					aliases[t.ServiceID] = map[string][]string{}
				}
				for _, a := range att.Aliases {
					if !slices.Contains(aliases[t.ServiceID][att.Network.ID], a) {
						aliases[t.ServiceID][att.Network.ID] = append(aliases[t.ServiceID][att.Network.ID], a)
					}
				}
			}
		}
	}
	for _, s := range services {
		name := s.Spec.Annotations.Name
		var ingress string
		for netID, a := range addrs[s.ID] {
			if ingressNets[netID] {
				ingress = netID
				continue
			}
			if mesh.Names[netID] == nil {
				mesh.Names[netID] = map[string][]netip.Addr{}
			}
			// The service's name answers with its VIP on this network (or,
			// with --endpoint-mode dnsrr or no VIP yet, its tasks'
			// addresses); tasks.<name> always with the tasks'.
			if vip, ok := vipOn(s, netID); ok {
				mesh.Names[netID][name] = append(mesh.Names[netID][name], vip)
				mesh.VIPs[netID] = append(mesh.VIPs[netID], bnet.VIP{Addr: vip, Backends: a})
			} else {
				mesh.Names[netID][name] = append(mesh.Names[netID][name], a...)
			}
			mesh.Names[netID]["tasks."+name] = append(mesh.Names[netID]["tasks."+name], a...)
			for _, alias := range aliases[s.ID][netID] {
				if alias != name {
					mesh.Names[netID][alias] = append(mesh.Names[netID][alias], mesh.Names[netID][name]...)
				}
			}
		}
		if s.Endpoint == nil {
			continue
		}
		for _, p := range s.Endpoint.Ports {
			if p.PublishMode != swarmapi.PublishModeIngress || p.PublishedPort == 0 {
				continue
			}
			sp := bnet.ServicePort{Service: name, Proto: protoName(p.Protocol), Port: uint16(p.PublishedPort), TargetPort: uint16(p.TargetPort)}
			if ingress != "" {
				sp.Backends = addrs[s.ID][ingress]
			}
			mesh.Ports = append(mesh.Ports, sp)
		}
	}
	return mesh
}

func protoName(p swarmapi.PortConfig_Protocol) string {
	switch p {
	case swarmapi.ProtocolUDP:
		return "udp"
	case swarmapi.ProtocolSCTP:
		return "sctp"
	}
	return "tcp"
}

// vipOn is the service's virtual IP on a network, if it has one (endpoint
// mode vip).
func vipOn(s *swarmapi.Service, netID string) (netip.Addr, bool) {
	if s.Spec.Endpoint != nil && s.Spec.Endpoint.Mode == swarmapi.ResolutionModeDNSRoundRobin {
		return netip.Addr{}, false
	}
	if s.Endpoint == nil {
		return netip.Addr{}, false
	}
	for _, v := range s.Endpoint.VirtualIPs {
		if v.NetworkID != netID {
			continue
		}
		if p, err := netip.ParsePrefix(v.Addr); err == nil {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}
