package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/daemon/container"
	bnet "github.com/berth-project/berth/daemon/network"
)

// apiNetwork renders a network as the Engine API shows it.
func apiNetwork(n bnet.Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: n.Driver == bnet.DriverBridge, EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: n.Attachable,
		IPAM:    network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels,
	}
	if n.Subnet.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	return out
}

// NetworkList implements server.Backend.
func (d *Daemon) NetworkList(ctx context.Context, f server.Filters) ([]network.Summary, error) {
	for k := range f {
		switch k {
		case "name", "id", "driver", "type", "label", "scope", "dangling":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	out := []network.Summary{}
	for _, n := range d.net.List() {
		if !networkMatches(n, f, d.networkInUse) {
			continue
		}
		out = append(out, network.Summary{Network: apiNetwork(n)})
	}
	return out, nil
}

func networkMatches(n bnet.Network, f server.Filters, inUse func(string) bool) bool {
	if names := f.Get("name"); len(names) > 0 {
		ok := false
		for _, v := range names {
			if strings.Contains(n.Name, v) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if ids := f.Get("id"); len(ids) > 0 {
		ok := false
		for _, v := range ids {
			if strings.HasPrefix(n.ID, v) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if drv := f["driver"]; len(drv) > 0 && !drv[n.Driver] {
		return false
	}
	if sc := f["scope"]; len(sc) > 0 && !sc["local"] {
		return false
	}
	if t := f["type"]; len(t) > 0 {
		if (n.Predefined() && !t["builtin"]) || (!n.Predefined() && !t["custom"]) {
			return false
		}
	}
	if !labelsMatch(n.Labels, f) {
		return false
	}
	if dg := f.Get("dangling"); len(dg) > 0 {
		want := dg[0] == "true" || dg[0] == "1"
		if want != (!n.Predefined() && !inUse(n.ID)) {
			return false
		}
	}
	return true
}

// networkInUse reports whether any container (running or not) is attached
// to network id.
func (d *Daemon) networkInUse(id string) bool {
	for _, c := range d.containers.List() {
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

// NetworkInspect implements server.Backend.
func (d *Daemon) NetworkInspect(ctx context.Context, name string) (*network.Inspect, error) {
	n, err := d.net.Get(name)
	if err != nil {
		return nil, err
	}
	res := &network.Inspect{Network: apiNetwork(n), Containers: map[string]network.EndpointResource{}}
	for cid, ep := range d.net.Endpoints(n.ID) {
		cname := ""
		if c, err := d.containers.Get(cid); err == nil {
			c.Lock()
			cname = strings.TrimPrefix(c.Name, "/")
			c.Unlock()
		}
		mac := parseMAC(ep.MAC)
		res.Containers[cid] = network.EndpointResource{
			Name: cname, EndpointID: ep.ID, MacAddress: mac, IPv4Address: netip.PrefixFrom(ep.IP, ep.Bits),
		}
	}
	if n.Driver == bnet.DriverHost {
		// Containers on the host network have no endpoint of their own.
		for _, c := range d.containers.List() {
			c.Lock()
			if c.State.Running && c.HostConfig.NetworkMode.IsHost() {
				res.Containers[c.ID] = network.EndpointResource{Name: strings.TrimPrefix(c.Name, "/")}
			}
			c.Unlock()
		}
	}
	return res, nil
}

// NetworkCreate implements server.Backend.
func (d *Daemon) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	if req.Name == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network name is required")
	}
	switch req.Name {
	case "bridge", "host", "none", "default":
		return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be created", req.Name))
	}
	if req.Scope != "" && req.Scope != "local" {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("scope %q is not supported: berth networks are local until swarm mode", req.Scope))
	}
	cr := bnet.CreateRequest{
		Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable,
		Options: req.Options, Labels: req.Labels, EnableIPv6: req.EnableIPv6 != nil && *req.EnableIPv6,
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("IPAM driver %q is not supported", req.IPAM.Driver))
		}
		if len(req.IPAM.Config) > 1 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("berth bridge networks take one IPv4 subnet")
		}
		for _, c := range req.IPAM.Config {
			if c.Subnet.IsValid() && !c.Subnet.Addr().Is4() {
				return nil, errdefs.ErrInvalidArgument.WithMessage("berth bridge networks are IPv4: invalid subnet " + c.Subnet.String())
			}
			cr.Subnet, cr.IPRange, cr.Gateway = c.Subnet, c.IPRange, c.Gateway
		}
	}
	n, err := d.net.Create(ctx, cr)
	if err != nil {
		return nil, err
	}
	d.emit(events.NetworkEventType, events.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return &network.CreateResponse{ID: n.ID, Warning: ""}, nil
}

// NetworkRemove implements server.Backend.
func (d *Daemon) NetworkRemove(ctx context.Context, name string) error {
	n, err := d.net.Get(name)
	if err != nil {
		return err
	}
	if err := d.net.Remove(ctx, n.ID); err != nil {
		return err
	}
	d.emit(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

// NetworksPrune implements server.Backend: it removes user-defined networks
// no container uses.
func (d *Daemon) NetworksPrune(ctx context.Context, f server.Filters) (*network.PruneReport, error) {
	for k := range f {
		if k != "label" && k != "label!" && k != "until" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	cutoff, hasCutoff := d.untilFilter(f)
	rep := &network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range d.net.List() {
		if n.Predefined() || d.networkInUse(n.ID) || !labelsMatch(n.Labels, f) {
			continue
		}
		if hasCutoff && !n.Created.Before(cutoff) {
			continue
		}
		if err := d.NetworkRemove(ctx, n.ID); err != nil {
			d.log.Warn("prune network", "network", n.Name, "err", err)
			continue
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	sort.Strings(rep.NetworksDeleted)
	d.emit(events.NetworkEventType, events.ActionPrune, "", map[string]string{})
	return rep, nil
}

// NetworkConnect implements server.Backend.
func (d *Daemon) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	n, err := d.net.Get(name)
	if err != nil {
		return err
	}
	c, err := d.containers.Get(req.Container)
	if err != nil {
		return err
	}
	if n.Driver != bnet.DriverBridge {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container cannot be disconnected from host network or connected to host network"))
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
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container sharing network namespace with another container or host cannot be connected to any other network"))
	}
	if already {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(c.Name, "/"), n.Name))
	}
	es := &network.EndpointSettings{}
	if req.EndpointConfig != nil {
		cp := *req.EndpointConfig
		es = &cp
	}
	if err := d.validateEndpoint(n, es); err != nil {
		return err
	}
	es.NetworkID = n.ID
	if running {
		er := bnet.EndpointRequest{Network: n.ID, Aliases: es.Aliases}
		if es.IPAMConfig != nil {
			er.IP = es.IPAMConfig.IPv4Address
		}
		ep, err := d.net.Connect(ctx, c.ID, er)
		if err != nil {
			return err
		}
		fillEndpoint(es, c, n, ep)
	}
	c.Lock()
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*network.EndpointSettings{}
	}
	c.NetworkSettings.Networks[n.Name] = es
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	d.emit(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// NetworkDisconnect implements server.Backend.
func (d *Daemon) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	n, err := d.net.Get(name)
	if err != nil {
		return err
	}
	c, err := d.containers.Get(req.Container)
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
	if n.Driver != bnet.DriverBridge || mode.IsHost() {
		return errdefs.ErrPermissionDenied.WithMessage("container cannot be disconnected from host network or connected to host network")
	}
	if err := d.net.Disconnect(ctx, c.ID, n.ID); err != nil {
		return err
	}
	c.Lock()
	delete(c.NetworkSettings.Networks, n.Name)
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	d.emit(events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// validateEndpoint checks what Docker refuses for an endpoint config.
func (d *Daemon) validateEndpoint(n bnet.Network, es *network.EndpointSettings) error {
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

// resolveNetworks fills a new container's NetworkSettings from its
// network mode and the request's endpoint configs, as dockerd does.
func (d *Daemon) resolveNetworks(hc *apicontainer.HostConfig, nc *network.NetworkingConfig) (map[string]*network.EndpointSettings, error) {
	out := map[string]*network.EndpointSettings{}
	mode := hc.NetworkMode
	if mode.IsContainer() {
		if _, err := d.containers.Get(mode.ConnectedContainer()); err != nil {
			return nil, err
		}
		if nc != nil && len(nc.EndpointsConfig) > 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: container type network can't be used with multiple networks")
		}
		return out, nil
	}
	primary, err := d.net.Get(string(mode))
	if err != nil {
		return nil, err
	}
	var configs map[string]*network.EndpointSettings
	if nc != nil {
		configs = nc.EndpointsConfig
	}
	add := func(n bnet.Network, es *network.EndpointSettings) error {
		cp := network.EndpointSettings{}
		if es != nil {
			cp = *es
		}
		if err := d.validateEndpoint(n, &cp); err != nil {
			return err
		}
		cp.NetworkID = n.ID
		out[n.Name] = &cp
		return nil
	}
	var primaryCfg *network.EndpointSettings
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
		n, err := d.net.Get(k)
		if err != nil {
			return nil, err
		}
		if n.ID == primary.ID {
			continue
		}
		if n.Driver != bnet.DriverBridge || primary.Driver != bnet.DriverBridge {
			return nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: host type networking can't be used with multiple networks")
		}
		if err := add(n, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// portRequests turns a container's -p and -P into what the network wires.
func portRequests(cfg *apicontainer.Config, hc *apicontainer.HostConfig) ([]bnet.PortRequest, error) {
	var out []bnet.PortRequest
	seen := map[network.Port]bool{}
	keys := make([]network.Port, 0, len(hc.PortBindings))
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
			bindings = []network.PortBinding{{}}
		}
		for _, b := range bindings {
			pr := bnet.PortRequest{Proto: string(p.Proto()), HostIP: b.HostIP, ContainerPort: p.Num()}
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
				start, end, err := parsePortRange(b.HostPort)
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

func parsePortRange(s string) (uint16, uint16, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(b, 10, 16); err != nil || end < start {
			return 0, 0, fmt.Errorf("invalid range %q", s)
		}
	}
	return uint16(start), uint16(end), nil
}

// fillEndpoint writes an endpoint's operational data into its settings.
func fillEndpoint(es *network.EndpointSettings, c *container.Container, n bnet.Network, ep bnet.Endpoint) {
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

// setupNetworking gives a starting container its network: the namespace
// path the runtime joins ("" for the runtime's own private namespace or
// the host's), and the sandbox when the container is on bridge networks.
func (d *Daemon) setupNetworking(ctx context.Context, c *container.Container) (string, *bnet.Sandbox, error) {
	c.Lock()
	hc, cfg := c.HostConfig, c.Config
	name, id := c.Name, c.ID
	nets := map[string]*network.EndpointSettings{}
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
		other, err := d.containers.Get(hc.NetworkMode.ConnectedContainer())
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
	ports, err := portRequests(cfg, hc)
	if err != nil {
		return "", nil, err
	}
	req := bnet.SetupRequest{ContainerID: id, Name: name, Ports: ports, DNS: hc.DNS}
	// The network mode's network first: it gives the default route.
	primary, err := d.net.Get(string(hc.NetworkMode))
	if err != nil {
		return "", nil, err
	}
	order := []string{primary.Name}
	var others []string
	for k := range nets {
		if k != primary.Name {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	order = append(order, others...)
	for _, k := range order {
		es := nets[k]
		if es == nil {
			es = &network.EndpointSettings{}
		}
		er := bnet.EndpointRequest{Network: k, Aliases: es.Aliases}
		if es.NetworkID != "" {
			er.Network = es.NetworkID
		}
		if es.IPAMConfig != nil {
			er.IP = es.IPAMConfig.IPv4Address
		}
		req.Endpoints = append(req.Endpoints, er)
	}
	sb, err := d.net.Setup(ctx, req)
	if err != nil {
		return "", nil, err
	}
	d.recordSandbox(c, sb)
	return sb.NetNS, sb, nil
}

// recordSandbox writes a running container's addresses and ports into its
// NetworkSettings.
func (d *Daemon) recordSandbox(c *container.Container, sb *bnet.Sandbox) {
	byID := map[string]bnet.Network{}
	for _, n := range d.net.List() {
		byID[n.ID] = n
	}
	c.Lock()
	defer c.Unlock()
	if c.NetworkSettings == nil {
		c.NetworkSettings = &apicontainer.NetworkSettings{}
	}
	ns := c.NetworkSettings
	if ns.Networks == nil {
		ns.Networks = map[string]*network.EndpointSettings{}
	}
	ns.SandboxID = sb.ContainerID
	ns.SandboxKey = sb.NetNS
	for _, ep := range sb.Endpoints {
		n := byID[ep.NetworkID]
		es := ns.Networks[n.Name]
		if es == nil {
			es = &network.EndpointSettings{}
			ns.Networks[n.Name] = es
		}
		fillEndpoint(es, c, n, *ep)
	}
	ns.Ports = network.PortMap{}
	for p := range c.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	for _, pm := range sb.Ports {
		p, err := network.ParsePort(fmt.Sprintf("%d/%s", pm.ContainerPort, pm.Proto))
		if err != nil {
			continue
		}
		ns.Ports[p] = append(ns.Ports[p], network.PortBinding{HostIP: pm.HostIP, HostPort: strconv.Itoa(int(pm.HostPort))})
	}
}

// teardownNetworking removes a stopped container's network and clears the
// operational data from its NetworkSettings.
func (d *Daemon) teardownNetworking(ctx context.Context, c *container.Container) {
	d.net.Teardown(ctx, c.ID)
	c.Lock()
	defer c.Unlock()
	ns := c.NetworkSettings
	if ns == nil {
		return
	}
	ns.SandboxID, ns.SandboxKey = "", ""
	ns.Ports = network.PortMap{}
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

// portSummaries renders NetworkSettings.Ports as `ps` shows them.
func portSummaries(ports network.PortMap) []apicontainer.PortSummary {
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

func parseMAC(s string) network.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return nil
	}
	return network.HardwareAddr(hw)
}
