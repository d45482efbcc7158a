package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

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
