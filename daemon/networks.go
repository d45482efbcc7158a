package daemon

import (
	"context"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/api/backend"
	bnet "github.com/berth-project/berth/daemon/network"
)

// The Engine API side of networking lives in daemon/network (api.go);
// these methods satisfy backend.Backend by calling into it.

// netAPI is the network package's Engine API side over this daemon's
// networking and containers.
func (d *Daemon) netAPI() *bnet.API {
	return &bnet.API{Manager: d.net, Containers: d.containers, Emit: d.emit, Log: d.log}
}

// NetworkList implements backend.Backend: this node's networks and, on a
// swarm manager, the swarm's (scope "swarm") that are not realised here.
func (d *Daemon) NetworkList(ctx context.Context, f backend.Filters) ([]network.Summary, error) {
	local, err := d.netAPI().List(ctx, f)
	if err != nil {
		return nil, err
	}
	swarmNets, err := d.cluster.NetworkList(ctx)
	if err != nil || len(swarmNets) == 0 {
		return local, err
	}
	// A manager's list of swarm networks is the swarm's: a local copy
	// of one the swarm has removed (its last task still going) is not
	// listed, or `stack deploy` right after `stack rm` would take the
	// network for present.
	inSwarm := map[string]bool{}
	for _, n := range swarmNets {
		inSwarm[n.ID] = true
	}
	kept := local[:0]
	for _, n := range local {
		if n.Scope != bnet.ScopeSwarm || inSwarm[n.ID] {
			kept = append(kept, n)
		}
	}
	local = kept
	have := map[string]bool{}
	for _, n := range local {
		have[n.ID] = true
	}
	for _, n := range swarmNets {
		if !have[n.ID] && matchSwarmNetwork(f, n.Network) {
			local = append(local, network.Summary{Network: n.Network})
		}
	}
	return local, nil
}

// matchSwarmNetwork applies `network ls` filters (already validated by
// the local listing) to a swarm network.
func matchSwarmNetwork(f backend.Filters, n network.Network) bool {
	if f.Has("name") && !f.MatchName("name", n.Name) {
		return false
	}
	if f.Has("id") && !f.MatchPrefix("id", n.ID) {
		return false
	}
	if f.Has("driver") && !f.MatchExact("driver", n.Driver) {
		return false
	}
	if f.Has("scope") && !f.MatchExact("scope", n.Scope) {
		return false
	}
	if f.Has("type") && !f.MatchExact("type", "custom") {
		return false
	}
	if f.Has("label") && !f.MatchLabels(n.Labels) {
		return false
	}
	return true
}

// NetworkInspect implements backend.Backend.
func (d *Daemon) NetworkInspect(ctx context.Context, name string) (*network.Inspect, error) {
	n, err := d.netAPI().Inspect(ctx, name)
	if errdefs.IsNotFound(err) {
		if sn, serr := d.cluster.NetworkInspect(ctx, name); serr == nil {
			return &sn, nil
		}
	}
	return n, err
}

// NetworkCreate implements backend.Backend: overlay (swarm-scope)
// networks are the swarm's.
func (d *Daemon) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	if req.Driver == bnet.DriverOverlay || req.Scope == bnet.ScopeSwarm {
		id, err := d.cluster.NetworkCreate(ctx, req)
		if err != nil {
			return nil, err
		}
		return &network.CreateResponse{ID: id}, nil
	}
	return d.netAPI().Create(ctx, req)
}

// NetworkRemove implements backend.Backend.
func (d *Daemon) NetworkRemove(ctx context.Context, name string) error {
	if d.cluster.IsManager() {
		if sn, err := d.cluster.NetworkInspect(ctx, name); err == nil && (sn.ID == name || sn.Name == name || len(name) < len(sn.ID) && sn.ID[:len(name)] == name) {
			if local, lerr := d.net.Get(sn.ID); lerr != nil || local.Scope == bnet.ScopeSwarm {
				return d.cluster.NetworkRemove(ctx, sn.ID)
			}
		}
	}
	return d.netAPI().Remove(ctx, name)
}

// NetworksPrune implements backend.Backend.
func (d *Daemon) NetworksPrune(ctx context.Context, f backend.Filters) (*network.PruneReport, error) {
	return d.netAPI().Prune(ctx, f)
}

// NetworkConnect implements backend.Backend.
func (d *Daemon) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	if err := d.netAPI().Connect(ctx, name, req); err != nil {
		return err
	}
	return d.life.RefreshEtcFiles(ctx, req.Container)
}

// NetworkDisconnect implements backend.Backend.
func (d *Daemon) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	if err := d.netAPI().Disconnect(ctx, name, req); err != nil {
		return err
	}
	return d.life.RefreshEtcFiles(ctx, req.Container)
}

// portSummaries renders NetworkSettings.Ports as `ps` shows them.
func portSummaries(ports network.PortMap) []apicontainer.PortSummary {
	return bnet.PortSummaries(ports)
}
