package network

import (
	"net/netip"
	"slices"
	"strings"
)

// The Manager's side of the embedded DNS (dns.go): what each network's
// resolver answers, and which resolver a container is given.

// resolverFor wires network n's resolver to the sandboxes' endpoints.
func (m *Manager) resolverFor(n *Network) *resolver {
	id := n.ID
	return &resolver{
		log: m.log, network: n.Name, forward: !n.Internal,
		lookup: func(client netip.Addr, name string) []netip.Addr {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.lookupForLocked(id, client, name)
		},
		reverse: func(ip netip.Addr) string {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, sb := range m.sandboxes {
				for _, ep := range sb.Endpoints {
					if ep.NetworkID == id && ep.IP == ip && sb.Name != "" {
						return sb.Name + "." + n.Name
					}
				}
			}
			return ""
		},
		upstreams: func(client netip.Addr) []string {
			m.mu.Lock()
			var dnsServers []netip.Addr
			for _, sb := range m.sandboxes {
				for _, ep := range sb.Endpoints {
					if ep.NetworkID == id && ep.IP == client {
						dnsServers = ep.DNS
					}
				}
			}
			m.mu.Unlock()
			if len(dnsServers) > 0 {
				var out []string
				for _, s := range dnsServers {
					out = append(out, netip.AddrPortFrom(s, 53).String())
				}
				return out
			}
			return hostResolvers(m.cfg.ResolvConf)
		},
	}
}

// lookupForLocked resolves name for the container at address client on
// network id: among the endpoints of every user-defined network that
// container is on (this one first, then in the order it joined them), as
// Docker's resolver answers for all of a container's networks. A client
// that is no container here (a swarm load balancer) gets this network's
// names. The default bridge has no container names, as in Docker.
func (m *Manager) lookupForLocked(id string, client netip.Addr, name string) []netip.Addr {
	nets := []string{id}
	for _, sb := range m.sandboxes {
		if !slices.ContainsFunc(sb.Endpoints, func(ep *Endpoint) bool { return ep.NetworkID == id && ep.IP == client }) {
			continue
		}
		for _, ep := range sb.Endpoints {
			if ep.NetworkID != id {
				nets = append(nets, ep.NetworkID)
			}
		}
		break
	}
	for _, nid := range nets {
		if n := m.networks[nid]; n == nil || n.Default {
			continue
		}
		if addrs := m.lookupLocked(nid, name); len(addrs) > 0 {
			return addrs
		}
	}
	return nil
}

// lookupLocked resolves name among the endpoints of network id: container
// names, aliases, and IDs (full or 12 characters).
func (m *Manager) lookupLocked(id, name string) []netip.Addr {
	if addrs := m.meshLookupLocked(id, name); len(addrs) > 0 {
		return slices.Clone(addrs)
	}
	var out []netip.Addr
	for _, sb := range m.sandboxes {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID != id {
				continue
			}
			match := strings.EqualFold(sb.Name, name) || name == sb.ContainerID || (len(sb.ContainerID) >= 12 && name == sb.ContainerID[:12])
			for _, a := range ep.Aliases {
				if strings.EqualFold(a, name) {
					match = true
				}
			}
			if match {
				out = append(out, ep.IP)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// Nameserver is the resolver a container on network ref uses: the embedded
// DNS on the gateway of a user-defined network, zero on the default bridge
// (which uses the host's resolvers, as Docker's does).
func (m *Manager) Nameserver(networkID string) netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.networks[networkID]
	if n == nil || m.dns[networkID] == nil {
		return netip.Addr{}
	}
	if n.Default {
		return netip.Addr{}
	}
	return n.Gateway
}

// DefaultGateway is the default bridge's gateway (its embedded resolver
// forwards to the host's when those are unreachable from containers).
func (m *Manager) DefaultGateway() netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.networks {
		if n.Default && m.dns[n.ID] != nil {
			return n.Gateway
		}
	}
	return netip.Addr{}
}
