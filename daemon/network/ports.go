package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/containerd/errdefs"
)

// Published ports, from `berth run -p 4000:80` to the packet:
//
//  1. api.go, PortRequests: the Engine API's HostConfig.PortBindings (and
//     -P's ExposedPorts) become PortRequests.
//  2. sandbox.go, Setup → publishLocked (here): each request is bound on
//     the host (reservePort: the port is held, and "port is already
//     allocated" comes from here) and becomes a PortMapping to the
//     container's first endpoint; on a host with IPv6, TCP on all
//     addresses is also relayed from [::] (proxy6.go).
//  3. manager.go, applyLocked: the mappings of every sandbox go into the
//     ruleState, and nft.go's dnatRule makes each one a DNAT rule in
//     chain ports, written in one transaction.
//  4. api.go, applySandbox: the mappings are written back into the
//     container's NetworkSettings.Ports, which `docker port` and `ps` show
//     (PortSummaries).

// PortRequest is one published port as asked for: -p [ip:]host[-end]:ctr[/proto].
// HostPortStart 0 means any free port (from the kernel's ephemeral range).
type PortRequest struct {
	Proto         string // tcp, udp or sctp
	HostIP        netip.Addr
	HostPortStart uint16
	HostPortEnd   uint16
	ContainerPort uint16
}

// PortMapping is a published port as wired: traffic to HostIP:HostPort is
// sent to ContainerIP:ContainerPort. An unspecified HostIP means every
// address of the host.
type PortMapping struct {
	Proto         string     `json:"proto"`
	HostIP        netip.Addr `json:"host_ip"`
	HostPort      uint16     `json:"host_port"`
	ContainerPort uint16     `json:"container_port"`
	ContainerIP   netip.Addr `json:"container_ip"`
}

// ErrPortAllocated marks a host port that is already taken.
var ErrPortAllocated = errors.New("port is already allocated")

// reservePort binds the host port so no other process (or container) can
// take it while the mapping exists; the traffic itself never reaches this
// socket, the DNAT rule sends it to the container first. It returns the
// port bound (useful when any port was asked for).
func reservePort(proto string, ip netip.Addr, start, end uint16) (uint16, io.Closer, error) {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	if end < start {
		end = start
	}
	var lastErr error
	for p := uint32(start); p <= uint32(end); p++ {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(p)))
		var c io.Closer
		var bound uint16
		var err error
		switch proto {
		case "udp":
			var pc net.PacketConn
			pc, err = net.ListenPacket("udp4", addr)
			if err == nil {
				c, bound = pc, uint16(pc.LocalAddr().(*net.UDPAddr).Port)
			}
		case "sctp":
			// No SCTP sockets in the standard library: the rule alone
			// publishes the port.
			return uint16(p), io.NopCloser(nil), nil
		default:
			var l net.Listener
			l, err = net.Listen("tcp4", addr)
			if err == nil {
				c, bound = l, uint16(l.Addr().(*net.TCPAddr).Port)
			}
		}
		if err == nil {
			return bound, c, nil
		}
		lastErr = err
		if start == 0 {
			break
		}
	}
	if errors.Is(lastErr, syscall.EADDRINUSE) {
		hp := strconv.Itoa(int(start))
		if end > start {
			hp += "-" + strconv.Itoa(int(end))
		}
		return 0, nil, fmt.Errorf("Bind for %s failed: %w", net.JoinHostPort(ip.String(), hp), ErrPortAllocated)
	}
	return 0, nil, fmt.Errorf("bind host port %s/%s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(int(start))), proto, lastErr)
}

type closers []io.Closer

func (cs closers) Close() error {
	for _, c := range cs {
		if c != nil {
			_ = c.Close()
		}
	}
	return nil
}

// publishLocked binds the host ports of req for sb and records the
// mappings to its first endpoint. On error nothing stays bound.
func (m *Manager) publishLocked(sb *Sandbox, req []PortRequest) error {
	if len(req) == 0 {
		return nil
	}
	if len(sb.Endpoints) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("published ports need a bridge network")
	}
	ep := sb.Endpoints[0]
	var cs closers
	for _, pr := range req {
		port, c, err := reservePort(pr.Proto, pr.HostIP, pr.HostPortStart, pr.HostPortEnd)
		if err != nil {
			cs.Close()
			sb.Ports = nil
			return errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("driver failed programming external connectivity on endpoint %s (%s): %v", sb.Name, ep.ID, err))
		}
		cs = append(cs, c)
		hip := pr.HostIP
		if !hip.IsValid() {
			hip = netip.IPv4Unspecified()
		}
		pm := PortMapping{Proto: pr.Proto, HostIP: hip, HostPort: port, ContainerPort: pr.ContainerPort, ContainerIP: ep.IP}
		sb.Ports = append(sb.Ports, pm)
		if hip.IsUnspecified() && pr.Proto == "tcp" && m.ipv6 {
			// The same port on the host's IPv6 addresses, as Docker
			// shows it: [::]:4000->80/tcp.
			p6, err := startProxy6(port, netip.AddrPortFrom(ep.IP, pr.ContainerPort))
			if err != nil {
				m.log.Warn("publish on IPv6", "port", port, "err", err)
			} else {
				cs = append(cs, p6)
				pm.HostIP = netip.IPv6Unspecified()
				sb.Ports = append(sb.Ports, pm)
			}
		}
	}
	m.reserved[sb.ContainerID] = cs
	return nil
}

// unpublishLocked releases the host ports held for a container.
func (m *Manager) unpublishLocked(containerID string) {
	if c := m.reserved[containerID]; c != nil {
		c.Close()
		delete(m.reserved, containerID)
	}
}

// reservePorts re-binds the host ports of a restored sandbox.
func (m *Manager) reservePorts(sb *Sandbox) {
	var cs closers
	for _, pm := range sb.Ports {
		var c io.Closer
		var err error
		if pm.HostIP.Is6() {
			c, err = startProxy6(pm.HostPort, netip.AddrPortFrom(pm.ContainerIP, pm.ContainerPort))
		} else {
			_, c, err = reservePort(pm.Proto, pm.HostIP, pm.HostPort, pm.HostPort)
		}
		if err != nil {
			m.log.Warn("re-reserve published port", "container", sb.ContainerID, "port", pm.HostPort, "err", err)
			continue
		}
		cs = append(cs, c)
	}
	m.reserved[sb.ContainerID] = cs
}
