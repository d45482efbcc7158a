package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/api/types/network"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/daemon/cluster/executor"
)

// LocalNetworks is the engine's networking as the cluster uses it: the
// local realisation of the swarm networks this node's tasks attach to.
type LocalNetworks interface {
	// EnsureSwarmNetwork creates the local network for n unless it exists.
	EnsureSwarmNetwork(ctx context.Context, n SwarmNetwork) error
	// RemoveSwarmNetwork removes it; one still in use stays.
	RemoveSwarmNetwork(ctx context.Context, id string) error
	// RemoveSwarmNetworks removes every local swarm network (this node
	// left the swarm).
	RemoveSwarmNetworks(ctx context.Context)
}

// SwarmNetwork is a swarm network as allocated by the managers.
type SwarmNetwork struct {
	ID, Name   string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	Ingress    bool
	Attachable bool
	Internal   bool
	Labels     map[string]string
	Options    map[string]string
}

// taskNetworks implements executor.Networks over LocalNetworks: it
// creates a swarm network here when the first task needs it and removes
// it after the last one.
type taskNetworks struct {
	local LocalNetworks
	// With a multi-host data plane (dataplane.go), plane gets the node's
	// load-balancer address on the ingress network.
	multiHost atomic.Bool
	plane     MeshSetter
	lb        nodeLB
	lastAtts  []*swarmapi.NetworkAttachment // for a data plane that comes later

	mu    sync.Mutex
	users map[string]map[string]bool // network ID → task IDs
	tasks map[string]*swarmapi.Task  // attached, by ID
	// running holds the attached tasks whose container serves: what
	// gossip announces.
	running map[string]bool
	// gossipKeys are the managers' keys for network discovery, oldest
	// first (SetNetworkKeys).
	gossipKeys [][]byte
	// ipsecKeysOf are its keys for encrypted overlays, oldest first.
	ipsecKeysOf [][]byte
}

func newTaskNetworks(local LocalNetworks, multiHost bool, plane MeshSetter) *taskNetworks {
	tn := &taskNetworks{local: local, plane: plane, users: map[string]map[string]bool{}, tasks: map[string]*swarmapi.Task{}, running: map[string]bool{}}
	tn.multiHost.Store(multiHost)
	return tn
}

// predefined reports whether a swarm network stands for one of the
// engine's own (bridge, host).
func predefined(n *swarmapi.Network) bool {
	if n.DriverState == nil {
		return false
	}
	switch n.DriverState.Name {
	case "bridge", "host", "null":
		return n.Spec.Annotations.Labels["com.docker.swarm.predefined"] == "true" || n.Spec.Annotations.Name == n.DriverState.Name || n.Spec.Annotations.Name == "none"
	}
	return false
}

// Attach implements executor.Networks.
func (tn *taskNetworks) Attach(ctx context.Context, t *swarmapi.Task) ([]executor.AttachedNetwork, error) {
	tn.mu.Lock()
	tn.tasks[t.ID] = t
	tn.mu.Unlock()
	var out []executor.AttachedNetwork
	for _, att := range t.Networks {
		n := att.Network
		if n == nil {
			continue
		}
		name := n.Spec.Annotations.Name
		if predefined(n) {
			out = append(out, executor.AttachedNetwork{Name: name, Endpoint: &network.EndpointSettings{}})
			continue
		}
		sn, err := swarmNetwork(n)
		if err != nil {
			return nil, err
		}
		tn.mu.Lock()
		if tn.users[n.ID] == nil {
			tn.users[n.ID] = map[string]bool{}
		}
		tn.users[n.ID][t.ID] = true
		tn.mu.Unlock()
		if err := tn.local.EnsureSwarmNetwork(ctx, sn); err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		ep := &network.EndpointSettings{Aliases: append([]string{}, att.Aliases...)}
		if len(att.Addresses) > 0 {
			pfx, err := netip.ParsePrefix(att.Addresses[0])
			if err != nil {
				return nil, fmt.Errorf("network %s: task address %q: %w", name, att.Addresses[0], err)
			}
			ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: pfx.Addr()}
		}
		if !n.Spec.Ingress && t.ServiceAnnotations.Name != "" {
			ep.Aliases = append(ep.Aliases, t.ServiceAnnotations.Name)
		}
		out = append(out, executor.AttachedNetwork{Name: n.ID, Endpoint: ep})
	}
	// The first network carries the default route: prefer one that is
	// not the ingress network, as Docker does.
	for i, a := range out {
		if i > 0 && !isIngress(t, a.Name) && isIngress(t, out[0].Name) {
			out[0], out[i] = out[i], out[0]
			break
		}
	}
	return out, nil
}

func isIngress(t *swarmapi.Task, id string) bool {
	for _, att := range t.Networks {
		if att.Network != nil && att.Network.ID == id {
			return att.Network.Spec.Ingress
		}
	}
	return false
}

// Release implements executor.Networks.
func (tn *taskNetworks) Release(ctx context.Context, t *swarmapi.Task) {
	tn.mu.Lock()
	delete(tn.tasks, t.ID)
	delete(tn.running, t.ID)
	tn.mu.Unlock()
	for _, att := range t.Networks {
		n := att.Network
		if n == nil || predefined(n) {
			continue
		}
		tn.mu.Lock()
		delete(tn.users[n.ID], t.ID)
		unused := len(tn.users[n.ID]) == 0
		if unused {
			delete(tn.users, n.ID)
		}
		tn.mu.Unlock()
		if unused {
			_ = tn.local.RemoveSwarmNetwork(ctx, n.ID)
		}
	}
}

// swarmNetwork reads a network's allocation.
func swarmNetwork(n *swarmapi.Network) (SwarmNetwork, error) {
	sn := SwarmNetwork{
		ID: n.ID, Name: n.Spec.Annotations.Name, Ingress: n.Spec.Ingress, Attachable: n.Spec.Attachable,
		Internal: n.Spec.Internal, Labels: n.Spec.Annotations.Labels,
	}
	if n.DriverState != nil {
		sn.Options = n.DriverState.Options
	}
	if n.IPAM == nil || len(n.IPAM.Configs) == 0 {
		return sn, fmt.Errorf("network %s has no address allocation yet", sn.Name)
	}
	cfg := n.IPAM.Configs[0]
	var err error
	if sn.Subnet, err = netip.ParsePrefix(cfg.Subnet); err != nil {
		return sn, fmt.Errorf("network %s: subnet %q: %w", sn.Name, cfg.Subnet, err)
	}
	if cfg.Gateway != "" {
		if sn.Gateway, err = netip.ParseAddr(cfg.Gateway); err != nil {
			return sn, fmt.Errorf("network %s: gateway %q: %w", sn.Name, cfg.Gateway, err)
		}
	}
	return sn, nil
}
