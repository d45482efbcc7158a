package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// A sandbox is a running container's network namespace, bind-mounted
// under Config.StateDir so it outlives the daemon, with one endpoint per
// network (plugged in by the network's driver) and the published ports.
// Sandboxes are stored, so a restarted daemon knows them; Reconcile drops
// those of containers that ended while it was away.

// Setup creates a container's network namespace, its endpoints and its
// published ports. It is all or nothing: on error nothing is left behind.
func (m *Manager) Setup(ctx context.Context, req SetupRequest) (*Sandbox, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func(t time.Time) { m.log.Debug("network setup", "container", req.ContainerID, "took", time.Since(t)) }(time.Now())
	if old := m.sandboxes[req.ContainerID]; old != nil {
		// A stale sandbox from an exit the daemon did not see: replace it.
		m.teardownLocked(ctx, old, false)
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	sb := &Sandbox{ContainerID: req.ContainerID, Name: strings.TrimPrefix(req.Name, "/"),
		NetNS: filepath.Join(m.cfg.StateDir, req.ContainerID[:min(12, len(req.ContainerID))]+"-"+hex.EncodeToString(suffix))}
	if err := createNetNS(sb.NetNS); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			m.teardownLocked(ctx, sb, false)
		}
	}()
	if err := upNetNSLoopback(sb.NetNS); err != nil {
		return nil, fmt.Errorf("loopback: %w", err)
	}
	for i, er := range req.Endpoints {
		if _, err := m.addEndpointLocked(ctx, sb, er, req.DNS, i == 0); err != nil {
			return nil, err
		}
	}
	if err := m.publishLocked(sb, req.Ports); err != nil {
		return nil, err
	}
	m.sandboxes[sb.ContainerID] = sb
	if len(sb.Ports) > 0 {
		if err := m.applyLocked(); err != nil {
			delete(m.sandboxes, sb.ContainerID)
			return nil, err
		}
	}
	if err := m.store.putSandbox(sb); err != nil {
		delete(m.sandboxes, sb.ContainerID)
		if len(sb.Ports) > 0 {
			_ = m.applyLocked()
		}
		return nil, fmt.Errorf("save sandbox: %w", err)
	}
	ok = true
	if vips := m.vipsForLocked(sb); len(vips) > 0 {
		if err := writeVIPTable(sb.NetNS, vips); err != nil {
			m.log.Warn("service VIPs in container namespace", "container", sb.ContainerID, "err", err)
		} else {
			m.vipWritten[sb.ContainerID] = vips
		}
	}
	return cloneSandbox(sb), nil
}

func cloneSandbox(sb *Sandbox) *Sandbox {
	c := *sb
	c.Endpoints = nil
	for _, ep := range sb.Endpoints {
		e := *ep
		c.Endpoints = append(c.Endpoints, &e)
	}
	c.Ports = slices.Clone(sb.Ports)
	return &c
}

// addEndpointLocked gives sb an endpoint on the network er names: an
// address from the network's IPAM, then the driver plugs it in.
func (m *Manager) addEndpointLocked(ctx context.Context, sb *Sandbox, er EndpointRequest, dnsServers []netip.Addr, route bool) (*Endpoint, error) {
	n, err := m.findLocked(er.Network)
	if err != nil {
		return nil, err
	}
	drv, err := m.driver(n.Driver)
	if err != nil {
		return nil, err
	}
	a := m.alloc[n.ID]
	if !drv.Endpoints() || a == nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container cannot be connected to network %s: it is not a bridge network", n.Name))
	}
	for _, ep := range sb.Endpoints {
		if ep.NetworkID == n.ID {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", sb.Name, n.Name))
		}
	}
	var ip netip.Addr
	if er.IP.IsValid() {
		if !n.UserIPAM {
			return nil, errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported only when connecting to networks with user configured subnets")
		}
		if err := a.reserve(er.IP, sb.ContainerID); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		ip = er.IP
	} else if ip, err = a.next(sb.ContainerID); err != nil {
		return nil, errdefs.ErrUnavailable.WithMessage(err.Error())
	}
	ep := &Endpoint{
		ID: newID(), NetworkID: n.ID, IfName: fmt.Sprintf("eth%d", len(sb.Endpoints)),
		IP: ip, Bits: n.Subnet.Bits(), Gateway: n.Gateway,
		MAC: macFor(ip).String(), Aliases: er.Aliases, DNS: dnsServers,
	}
	if err := drv.Join(ctx, n, sb.NetNS, ep, route); err != nil {
		a.release(ip, sb.ContainerID)
		return nil, fmt.Errorf("attach to network %s: %w", n.Name, err)
	}
	sb.Endpoints = append(sb.Endpoints, ep)
	return ep, nil
}

// Connect attaches a running container's sandbox to one more network.
func (m *Manager) Connect(ctx context.Context, containerID string, er EndpointRequest) (Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb := m.sandboxes[containerID]
	if sb == nil {
		return Endpoint{}, errdefs.ErrFailedPrecondition.WithMessage("container is not running")
	}
	ep, err := m.addEndpointLocked(ctx, sb, er, nil, len(sb.Endpoints) == 0)
	if err != nil {
		return Endpoint{}, err
	}
	if err := m.store.putSandbox(sb); err != nil {
		return Endpoint{}, fmt.Errorf("save sandbox: %w", err)
	}
	return *ep, nil
}

// Disconnect removes a running container's endpoint on a network.
func (m *Manager) Disconnect(ctx context.Context, containerID, networkRef string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.findLocked(networkRef)
	if err != nil {
		return err
	}
	sb := m.sandboxes[containerID]
	if sb == nil {
		return nil
	}
	for i, ep := range sb.Endpoints {
		if ep.NetworkID != n.ID {
			continue
		}
		if err := m.leave(ctx, n, ep); err != nil {
			return err
		}
		if a := m.alloc[n.ID]; a != nil {
			a.release(ep.IP, containerID)
		}
		sb.Endpoints = slices.Delete(sb.Endpoints, i, i+1)
		return m.store.putSandbox(sb)
	}
	return nil
}

// leave unplugs ep by the driver of n. An endpoint whose network or driver
// is unknown (a record the daemon could not read) still loses its host
// link.
func (m *Manager) leave(ctx context.Context, n *Network, ep *Endpoint) error {
	if n != nil {
		if drv := m.driverOf(n); drv != nil {
			return drv.Leave(ctx, n, ep)
		}
	}
	if ep.HostVeth == "" {
		return nil
	}
	return deleteLink(ep.HostVeth)
}

// Sandbox returns a copy of a running container's sandbox, or nil.
func (m *Manager) Sandbox(containerID string) *Sandbox {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		return cloneSandbox(sb)
	}
	return nil
}

// Teardown removes a container's sandbox: ports, endpoints, addresses and
// namespace. A container without one is fine.
func (m *Manager) Teardown(ctx context.Context, containerID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		m.teardownLocked(ctx, sb, true)
	}
}

// teardownLocked removes a sandbox. Ports, rules and names go at once;
// with async the links, namespace and addresses are released in the
// background (deleting a link waits for the kernel, ~10 ms), which keeps
// that wait out of `run --rm`.
func (m *Manager) teardownLocked(ctx context.Context, sb *Sandbox, async bool) {
	defer func(t time.Time) { m.log.Debug("network teardown", "container", sb.ContainerID, "took", time.Since(t)) }(time.Now())
	m.unpublishLocked(sb.ContainerID)
	_, known := m.sandboxes[sb.ContainerID]
	delete(m.sandboxes, sb.ContainerID)
	if len(sb.Ports) > 0 && known {
		if err := m.applyLocked(); err != nil {
			m.log.Warn("remove published ports", "container", sb.ContainerID, "err", err)
		}
	}
	if known {
		if err := m.store.deleteSandbox(sb.ContainerID); err != nil {
			m.log.Warn("forget sandbox", "container", sb.ContainerID, "err", err)
		}
	}
	// The networks are looked up now, under the lock; a copy goes to the
	// background.
	nets := make([]*Network, len(sb.Endpoints))
	for i, ep := range sb.Endpoints {
		if n := m.networks[ep.NetworkID]; n != nil {
			c := *n
			nets[i] = &c
		}
		if a := m.alloc[ep.NetworkID]; a != nil {
			// Held until the link is gone, then freed below.
			if a.used[ep.IP] == sb.ContainerID {
				a.used[ep.IP] = "releasing:" + sb.ContainerID
			}
		}
	}
	release := func(ctx context.Context) {
		for i, ep := range sb.Endpoints {
			if err := m.leave(ctx, nets[i], ep); err != nil {
				m.log.Warn("remove endpoint", "container", sb.ContainerID, "veth", ep.HostVeth, "err", err)
			}
		}
		if err := removeNetNS(sb.NetNS); err != nil {
			m.log.Warn("remove netns", "container", sb.ContainerID, "err", err)
		}
	}
	free := func() {
		for _, ep := range sb.Endpoints {
			if a := m.alloc[ep.NetworkID]; a != nil {
				a.release(ep.IP, "releasing:"+sb.ContainerID)
			}
		}
	}
	if !async {
		release(ctx)
		free()
		return
	}
	m.cleanups.Add(1)
	go func(ctx context.Context) {
		defer m.cleanups.Done()
		release(ctx)
		m.mu.Lock()
		free()
		m.mu.Unlock()
	}(context.WithoutCancel(ctx))
}

// HostsEntries returns the /etc/hosts lines of a sandbox: its addresses
// with the container's hostname.
func (sb *Sandbox) HostsEntries(hostname string) string {
	var b strings.Builder
	for _, ep := range sb.Endpoints {
		fmt.Fprintf(&b, "%s\t%s\n", ep.IP, hostname)
	}
	return b.String()
}

// Rename changes the DNS name of a running container.
func (m *Manager) Rename(containerID, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sb := m.sandboxes[containerID]; sb != nil {
		sb.Name = strings.TrimPrefix(name, "/")
		if err := m.store.putSandbox(sb); err != nil {
			m.log.Warn("save renamed sandbox", "container", containerID, "err", err)
		}
	}
}
