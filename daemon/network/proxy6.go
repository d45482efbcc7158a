package network

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// hostHasIPv6 reports whether the host has IPv6 loopback configured.
func hostHasIPv6() bool {
	b, err := os.ReadFile("/proc/net/if_inet6")
	if err != nil {
		return false
	}
	return len(b) > 0
}

// proxy6 makes a published TCP port answer on the host's IPv6 addresses
// (::1 included). berth's bridges are IPv4 and nftables cannot translate
// IPv6 to IPv4, so — the one place berth does what docker-proxy does —
// the daemon accepts on [::]:port and relays each connection to the
// container's IPv4 address. IPv4 never takes this path.
type proxy6 struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startProxy6(port uint16, target netip.AddrPort) (*proxy6, error) {
	l, err := net.Listen("tcp6", net.JoinHostPort("::", strconv.Itoa(int(port))))
	if err != nil {
		return nil, err
	}
	p := &proxy6{l: l, target: target.String(), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy6) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		p.wg.Add(1)
		go p.relay(c)
	}
}

func (p *proxy6) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *proxy6) relay(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	up, err := net.DialTimeout("tcp4", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(c, true) || !p.track(up, true) {
		return
	}
	defer p.track(c, false)
	defer p.track(up, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// Close stops accepting and ends the relayed connections.
func (p *proxy6) Close() error {
	err := p.l.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
