package network

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// Driver is what one kind of network (bridge; overlay next) does in the
// kernel. The Manager keeps what every kind shares — the stored records,
// IPAM, the sandboxes and their published ports, the DNS servers and the
// daemon's one nftables table — and calls the driver a network names
// (Network.Driver) for the rest. The Manager's lock is held during every
// call but Leave's from a background teardown, so a driver needs no lock
// of its own for the state the Manager passes it.
type Driver interface {
	// Name is what this driver's networks record in Network.Driver, and
	// what `network create -d` names.
	Name() string
	// Endpoints reports whether containers get endpoints on this driver's
	// networks: an interface in a sandbox of their own, an address from
	// the network's IPAM, names in its DNS. host and null networks have
	// none (the container has the host's namespace, or loopback only).
	Endpoints() bool
	// Configure validates a new network's request and fills in the
	// driver's part of n (link name, subnet and gateway, MTU); existing
	// are the daemon's other networks. It creates nothing in the kernel.
	// The host-wide network lock is held.
	Configure(n *Network, req CreateRequest, existing []*Network) error
	// Up creates (or adopts) a network's kernel objects: when it is
	// created and at every daemon start. The host-wide lock is held.
	Up(ctx context.Context, n *Network) error
	// Down removes them: when the network is removed, or when the daemon
	// stops and no container runs any more. Nothing left is not an error.
	Down(ctx context.Context, n *Network) error
	// Join plugs ep (its IP, prefix, gateway and interface name decided)
	// into the network namespace at netns and records the host-side link
	// in ep.HostVeth; with route the namespace's default route goes via
	// the network's gateway. On error nothing is left behind.
	Join(ctx context.Context, n *Network, netns string, ep *Endpoint, route bool) error
	// Leave unplugs ep; an endpoint already gone is not an error.
	Leave(ctx context.Context, n *Network, ep *Endpoint) error
	// Rules is what n contributes to the daemon's nftables ruleset (see
	// nft.go); published ports are the Manager's and come on top.
	Rules(n *Network) []ruleNetwork
	// Reconcile removes, at daemon start, what the driver left in the
	// kernel of endpoints nobody owns; owned holds the host-side link
	// names of the endpoints of surviving sandboxes.
	Reconcile(ctx context.Context, n *Network, owned map[string]bool)
}

// errDriverNotFound is dockerd's answer (404) to a network driver it has
// neither built in nor as a plugin.
func errDriverNotFound(name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", name))
}

// driver returns the driver called name.
func (m *Manager) driver(name string) (Driver, error) {
	if d, ok := m.drivers[name]; ok {
		return d, nil
	}
	return nil, errDriverNotFound(name)
}

// driverOf returns the driver of n, or nil (a record from a driver this
// daemon does not have).
func (m *Manager) driverOf(n *Network) Driver {
	return m.drivers[n.Driver]
}

// builtinDrivers are the drivers every Manager has.
func builtinDrivers(b *bridgeDriver, vx *vxlanPlane) map[string]Driver {
	ds := map[string]Driver{}
	for _, d := range []Driver{b, overlayDriver{b, vx}, namespaceDriver{name: DriverHost}, namespaceDriver{name: DriverNull}} {
		ds[d.Name()] = d
	}
	return ds
}

// namespaceDriver is host and null: one predefined network each, no
// endpoints (a container on host shares the host's namespace, one on none
// has loopback only), nothing in the kernel.
type namespaceDriver struct{ name string }

func (d namespaceDriver) Name() string    { return d.name }
func (d namespaceDriver) Endpoints() bool { return false }

// Configure refuses a second network, in dockerd's words (403).
func (d namespaceDriver) Configure(*Network, CreateRequest, []*Network) error {
	return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("only one instance of %q network is allowed", d.name))
}

func (namespaceDriver) Up(context.Context, *Network) error   { return nil }
func (namespaceDriver) Down(context.Context, *Network) error { return nil }

func (d namespaceDriver) Join(_ context.Context, n *Network, _ string, _ *Endpoint, _ bool) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container cannot be connected to network %s: it is not a bridge network", n.Name))
}

func (namespaceDriver) Leave(context.Context, *Network, *Endpoint) error     { return nil }
func (namespaceDriver) Rules(*Network) []ruleNetwork                         { return nil }
func (namespaceDriver) Reconcile(context.Context, *Network, map[string]bool) {}
