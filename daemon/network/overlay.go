package network

import (
	"context"

	"github.com/containerd/errdefs"
)

// DriverOverlay names swarm-scope networks.
const DriverOverlay = "overlay"

// ScopeSwarm marks a network that is the local realisation of a swarm
// network: its ID, name, subnet and gateway come from the swarm's
// allocator (SwarmKit), and the cluster creates and removes it as tasks
// on this node need it.
const ScopeSwarm = "swarm"

// overlayDriver realises a swarm network on this node. On one host it is
// a bridge (ov-<id[:12]>) carrying the subnet the swarm allocated, so
// tasks on this node reach each other at their allocated addresses;
// reaching tasks on other nodes (VXLAN) slots in here, behind the same
// Driver calls.
type overlayDriver struct {
	*bridgeDriver
	vx *vxlanPlane // the multi-host part (vxlan.go)
}

func (overlayDriver) Name() string { return DriverOverlay }

// Configure takes the swarm's subnet and gateway; only the cluster
// creates these networks (with the swarm's ID).
func (d overlayDriver) Configure(n *Network, req CreateRequest, existing []*Network) error {
	if req.Scope != ScopeSwarm || !req.Subnet.IsValid() {
		return errdefs.ErrPermissionDenied.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)
	}
	n.Bridge = "ov-" + n.ID[:12]
	if n.MTU == 0 {
		n.MTU = overlayMTU // the same on every node, with or without VXLAN
	}
	var others []*Network
	for _, o := range existing {
		// Swarm networks may share address space with each other only
		// through the swarm's own allocator; local ones must not overlap.
		if o.Scope != ScopeSwarm {
			others = append(others, o)
		}
	}
	return d.chooseSubnet(n, others, req.Subnet, req.IPRange, req.Gateway)
}

// Up creates or adopts the bridge.
func (d overlayDriver) Up(ctx context.Context, n *Network) error {
	if err := d.bridgeDriver.Up(ctx, n); err != nil {
		return err
	}
	return d.vx.up(n)
}

// Down removes the bridge unless endpoints of another daemon of the same
// swarm on this host still use it (they share the swarm network's bridge,
// which is how tasks of different nodes on one host reach each other).
func (d overlayDriver) Down(ctx context.Context, n *Network) error {
	d.vx.down(n)
	if ports, err := bridgePorts(n.Bridge); err == nil && len(ports) > 0 {
		return nil
	}
	return d.bridgeDriver.Down(ctx, n)
}
