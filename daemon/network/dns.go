package network

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsTTL is the TTL of container records, as Docker's embedded DNS uses.
const dnsTTL = 600

// dnsServer is the resolver on one network's gateway address (UDP and TCP
// port 53). It answers container names, aliases and short IDs of the
// network, and forwards every other query to the container's --dns servers
// or the host's resolvers.
type dnsServer struct {
	udp, tcp *dns.Server
}

// resolver answers for one network; lookup and upstreams come from the
// manager (under its lock).
type resolver struct {
	log     *slog.Logger
	network string
	// lookup resolves a name for the client (the querying container's
	// address on this network).
	lookup    func(client netip.Addr, name string) []netip.Addr
	reverse   func(ip netip.Addr) string
	upstreams func(client netip.Addr) []string
	forward   bool // false on --internal networks
}

func startDNS(ctx context.Context, addr netip.Addr, r *resolver) (*dnsServer, error) {
	hp := net.JoinHostPort(addr.String(), "53")
	pc, err := net.ListenPacket("udp4", hp)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp4", hp)
	if err != nil {
		pc.Close()
		return nil, err
	}
	s := &dnsServer{
		udp: &dns.Server{PacketConn: pc, Handler: r},
		tcp: &dns.Server{Listener: l, Handler: r},
	}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	return s, nil
}

func (s *dnsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.udp.ShutdownContext(ctx)
	_ = s.tcp.ShutdownContext(ctx)
}

// ServeDNS implements dns.Handler. A query never takes the daemon down:
// a panic while answering becomes SERVFAIL.
func (r *resolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("dns handler panic", "network", r.network, "panic", p)
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
		}
	}()
	if len(q.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	var client netip.Addr
	if a, ok := w.RemoteAddr().(*net.UDPAddr); ok {
		client, _ = netip.AddrFromSlice(a.IP.To4())
	} else if a, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		client, _ = netip.AddrFromSlice(a.IP.To4())
	}
	qq := q.Question[0]
	name := strings.TrimSuffix(strings.ToLower(qq.Name), ".")
	if qq.Qclass == dns.ClassINET {
		switch qq.Qtype {
		case dns.TypeA, dns.TypeAAAA:
			if ips := r.lookup(client, name); len(ips) > 0 {
				m := new(dns.Msg)
				m.SetReply(q)
				m.Authoritative = true
				if qq.Qtype == dns.TypeA {
					for _, ip := range ips {
						m.Answer = append(m.Answer, &dns.A{
							Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
							A:   ip.AsSlice(),
						})
					}
				}
				_ = w.WriteMsg(m)
				return
			}
		case dns.TypePTR:
			if ip, ok := ptrAddr(name); ok {
				if n := r.reverse(ip); n != "" {
					m := new(dns.Msg)
					m.SetReply(q)
					m.Authoritative = true
					m.Answer = append(m.Answer, &dns.PTR{
						Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: dnsTTL},
						Ptr: dns.Fqdn(n),
					})
					_ = w.WriteMsg(m)
					return
				}
			}
		}
	}
	if r.forward {
		proto := "udp"
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			proto = "tcp"
		}
		c := &dns.Client{Net: proto, Timeout: 4 * time.Second}
		for _, up := range r.upstreams(client) {
			resp, _, err := c.Exchange(q, up)
			if err != nil {
				r.log.Debug("dns forward", "network", r.network, "upstream", up, "name", name, "err", err)
				continue
			}
			_ = w.WriteMsg(resp)
			return
		}
	}
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}

// ptrAddr reads an in-addr.arpa name.
func ptrAddr(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	return ip, err == nil
}

// hostResolvers reads the nameservers of the host's resolv.conf as
// host:53 addresses.
func hostResolvers(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, net.JoinHostPort(ip.String(), "53"))
			}
		}
	}
	return out
}
