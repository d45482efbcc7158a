package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// bridgeDriver is the bridge driver: each network is a Linux bridge
// (berth0 for the predefined one, br-<id[:12]> or -o
// com.docker.network.bridge.name= otherwise) holding the gateway address,
// and each endpoint a veth pair, host side on the bridge. The kernel calls
// live in link.go; NAT and isolation come from the Rules it contributes.
type bridgeDriver struct {
	log *slog.Logger
}

// Bridge driver options (`network create -o`).
const (
	optBridgeName = "com.docker.network.bridge.name"
	optMTU        = "com.docker.network.driver.mtu"
)

func (*bridgeDriver) Name() string    { return DriverBridge }
func (*bridgeDriver) Endpoints() bool { return true }

// Configure names the bridge, takes the MTU, and chooses the subnet.
func (d *bridgeDriver) Configure(n *Network, req CreateRequest, existing []*Network) error {
	n.Bridge = "br-" + n.ID[:12]
	for k, v := range req.Options {
		switch k {
		case optBridgeName:
			if len(v) == 0 || len(v) > 15 || strings.ContainsAny(v, "/ \t") {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid bridge name %q", v))
			}
			for _, o := range existing {
				if o.Bridge == v {
					return errdefs.ErrConflict.WithMessage(fmt.Sprintf("bridge name %s is used by network %s", v, o.Name))
				}
			}
			if err := checkBridgeName(v); err != nil {
				return err
			}
			n.Bridge = v
		case optMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65535 {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MTU %q", v))
			}
			n.MTU = mtu
		}
	}
	return d.chooseSubnet(n, existing, req.Subnet, req.IPRange, req.Gateway)
}

// loopbackNet is 127.0.0.0/8, never routable to a bridge.
var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

// chooseSubnet fills in n's subnet and gateway: the user's, or the first
// default pool that overlaps neither a host route nor another network.
func (d *bridgeDriver) chooseSubnet(n *Network, existing []*Network, subnet, ipRange netip.Prefix, gw netip.Addr) error {
	if subnet.IsValid() {
		if !subnet.Addr().Is4() {
			return errdefs.ErrInvalidArgument.WithMessage("berth bridge networks are IPv4: invalid subnet " + subnet.String())
		}
		if !gw.IsValid() && subnet.Addr() != subnet.Masked().Addr() {
			gw = subnet.Addr() // --bip 172.30.0.1/16 names the gateway
		}
		subnet = subnet.Masked()
		if loopbackNet.Overlaps(subnet) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid subnet %s: it overlaps with the loopback range %s", subnet, loopbackNet))
		}
		for _, o := range existing {
			if o.Subnet.IsValid() && o.Subnet.Overlaps(subnet) {
				return errdefs.ErrInvalidArgument.WithMessage("invalid pool request: Pool overlaps with other one on this address space")
			}
		}
	} else {
		used, err := hostRoutes()
		if err != nil {
			return err
		}
		for _, o := range existing {
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

// Up creates or adopts the bridge with the gateway address.
func (*bridgeDriver) Up(_ context.Context, n *Network) error {
	return ensureBridge(n.Bridge, n.Gateway, n.Subnet.Bits(), n.MTU)
}

// Down deletes the bridge.
func (*bridgeDriver) Down(_ context.Context, n *Network) error {
	return deleteLink(n.Bridge)
}

// vethName names the host side of a new endpoint. Names are random, not
// derived from the container, so a restarting container never collides
// with the links of its previous run that are still being removed.
func vethName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "veth" + hex.EncodeToString(b)[:7]
}

// Join creates the endpoint's veth pair, host side on the bridge.
func (*bridgeDriver) Join(_ context.Context, n *Network, netns string, ep *Endpoint, route bool) error {
	ep.HostVeth = vethName()
	return plugVeth(netns, n.Bridge, ep.HostVeth, ep.IfName, ep.IP, ep.Bits, n.Gateway, route, n.MTU)
}

// Leave deletes the endpoint's veth pair (both ends go together).
func (*bridgeDriver) Leave(_ context.Context, _ *Network, ep *Endpoint) error {
	return deleteLink(ep.HostVeth)
}

// Rules: masquerade, hairpin and isolation for the bridge's subnet.
func (*bridgeDriver) Rules(n *Network) []ruleNetwork {
	return []ruleNetwork{{bridge: n.Bridge, subnet: n.Subnet, internal: n.Internal}}
}

// Reconcile removes the veths on the bridge that no endpoint owns (those
// of containers that ended while the daemon was away).
func (d *bridgeDriver) Reconcile(_ context.Context, n *Network, owned map[string]bool) {
	ports, err := bridgePorts(n.Bridge)
	if err != nil {
		return
	}
	for _, p := range ports {
		if !owned[p] && strings.HasPrefix(p, "veth") {
			d.log.Info("removing a stale veth", "veth", p, "bridge", n.Bridge)
			_ = deleteLink(p)
		}
	}
}
