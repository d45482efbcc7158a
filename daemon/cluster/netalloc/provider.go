// Package netalloc is berth's manager-side network allocator for swarm mode:
// it implements SwarmKit's networkallocator.Provider and NetworkAllocator.
//
// It gives every overlay network its subnets (from the network's IPAM
// configuration or from the cluster's default address pools) and VXLAN
// network identifiers, and hands out addresses inside those subnets:
// virtual IPs to services, addresses to tasks and load-balancer addresses to
// nodes. Published ports are SwarmKit's own business. State restored after a
// change of leader (objects that already carry their allocations) is
// reserved rather than allocated anew.
//
// Only the overlay driver and the default IPAM driver are supported for
// swarm-scoped networks. The predefined node-local networks "bridge" and
// "host" are known so that services can attach to them; they get no
// addresses from the manager.
package netalloc

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// DefaultDriver is the network driver of a swarm network whose spec
	// names none.
	DefaultDriver = "overlay"
	// DefaultIPAMDriver is the only IPAM driver swarm networks may use.
	DefaultIPAMDriver = "default"
	// DefaultVXLANUDPPort is the VXLAN data-path port used when none is set.
	DefaultVXLANUDPPort uint32 = 4789
	// DefaultSubnetSize is the prefix length of subnets cut from the default
	// address pools when the configuration gives none.
	DefaultSubnetSize = 24

	// VXLANIDListOption is the overlay driver option that lists a network's
	// VXLAN network identifiers, comma-separated.
	VXLANIDListOption = "com.docker.network.driver.overlay.vxlanid_list"

	// firstVNI and lastVNI bound the VXLAN identifiers handed out.
	firstVNI uint32 = 4096
	lastVNI  uint32 = 1<<24 - 1

	minVXLANUDPPort = 1024
	maxVXLANUDPPort = 49151
)

// DefaultAddrPool is the default address pool used when the configuration
// gives none. It is returned as a fresh slice each time.
func DefaultAddrPool() []string { return []string{"10.0.0.0/8"} }

// isLocalDriver tells whether name is one of Docker's built-in node-local
// drivers: Docker accepts them for swarm-scoped networks, berth does not.
func isLocalDriver(name string) bool {
	switch name {
	case "bridge", "host", "macvlan", "ipvlan", "null":
		return true
	}
	return false
}

// Provider is berth's networkallocator.Provider. The zero value is not
// usable; use NewProvider.
type Provider struct {
	mu        sync.Mutex
	vxlanPort uint32
}

var _ networkallocator.Provider = (*Provider)(nil)

// NewProvider returns a Provider whose VXLAN UDP port is the default.
func NewProvider() *Provider {
	return &Provider{vxlanPort: DefaultVXLANUDPPort}
}

// ValidateNetworkDriver accepts no driver (the overlay default) and the
// overlay driver, and refuses any other with an InvalidArgument status.
func (p *Provider) ValidateNetworkDriver(d *api.Driver) error {
	if d == nil {
		return nil
	}
	if d.Name == "" {
		return status.Errorf(codes.InvalidArgument, "driver name: if driver is specified name is required")
	}
	name := strings.ToLower(d.Name)
	if name == DefaultDriver {
		return nil
	}
	if isLocalDriver(name) {
		return status.Errorf(codes.InvalidArgument, "network driver %q is not supported for swarm-scoped networks", d.Name)
	}
	// berth has no network plugins: this is what Docker answers when the
	// plugin lookup fails.
	return status.Errorf(codes.InvalidArgument, "error during lookup of plugin %s", d.Name)
}

// ValidateIngressNetworkDriver accepts only the overlay driver (or none).
func (p *Provider) ValidateIngressNetworkDriver(d *api.Driver) error {
	if d != nil && d.Name != DefaultDriver {
		return status.Errorf(codes.Unimplemented, "only overlay driver is currently supported for ingress network")
	}
	return p.ValidateNetworkDriver(d)
}

// ValidateIPAMDriver accepts no IPAM driver or the default one.
func (p *Provider) ValidateIPAMDriver(d *api.Driver) error {
	if d == nil {
		return nil
	}
	if d.Name == "" {
		return status.Errorf(codes.InvalidArgument, "driver name: if driver is specified name is required")
	}
	if strings.ToLower(d.Name) == DefaultIPAMDriver {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "error during lookup of plugin %s", d.Name)
}

// PredefinedNetworks returns the node-local networks every node has, so
// that services can attach to them: "bridge" and "host".
func (p *Provider) PredefinedNetworks() []networkallocator.PredefinedNetworkData {
	return []networkallocator.PredefinedNetworkData{
		{Name: "bridge", Driver: "bridge"},
		{Name: "host", Driver: "host"},
	}
}

// SetDefaultVXLANUDPPort sets the VXLAN UDP port of allocators whose
// configuration names none; 0 means the default, 4789.
func (p *Provider) SetDefaultVXLANUDPPort(port uint32) error {
	if port == 0 {
		port = DefaultVXLANUDPPort
	}
	if port < minVXLANUDPPort || port > maxVXLANUDPPort {
		return fmt.Errorf("VXLAN UDP port number is not in valid range (%d-%d): %d", minVXLANUDPPort, maxVXLANUDPPort, port)
	}
	p.mu.Lock()
	p.vxlanPort = port
	p.mu.Unlock()
	return nil
}

// VXLANUDPPort returns the provider's default VXLAN UDP port.
func (p *Provider) VXLANUDPPort() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.vxlanPort == 0 {
		return DefaultVXLANUDPPort
	}
	return p.vxlanPort
}

// NewAllocator returns an allocator configured by cfg; a nil cfg, or one
// with zero fields, takes the defaults (pool 10.0.0.0/8, /24 subnets, the
// provider's VXLAN UDP port).
func (p *Provider) NewAllocator(cfg *networkallocator.Config) (networkallocator.NetworkAllocator, error) {
	var c networkallocator.Config
	if cfg != nil {
		c = *cfg
	}
	poolStrs := c.DefaultAddrPool
	if len(poolStrs) == 0 {
		poolStrs = DefaultAddrPool()
	}
	size := int(c.SubnetSize)
	if c.SubnetSize == 0 {
		size = DefaultSubnetSize
	}
	pools := make([]netip.Prefix, 0, len(poolStrs))
	for _, s := range poolStrs {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid default address pool %q: %w", s, err)
		}
		if !pfx.Addr().Is4() {
			return nil, fmt.Errorf("invalid default address pool %s: only IPv4 pools are supported", s)
		}
		if size < pfx.Bits() || size > 32 {
			return nil, fmt.Errorf("invalid subnet size %d for default address pool %s", size, s)
		}
		pools = append(pools, pfx.Masked())
	}
	port := c.VXLANUDPPort
	if port == 0 {
		port = p.VXLANUDPPort()
	}
	return newAllocator(pools, size, port), nil
}
