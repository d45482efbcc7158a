package network

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// recorder is a dns.ResponseWriter that keeps the reply.
type recorder struct {
	msg    *dns.Msg
	remote net.Addr
}

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr      { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error) {
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

func testResolver() *resolver {
	return &resolver{
		log: slog.New(slog.DiscardHandler), network: "webnet",
		lookup: func(_ netip.Addr, name string) []netip.Addr {
			if name == "web" || name == "alias" {
				return []netip.Addr{netip.MustParseAddr("10.0.0.2")}
			}
			return nil
		},
		reverse: func(ip netip.Addr) string {
			if ip == netip.MustParseAddr("10.0.0.2") {
				return "web.webnet"
			}
			return ""
		},
		upstreams: func(netip.Addr) []string { return nil }, // nothing to forward to
		forward:   true,
	}
}

func TestResolver(t *testing.T) {
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  string
	}{
		{"web.", dns.TypeA, dns.RcodeSuccess, "10.0.0.2"},
		{"WEB.", dns.TypeA, dns.RcodeSuccess, "10.0.0.2"},
		{"alias.", dns.TypeA, dns.RcodeSuccess, "10.0.0.2"},
		{"web.", dns.TypeAAAA, dns.RcodeSuccess, ""},
		{"2.0.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "web.webnet."},
		{"example.com.", dns.TypeA, dns.RcodeServerFailure, ""},
	}
	r := testResolver()
	for _, tt := range tests {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, tt.qtype)
		w := &recorder{remote: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 3), Port: 5000}}
		r.ServeDNS(w, q)
		if w.msg == nil {
			t.Fatalf("%s: no reply", tt.name)
		}
		if w.msg.Rcode != tt.rcode {
			t.Errorf("%s %s: rcode %d, want %d", tt.name, dns.TypeToString[tt.qtype], w.msg.Rcode, tt.rcode)
		}
		got := ""
		for _, rr := range w.msg.Answer {
			switch v := rr.(type) {
			case *dns.A:
				got = v.A.String()
			case *dns.PTR:
				got = v.Ptr
			}
		}
		if got != tt.want {
			t.Errorf("%s %s: answer %q, want %q", tt.name, dns.TypeToString[tt.qtype], got, tt.want)
		}
	}
}

// FuzzResolver feeds arbitrary DNS messages (outside input: any container
// can send them) to the resolver: it must answer without panicking.
func FuzzResolver(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("web.", dns.TypeA)
	b, _ := q.Pack()
	f.Add(b)
	q.SetQuestion("1.2.3.4.in-addr.arpa.", dns.TypePTR)
	b, _ = q.Pack()
	f.Add(b)
	r := testResolver()
	f.Fuzz(func(t *testing.T, data []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			return
		}
		w := &recorder{remote: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 3), Port: 5000}}
		r.ServeDNS(w, m)
		if w.msg == nil {
			t.Fatal("no reply")
		}
	})
}

func TestPtrAddr(t *testing.T) {
	for in, want := range map[string]string{
		"4.3.2.1.in-addr.arpa": "1.2.3.4",
		"3.2.1.in-addr.arpa":   "",
		"a.b.c.d.in-addr.arpa": "",
		"example.com":          "",
	} {
		ip, ok := ptrAddr(in)
		if (want == "") == ok || (ok && ip.String() != want) {
			t.Errorf("ptrAddr(%q) = %v, %v", in, ip, ok)
		}
	}
}
