package network

import (
	"net/netip"
	"time"
)

// Drivers of the networks berth knows.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Network is a network as stored.
type Network struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Driver   string       `json:"driver"`
	Bridge   string       `json:"bridge,omitempty"` // link name (bridge driver)
	Subnet   netip.Prefix `json:"subnet,omitzero"`
	IPRange  netip.Prefix `json:"ip_range,omitzero"`
	Gateway  netip.Addr   `json:"gateway,omitzero"`
	UserIPAM bool         `json:"user_ipam,omitempty"` // subnet given by the user: --ip allowed
	Internal bool         `json:"internal,omitempty"`
	// Attachable and IPv6 are recorded as asked; berth's bridges are IPv4.
	Attachable bool              `json:"attachable,omitempty"`
	EnableIPv6 bool              `json:"enable_ipv6,omitempty"`
	MTU        int               `json:"mtu,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Created    time.Time         `json:"created"`
	// Default marks the predefined bridge network ("bridge").
	Default bool `json:"default,omitempty"`
	// Scope is "" (local) or ScopeSwarm.
	Scope string `json:"scope,omitempty"`
	// Ingress marks the swarm's routing-mesh network.
	Ingress bool `json:"ingress,omitempty"`
}

// Predefined reports whether n is one of bridge, host and none.
func (n *Network) Predefined() bool {
	return n.Default || n.Driver == DriverHost || n.Driver == DriverNull
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	ID        string       `json:"id"`
	NetworkID string       `json:"network_id"`
	IfName    string       `json:"ifname"`    // inside the container: eth0, eth1…
	HostVeth  string       `json:"host_veth"` // the host side of the veth pair
	IP        netip.Addr   `json:"ip"`
	Bits      int          `json:"bits"`
	Gateway   netip.Addr   `json:"gateway"`
	MAC       string       `json:"mac"`
	Aliases   []string     `json:"aliases,omitempty"`
	DNS       []netip.Addr `json:"dns,omitempty"` // the container's --dns: upstreams for its queries
}

// Sandbox is a running container's network namespace with its endpoints
// and published ports.
type Sandbox struct {
	ContainerID string        `json:"container_id"`
	Name        string        `json:"name"` // container name, without the leading slash
	NetNS       string        `json:"netns"`
	Endpoints   []*Endpoint   `json:"endpoints"`
	Ports       []PortMapping `json:"ports,omitempty"`
}

// EndpointRequest asks for an endpoint on a network (by name or ID).
type EndpointRequest struct {
	Network string
	Aliases []string
	IP      netip.Addr // static address (--ip); zero: allocate
}

// SetupRequest describes a container's networking at start.
type SetupRequest struct {
	ContainerID string
	Name        string
	Endpoints   []EndpointRequest // bridge networks; empty: loopback only
	Ports       []PortRequest
	DNS         []netip.Addr // --dns
}

// CreateRequest is `network create`.
type CreateRequest struct {
	// ID is given for a swarm network (the swarm's ID); empty: new.
	ID         string
	Scope      string // "" or ScopeSwarm
	Ingress    bool
	Name       string
	Driver     string
	Subnet     netip.Prefix
	IPRange    netip.Prefix
	Gateway    netip.Addr
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Options    map[string]string
	Labels     map[string]string
}
