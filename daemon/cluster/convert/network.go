package convert

import (
	"net/netip"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// scopeSwarm is the scope of every network SwarmKit manages.
const scopeSwarm = "swarm"

// networkFromGRPC converts a network as the swarm API shows it inside a
// task's or node's attachments (swarm.Network, not network.Inspect).
func networkFromGRPC(n *swarmapi.Network) swarm.Network {
	if n == nil {
		return swarm.Network{}
	}
	out := swarm.Network{
		ID:   n.ID,
		Meta: metaFromGRPC(n.Meta),
		Spec: swarm.NetworkSpec{
			Annotations:         annotationsFromGRPC(n.Spec.Annotations),
			DriverConfiguration: driverFromGRPC(n.Spec.DriverConfig),
			IPv6Enabled:         n.Spec.Ipv6Enabled,
			Internal:            n.Spec.Internal,
			Attachable:          n.Spec.Attachable,
			Ingress:             IsIngressNetwork(n),
			IPAMOptions:         ipamFromGRPC(n.Spec.IPAM),
			Scope:               scopeSwarm,
		},
		IPAMOptions: ipamFromGRPC(n.IPAM),
	}
	if from := n.Spec.GetNetwork(); from != "" {
		out.Spec.ConfigFrom = &network.ConfigReference{Network: from}
	}
	if n.DriverState != nil {
		out.DriverState = swarm.Driver{Name: n.DriverState.Name, Options: n.DriverState.Options}
	}
	return out
}

// ipamFromGRPC converts IPAM options; subnets and ranges are masked and
// addresses that do not parse are left unset.
func ipamFromGRPC(i *swarmapi.IPAMOptions) *swarm.IPAMOptions {
	if i == nil {
		return nil
	}
	out := &swarm.IPAMOptions{}
	if i.Driver != nil {
		out.Driver = swarm.Driver{Name: i.Driver.Name, Options: i.Driver.Options}
	}
	for _, c := range i.Configs {
		if c == nil {
			continue
		}
		out.Configs = append(out.Configs, swarm.IPAMConfig{
			Subnet:  parseSubnet(c.Subnet),
			Range:   parseSubnet(c.Range),
			Gateway: parseAddr(c.Gateway),
		})
	}
	return out
}

// parseSubnet reads a CIDR (masked, IPv4-mapped addresses unmapped), or
// the zero prefix.
func parseSubnet(s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}
	}
	a := p.Addr()
	bits := p.Bits()
	if a.Is4In6() {
		a = a.Unmap()
		bits -= 96
		if bits < 0 {
			return netip.Prefix{}
		}
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// parseAddr reads an address (unmapped), or the zero address.
func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// IsIngressNetwork reports whether n provides the routing mesh: its spec
// says so, or it is the legacy "ingress" network carrying the
// com.docker.swarm.internal label.
func IsIngressNetwork(n *swarmapi.Network) bool {
	if n == nil {
		return false
	}
	if n.Spec.Ingress {
		return true
	}
	_, internal := n.Spec.Annotations.Labels["com.docker.swarm.internal"]
	return internal && n.Spec.Annotations.Name == "ingress"
}

// NetworkFromGRPC converts a SwarmKit network to what `docker network ls`
// and `docker network inspect` show for it: scope "swarm", IPv4 always
// enabled, the driver and options the allocator settled (DriverState),
// falling back to the requested ones before allocation, and the allocated
// IPAM (again falling back to the requested one). Containers is empty, not
// null, as in dockerd; the caller adds local endpoints, peers and services.
func NetworkFromGRPC(n *swarmapi.Network) network.Inspect {
	if n == nil {
		return network.Inspect{}
	}
	out := network.Inspect{
		Network: network.Network{
			Name:       n.Spec.Annotations.Name,
			ID:         n.ID,
			Created:    timeFromGRPC(n.Meta.CreatedAt),
			Scope:      scopeSwarm,
			EnableIPv4: true,
			EnableIPv6: n.Spec.Ipv6Enabled,
			Internal:   n.Spec.Internal,
			Attachable: n.Spec.Attachable,
			Ingress:    IsIngressNetwork(n),
			Labels:     n.Spec.Annotations.Labels,
		},
		Containers: map[string]network.EndpointResource{},
	}
	if from := n.Spec.GetNetwork(); from != "" {
		out.ConfigFrom = network.ConfigReference{Network: from}
	}
	switch {
	case n.DriverState != nil:
		out.Driver, out.Options = n.DriverState.Name, n.DriverState.Options
	case n.Spec.DriverConfig != nil:
		out.Driver, out.Options = n.Spec.DriverConfig.Name, n.Spec.DriverConfig.Options
	}
	ipam := n.IPAM
	if ipam == nil {
		ipam = n.Spec.IPAM
	}
	if ipam != nil {
		if ipam.Driver != nil {
			out.IPAM.Driver, out.IPAM.Options = ipam.Driver.Name, ipam.Driver.Options
		}
		out.IPAM.Config = make([]network.IPAMConfig, 0, len(ipam.Configs))
		for _, c := range ipam.Configs {
			if c == nil {
				continue
			}
			cfg := network.IPAMConfig{
				Subnet:  parseSubnet(c.Subnet),
				IPRange: parseSubnet(c.Range),
				Gateway: parseAddr(c.Gateway),
			}
			for k, v := range c.Reserved {
				if a := parseAddr(v); a.IsValid() {
					if cfg.AuxAddress == nil {
						cfg.AuxAddress = map[string]netip.Addr{}
					}
					cfg.AuxAddress[k] = a
				}
			}
			out.IPAM.Config = append(out.IPAM.Config, cfg)
		}
	}
	return out
}

// NetworkCreateToGRPC converts POST /networks/create for a swarm-scoped
// network named name (req.Name when name is empty). The driver defaults
// to "overlay" and the IPAM driver to "default"; subnets and ranges are
// sent masked. As in dockerd, Scope, EnableIPv4, ConfigOnly and IPAM
// auxiliary addresses have no SwarmKit counterpart and are not carried.
func NetworkCreateToGRPC(name string, req network.CreateRequest) swarmapi.NetworkSpec {
	if name == "" {
		name = req.Name
	}
	driver := req.Driver
	if driver == "" {
		driver = "overlay"
	}
	spec := swarmapi.NetworkSpec{
		Annotations:  swarmapi.Annotations{Name: name, Labels: req.Labels},
		DriverConfig: &swarmapi.Driver{Name: driver, Options: req.Options},
		Internal:     req.Internal,
		Attachable:   req.Attachable,
		Ingress:      req.Ingress,
	}
	if req.EnableIPv6 != nil {
		spec.Ipv6Enabled = *req.EnableIPv6
	}
	if req.ConfigFrom != nil {
		spec.ConfigFrom = &swarmapi.NetworkSpec_Network{Network: req.ConfigFrom.Network}
	}
	if req.IPAM != nil {
		ipamDriver := req.IPAM.Driver
		if ipamDriver == "" {
			ipamDriver = "default"
		}
		spec.IPAM = &swarmapi.IPAMOptions{Driver: &swarmapi.Driver{Name: ipamDriver, Options: req.IPAM.Options}}
		for _, c := range req.IPAM.Config {
			spec.IPAM.Configs = append(spec.IPAM.Configs, &swarmapi.IPAMConfig{
				Subnet:  subnetString(c.Subnet),
				Range:   subnetString(c.IPRange),
				Gateway: addrString(c.Gateway),
			})
		}
	}
	return spec
}

// subnetString is p unmapped and masked in CIDR form, "" for no prefix.
func subnetString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	if u := parseSubnet(p.String()); u.IsValid() {
		return u.String()
	}
	return p.Masked().String()
}

// addrString is a unmapped, "" for no address.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}
