package network

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/internal/filters"

	"github.com/berth-project/berth/internal/portrange"
)

// Containers is what the Engine API side needs of the daemon's containers.
type Containers interface {
	Get(idOrName string) (*container.Container, error)
	List() []*container.Container
}

// API is the Engine API side of networking: it answers the /networks
// requests, turns a container's HostConfig and NetworkingConfig into what
// the Manager wires (PortRequests, SetupContainer), and writes the result
// back into the container's NetworkSettings. The root daemon package's
// Backend methods are thin calls into it.
type API struct {
	Manager    *Manager
	Containers Containers
	// Emit publishes an event (the daemon's events stream).
	Emit func(typ events.Type, action events.Action, id string, attrs map[string]string)
	Log  *slog.Logger
}

// endpoints reports whether containers get endpoints on n (bridge, not
// host or null).
func (m *Manager) endpoints(n Network) bool {
	d := m.driverOf(&n)
	return d != nil && d.Endpoints()
}

func scopeOf(n Network) string {
	if n.Scope != "" {
		return n.Scope
	}
	return "local"
}

// apiNetwork renders a network as the Engine API shows it; ipv4: its
// containers get IPv4 addresses.
func apiNetwork(n Network, ipv4 bool) apinet.Network {
	out := apinet.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: scopeOf(n), Driver: n.Driver, Ingress: n.Ingress,
		EnableIPv4: ipv4, EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: n.Attachable,
		IPAM:    apinet.IPAM{Driver: "default", Options: map[string]string{}, Config: []apinet.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels,
	}
	if n.Subnet.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, apinet.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	return out
}

// List is GET /networks.
func (a *API) List(ctx context.Context, f filters.Args) ([]apinet.Summary, error) {
	if err := f.Validate("name", "id", "driver", "type", "label", "label!", "scope", "dangling"); err != nil {
		return nil, err
	}
	if err := f.OneOf("type", "custom", "builtin"); err != nil {
		return nil, err
	}
	dangling, hasDangling, err := f.Bool("dangling")
	if err != nil {
		return nil, err
	}
	out := []apinet.Summary{}
	for _, n := range a.Manager.List() {
		if !networkMatches(n, f) {
			continue
		}
		if hasDangling && dangling != (!n.Predefined() && !a.inUse(n.ID)) {
			continue
		}
		out = append(out, apinet.Summary{Network: apiNetwork(n, a.Manager.endpoints(n))})
	}
	return out, nil
}

// networkMatches applies the already validated list filters but dangling.
func networkMatches(n Network, f filters.Args) bool {
	if !f.MatchName("name", n.Name) || !f.MatchPrefix("id", n.ID) || !f.MatchExact("driver", n.Driver) || !f.MatchExact("scope", "local") {
		return false
	}
	if len(f["type"]) > 0 {
		if (n.Predefined() && !f["type"]["builtin"]) || (!n.Predefined() && !f["type"]["custom"]) {
			return false
		}
	}
	return f.MatchLabels(n.Labels)
}

// inUse reports whether any container (running or not) is attached to
// network id.
func (a *API) inUse(id string) bool {
	for _, c := range a.Containers.List() {
		c.Lock()
		ns := c.NetworkSettings
		used := false
		if ns != nil {
			for _, ep := range ns.Networks {
				if ep != nil && ep.NetworkID == id {
					used = true
				}
			}
		}
		c.Unlock()
		if used {
			return true
		}
	}
	return false
}

// Inspect is GET /networks/{id}.
func (a *API) Inspect(ctx context.Context, name string) (*apinet.Inspect, error) {
	n, err := a.Manager.Get(name)
	if err != nil {
		return nil, err
	}
	res := &apinet.Inspect{Network: apiNetwork(n, a.Manager.endpoints(n)), Containers: map[string]apinet.EndpointResource{}}
	for cid, ep := range a.Manager.Endpoints(n.ID) {
		cname := ""
		if c, err := a.Containers.Get(cid); err == nil {
			c.Lock()
			cname = strings.TrimPrefix(c.Name, "/")
			c.Unlock()
		}
		res.Containers[cid] = apinet.EndpointResource{
			Name: cname, EndpointID: ep.ID, MacAddress: parseMAC(ep.MAC), IPv4Address: netip.PrefixFrom(ep.IP, ep.Bits),
		}
	}
	if n.Driver == DriverHost {
		// Containers on the host network have no endpoint of their own.
		for _, c := range a.Containers.List() {
			c.Lock()
			if c.State.Running && c.HostConfig.NetworkMode.IsHost() {
				res.Containers[c.ID] = apinet.EndpointResource{Name: strings.TrimPrefix(c.Name, "/")}
			}
			c.Unlock()
		}
	}
	return res, nil
}

// createRequest checks POST /networks/create's body and turns it into a
// CreateRequest.
func createRequest(req apinet.CreateRequest) (CreateRequest, error) {
	if req.Name == "" {
		return CreateRequest{}, errdefs.ErrInvalidArgument.WithMessage("network name is required")
	}
	switch req.Name {
	case "bridge", "host", "none", "default":
		return CreateRequest{}, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be created", req.Name))
	}
	if req.Scope != "" && req.Scope != "local" {
		return CreateRequest{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("scope %q is not supported: berth networks are local until swarm mode", req.Scope))
	}
	cr := CreateRequest{
		Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable,
		Options: req.Options, Labels: req.Labels, EnableIPv6: req.EnableIPv6 != nil && *req.EnableIPv6,
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return CreateRequest{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("IPAM driver %q is not supported", req.IPAM.Driver))
		}
		if len(req.IPAM.Config) > 1 {
			return CreateRequest{}, errdefs.ErrInvalidArgument.WithMessage("berth bridge networks take one IPv4 subnet")
		}
		for _, c := range req.IPAM.Config {
			if c.Subnet.IsValid() && !c.Subnet.Addr().Is4() {
				return CreateRequest{}, errdefs.ErrInvalidArgument.WithMessage("berth bridge networks are IPv4: invalid subnet " + c.Subnet.String())
			}
			cr.Subnet, cr.IPRange, cr.Gateway = c.Subnet, c.IPRange, c.Gateway
		}
	}
	return cr, nil
}

// Create is POST /networks/create.
func (a *API) Create(ctx context.Context, req apinet.CreateRequest) (*apinet.CreateResponse, error) {
	cr, err := createRequest(req)
	if err != nil {
		return nil, err
	}
	n, err := a.Manager.Create(ctx, cr)
	if err != nil {
		return nil, err
	}
	a.Emit(events.NetworkEventType, events.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return &apinet.CreateResponse{ID: n.ID, Warning: ""}, nil
}

// Remove is DELETE /networks/{id}.
func (a *API) Remove(ctx context.Context, name string) error {
	n, err := a.Manager.Get(name)
	if err != nil {
		return err
	}
	if err := a.Manager.Remove(ctx, n.ID); err != nil {
		return err
	}
	a.Emit(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

// Prune is POST /networks/prune: it removes user-defined networks no
// container uses.
func (a *API) Prune(ctx context.Context, f filters.Args) (*apinet.PruneReport, error) {
	// Every value is validated before the first removal.
	if err := f.Validate("label", "label!", "until"); err != nil {
		return nil, err
	}
	cutoff, hasCutoff, err := f.Until(time.Now())
	if err != nil {
		return nil, err
	}
	rep := &apinet.PruneReport{NetworksDeleted: []string{}}
	for _, n := range a.Manager.List() {
		if n.Predefined() || a.inUse(n.ID) || !f.MatchLabels(n.Labels) {
			continue
		}
		if hasCutoff && !n.Created.Before(cutoff) {
			continue
		}
		if err := a.Remove(ctx, n.ID); err != nil {
			a.Log.Warn("prune network", "network", n.Name, "err", err)
			continue
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	sort.Strings(rep.NetworksDeleted)
	a.Emit(events.NetworkEventType, events.ActionPrune, "", map[string]string{})
	return rep, nil
}

// errHostNetwork is dockerd's refusal to connect to (or disconnect from)
// a network without endpoints.
func errHostNetwork() error {
	return errdefs.ErrPermissionDenied.WithMessage("container cannot be disconnected from host network or connected to host network")
}

// Connect is POST /networks/{id}/connect. A running container gets its
// endpoint at once; a stopped one when it starts.
func (a *API) Connect(ctx context.Context, name string, req apinet.ConnectRequest) error {
	n, err := a.Manager.Get(name)
	if err != nil {
		return err
	}
	c, err := a.Containers.Get(req.Container)
	if err != nil {
		return err
	}
	if !a.Manager.endpoints(n) {
		return errHostNetwork()
	}
	c.Lock()
	if c.NetworkSettings == nil {
		c.NetworkSettings = &apicontainer.NetworkSettings{}
	}
	mode := c.HostConfig.NetworkMode
	_, already := c.NetworkSettings.Networks[n.Name]
	running := c.State.Running
	c.Unlock()
	if mode.IsHost() || mode.IsNone() || mode.IsContainer() {
		return errdefs.ErrPermissionDenied.WithMessage("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if already {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(c.Name, "/"), n.Name))
	}
	es := &apinet.EndpointSettings{}
	if req.EndpointConfig != nil {
		cp := *req.EndpointConfig
		es = &cp
	}
	if err := validateEndpoint(n, es); err != nil {
		return err
	}
	es.NetworkID = n.ID
	if running {
		ep, err := a.Manager.Connect(ctx, c.ID, endpointRequest(n.ID, es))
		if err != nil {
			return err
		}
		fillEndpoint(es, c, n, ep)
	}
	c.Lock()
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*apinet.EndpointSettings{}
	}
	c.NetworkSettings.Networks[n.Name] = es
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	a.Emit(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// Disconnect is POST /networks/{id}/disconnect.
func (a *API) Disconnect(ctx context.Context, name string, req apinet.DisconnectRequest) error {
	n, err := a.Manager.Get(name)
	if err != nil {
		return err
	}
	c, err := a.Containers.Get(req.Container)
	if err != nil {
		return err
	}
	c.Lock()
	attached := false
	if c.NetworkSettings != nil {
		_, attached = c.NetworkSettings.Networks[n.Name]
	}
	mode := c.HostConfig.NetworkMode
	c.Unlock()
	if !attached {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container %s is not connected to network %s", c.ID[:12], n.Name))
	}
	if !a.Manager.endpoints(n) || mode.IsHost() {
		return errHostNetwork()
	}
	if err := a.Manager.Disconnect(ctx, c.ID, n.ID); err != nil {
		return err
	}
	c.Lock()
	delete(c.NetworkSettings.Networks, n.Name)
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	a.Emit(events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// validateEndpoint checks what Docker refuses for an endpoint config.
func validateEndpoint(n Network, es *apinet.EndpointSettings) error {
	if len(es.Aliases) > 0 && n.Default {
		return errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
	}
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
		if !n.UserIPAM {
			return errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported only when connecting to networks with user configured subnets")
		}
		if !n.Subnet.Contains(es.IPAMConfig.IPv4Address) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", es.IPAMConfig.IPv4Address))
		}
	}
	return nil
}

// endpointRequest is what an endpoint config asks of network ref.
func endpointRequest(ref string, es *apinet.EndpointSettings) EndpointRequest {
	er := EndpointRequest{Network: ref, Aliases: es.Aliases}
	if es.IPAMConfig != nil {
		er.IP = es.IPAMConfig.IPv4Address
	}
	return er
}

// ResolveNetworks fills a new container's NetworkSettings.Networks from
// its network mode and the request's endpoint configs, as dockerd does.
func (a *API) ResolveNetworks(hc *apicontainer.HostConfig, nc *apinet.NetworkingConfig) (map[string]*apinet.EndpointSettings, error) {
	out := map[string]*apinet.EndpointSettings{}
	mode := hc.NetworkMode
	if mode.IsContainer() {
		if _, err := a.Containers.Get(mode.ConnectedContainer()); err != nil {
			return nil, err
		}
		if nc != nil && len(nc.EndpointsConfig) > 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: container type network can't be used with multiple networks")
		}
		return out, nil
	}
	primary, err := a.Manager.Get(string(mode))
	if err != nil {
		return nil, err
	}
	var configs map[string]*apinet.EndpointSettings
	if nc != nil {
		configs = nc.EndpointsConfig
	}
	add := func(n Network, es *apinet.EndpointSettings) error {
		cp := apinet.EndpointSettings{}
		if es != nil {
			cp = *es
		}
		if err := validateEndpoint(n, &cp); err != nil {
			return err
		}
		cp.NetworkID = n.ID
		out[n.Name] = &cp
		return nil
	}
	var primaryCfg *apinet.EndpointSettings
	for k, v := range configs {
		if k == string(mode) || k == primary.ID || k == primary.Name || k == "default" {
			primaryCfg = v
		}
	}
	if err := add(primary, primaryCfg); err != nil {
		return nil, err
	}
	for k, v := range configs {
		if k == "default" {
			continue
		}
		n, err := a.Manager.Get(k)
		if err != nil {
			return nil, err
		}
		if n.ID == primary.ID {
			continue
		}
		if !a.Manager.endpoints(n) || !a.Manager.endpoints(primary) {
			return nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: host type networking can't be used with multiple networks")
		}
		if err := add(n, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PortRequests turns a container's -p (HostConfig.PortBindings) and -P
// (PublishAllPorts over Config.ExposedPorts) into what the Manager wires
// (see ports.go for the rest of the way to the DNAT rule).
func PortRequests(cfg *apicontainer.Config, hc *apicontainer.HostConfig) ([]PortRequest, error) {
	var out []PortRequest
	seen := map[apinet.Port]bool{}
	keys := make([]apinet.Port, 0, len(hc.PortBindings))
	for p := range hc.PortBindings {
		keys = append(keys, p)
	}
	if hc.PublishAllPorts {
		for p := range cfg.ExposedPorts {
			if _, ok := hc.PortBindings[p]; !ok {
				keys = append(keys, p)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, p := range keys {
		if seen[p] {
			continue
		}
		seen[p] = true
		bindings := hc.PortBindings[p]
		if len(bindings) == 0 {
			bindings = []apinet.PortBinding{{}}
		}
		for _, b := range bindings {
			pr := PortRequest{Proto: string(p.Proto()), HostIP: b.HostIP, ContainerPort: p.Num()}
			if pr.HostIP.IsValid() && pr.HostIP.Is6() {
				if pr.HostIP.Is4In6() {
					pr.HostIP = pr.HostIP.Unmap()
				} else {
					// IPv6 host addresses need IPv6 on the bridge, which berth's
					// bridges do not have: the binding is skipped as dockerd does
					// when a network has no IPv6.
					continue
				}
			}
			if b.HostPort != "" {
				start, end, err := portrange.Parse(b.HostPort)
				if err != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: %q", b.HostPort))
				}
				pr.HostPortStart, pr.HostPortEnd = start, end
			}
			out = append(out, pr)
		}
	}
	return out, nil
}

// parsePortRange reads a binding's HostPort: "4000" or "8000-8010".

// fillEndpoint writes an endpoint's operational data into its settings.
func fillEndpoint(es *apinet.EndpointSettings, c *container.Container, n Network, ep Endpoint) {
	es.NetworkID = n.ID
	es.EndpointID = ep.ID
	es.Gateway = ep.Gateway
	es.IPAddress = ep.IP
	es.IPPrefixLen = ep.Bits
	es.MacAddress = parseMAC(ep.MAC)
	es.DNSNames = nil
	if !n.Default {
		es.DNSNames = append([]string{strings.TrimPrefix(c.Name, "/")}, ep.Aliases...)
		es.DNSNames = append(es.DNSNames, c.ID[:12])
	}
}

// SetupContainer gives a starting container its network: the namespace
// path the runtime joins ("" for the runtime's own private namespace or
// the host's), and the sandbox when the container is on networks with
// endpoints. The container's NetworkSettings get its addresses and ports.
func (a *API) SetupContainer(ctx context.Context, c *container.Container) (string, *Sandbox, error) {
	c.Lock()
	hc, cfg := c.HostConfig, c.Config
	name, id := c.Name, c.ID
	nets := map[string]*apinet.EndpointSettings{}
	if c.NetworkSettings != nil {
		for k, v := range c.NetworkSettings.Networks {
			nets[k] = v
		}
	}
	c.Unlock()
	switch {
	case hc.NetworkMode.IsHost(), hc.NetworkMode.IsNone():
		return "", nil, nil
	case hc.NetworkMode.IsContainer():
		other, err := a.Containers.Get(hc.NetworkMode.ConnectedContainer())
		if err != nil {
			return "", nil, err
		}
		other.Lock()
		pid, running := other.State.Pid, other.State.Running
		other.Unlock()
		if !running {
			return "", nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join network namespace of a non running container: container %s is exited", other.ID))
		}
		return fmt.Sprintf("/proc/%d/ns/net", pid), nil, nil
	}
	ports, err := PortRequests(cfg, hc)
	if err != nil {
		return "", nil, err
	}
	req := SetupRequest{ContainerID: id, Name: name, Ports: ports, DNS: hc.DNS}
	// The network mode's network first: it gives the default route.
	primary, err := a.Manager.Get(string(hc.NetworkMode))
	if err != nil {
		return "", nil, err
	}
	req.Endpoints = endpointRequests(primary.Name, nets)
	sb, err := a.Manager.Setup(ctx, req)
	if err != nil {
		return "", nil, err
	}
	byID := map[string]Network{}
	for _, n := range a.Manager.List() {
		byID[n.ID] = n
	}
	c.Lock()
	applySandbox(c, sb, byID)
	c.Unlock()
	return sb.NetNS, sb, nil
}

// endpointRequests orders a container's networks for Setup: primary (the
// network mode's, which gives the default route) first, the others by
// name.
func endpointRequests(primary string, nets map[string]*apinet.EndpointSettings) []EndpointRequest {
	order := []string{primary}
	var others []string
	for k := range nets {
		if k != primary {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	order = append(order, others...)
	var out []EndpointRequest
	for _, k := range order {
		es := nets[k]
		if es == nil {
			es = &apinet.EndpointSettings{}
		}
		ref := k
		if es.NetworkID != "" {
			ref = es.NetworkID
		}
		out = append(out, endpointRequest(ref, es))
	}
	return out
}

// applySandbox writes a running container's addresses and ports into its
// NetworkSettings; byID are the networks. c is locked.
func applySandbox(c *container.Container, sb *Sandbox, byID map[string]Network) {
	if c.NetworkSettings == nil {
		c.NetworkSettings = &apicontainer.NetworkSettings{}
	}
	ns := c.NetworkSettings
	if ns.Networks == nil {
		ns.Networks = map[string]*apinet.EndpointSettings{}
	}
	ns.SandboxID = sb.ContainerID
	ns.SandboxKey = sb.NetNS
	for _, ep := range sb.Endpoints {
		n := byID[ep.NetworkID]
		es := ns.Networks[n.Name]
		if es == nil {
			es = &apinet.EndpointSettings{}
			ns.Networks[n.Name] = es
		}
		fillEndpoint(es, c, n, *ep)
	}
	ns.Ports = apinet.PortMap{}
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			ns.Ports[p] = nil
		}
	}
	for _, pm := range sb.Ports {
		p, err := apinet.ParsePort(fmt.Sprintf("%d/%s", pm.ContainerPort, pm.Proto))
		if err != nil {
			continue
		}
		ns.Ports[p] = append(ns.Ports[p], apinet.PortBinding{HostIP: pm.HostIP, HostPort: strconv.Itoa(int(pm.HostPort))})
	}
}

// TeardownContainer removes a stopped container's network and clears the
// operational data from its NetworkSettings.
func (a *API) TeardownContainer(ctx context.Context, c *container.Container) {
	a.Manager.Teardown(ctx, c.ID)
	c.Lock()
	clearSandbox(c.NetworkSettings)
	c.Unlock()
}

// clearSandbox removes what a sandbox put in NetworkSettings; the
// networks the container is on stay.
func clearSandbox(ns *apicontainer.NetworkSettings) {
	if ns == nil {
		return
	}
	ns.SandboxID, ns.SandboxKey = "", ""
	ns.Ports = apinet.PortMap{}
	for _, es := range ns.Networks {
		if es == nil {
			continue
		}
		es.EndpointID = ""
		es.Gateway, es.IPAddress = netip.Addr{}, netip.Addr{}
		es.IPPrefixLen = 0
		es.MacAddress = nil
		es.DNSNames = nil
	}
}

// PortSummaries renders NetworkSettings.Ports as `ps` shows them.
func PortSummaries(ports apinet.PortMap) []apicontainer.PortSummary {
	out := []apicontainer.PortSummary{}
	for p, bs := range ports {
		if len(bs) == 0 {
			out = append(out, apicontainer.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
			continue
		}
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, apicontainer.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PrivatePort != out[j].PrivatePort {
			return out[i].PrivatePort < out[j].PrivatePort
		}
		return out[i].PublicPort < out[j].PublicPort
	})
	return out
}

func parseMAC(s string) apinet.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return nil
	}
	return apinet.HardwareAddr(hw)
}
