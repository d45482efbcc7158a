package cluster

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"

	"github.com/berth-project/berth/daemon/cluster/convert"
	bnet "github.com/berth-project/berth/daemon/network"
)

// Swarm-scope networks through /networks: the daemon sends `network
// create -d overlay` here and merges these into its lists.

// IsManager reports whether this node can answer for the swarm's
// networks (an active manager).
func (c *Cluster) IsManager() bool {
	_, _, _, err := c.manager()
	return err == nil
}

// NetworkCreate creates a swarm-scope network.
func (c *Cluster) NetworkCreate(ctx context.Context, req network.CreateRequest) (string, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return "", err
	}
	if req.Driver == "" {
		req.Driver = "overlay"
	}
	if req.Driver != "overlay" {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network driver %q is not supported for swarm-scoped networks: use overlay", req.Driver))
	}
	if req.Name == "ingress" || req.Ingress {
		// One ingress network: SwarmKit made it at init.
		if req.Ingress {
			return "", errdefs.ErrConflict.WithMessage("ingress network already exists")
		}
	}
	if _, err := c.networkID(ctx, ctl, req.Name); err == nil {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", req.Name))
	}
	if _, ok := req.Options[bnet.OverlayOptEncrypted]; ok {
		// Refused rather than created in the clear: the nodes could not
		// encrypt it (checked on this manager; nodes should match it).
		if err := bnet.IPsecSupported(); err != nil {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot create an encrypted overlay network: %v", err))
		}
	}
	spec := convert.NetworkCreateToGRPC(req.Name, req)
	r, err := ctl.CreateNetwork(ctx, &swarmapi.CreateNetworkRequest{Spec: &spec})
	if err != nil {
		return "", statusErr(err)
	}
	return r.Network.ID, nil
}

// NetworkList lists the swarm's networks; a node that is not a manager
// has none to add.
func (c *Cluster) NetworkList(ctx context.Context) ([]network.Inspect, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, nil
	}
	r, err := ctl.ListNetworks(ctx, &swarmapi.ListNetworksRequest{})
	if err != nil {
		return nil, statusErr(err)
	}
	var out []network.Inspect
	for _, n := range r.Networks {
		// The swarm's records of the engine's own bridge and host
		// networks are listed by the engine itself.
		if networkallocator.IsIngressNetwork(n) || !predefined(n) {
			out = append(out, convert.NetworkFromGRPC(n))
		}
	}
	return out, nil
}

// NetworkInspect returns a swarm network by ID, name or ID prefix.
func (c *Cluster) NetworkInspect(ctx context.Context, ref string) (network.Inspect, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return network.Inspect{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	id, err := c.networkID(ctx, ctl, ref)
	if err != nil {
		return network.Inspect{}, err
	}
	r, err := ctl.GetNetwork(ctx, &swarmapi.GetNetworkRequest{NetworkID: id})
	if err != nil {
		return network.Inspect{}, statusErr(err)
	}
	return convert.NetworkFromGRPC(r.Network), nil
}

// NetworkRemove removes a swarm network no service uses.
func (c *Cluster) NetworkRemove(ctx context.Context, ref string) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	id, err := c.networkID(ctx, ctl, ref)
	if err != nil {
		return err
	}
	_, err = ctl.RemoveNetwork(ctx, &swarmapi.RemoveNetworkRequest{NetworkID: id})
	return statusErr(err)
}
