package testenv

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// FreePort returns a TCP port that is free on all addresses right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// HostIP is the host's first global IPv4 address (not loopback, not a
// bridge of berth's), for tests that reach published ports "from outside".
func HostIP(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "route", "get", "1.1.1.1").Output()
	if err == nil {
		f := strings.Fields(string(out))
		for i, w := range f {
			if w == "src" && i+1 < len(f) {
				return f[i+1]
			}
		}
	}
	t.Skip("no global IPv4 address on this host")
	return ""
}

// Outside is a network namespace linked to the host by a veth pair: a
// stand-in for "the internet" that tests can send traffic to without
// leaving the machine.
type Outside struct {
	NS     string // name under /var/run/netns
	HostIP string // the host's end (what masquerade rewrites sources to)
	IP     string // the outside's address
	link   string
}

// NewOutside creates the namespace and veth; they are removed when the
// test ends.
func NewOutside(t testing.TB, octet int) *Outside {
	t.Helper()
	RequireRoot(t)
	id := randHex(3)
	o := &Outside{NS: "berth-out-" + id, link: "vo" + id, HostIP: fmt.Sprintf("10.253.%d.1", octet), IP: fmt.Sprintf("10.253.%d.2", octet)}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", o.link).Run()
		_ = exec.Command("ip", "netns", "del", o.NS).Run()
	})
	run("netns", "add", o.NS)
	run("link", "add", o.link, "type", "veth", "peer", "name", "vi"+id, "netns", o.NS)
	run("addr", "add", o.HostIP+"/30", "dev", o.link)
	run("link", "set", o.link, "up")
	run("-n", o.NS, "addr", "add", o.IP+"/30", "dev", "vi"+id)
	run("-n", o.NS, "link", "set", "vi"+id, "up")
	run("-n", o.NS, "link", "set", "lo", "up")
	return o
}

// Listen opens a TCP listener inside the outside namespace.
func (o *Outside) Listen(t testing.TB) net.Listener {
	t.Helper()
	var l net.Listener
	o.inNS(t, func() (err error) {
		l, err = net.Listen("tcp4", o.IP+":0")
		return err
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// ListenPacket opens a packet socket inside the outside namespace.
func (o *Outside) ListenPacket(t testing.TB, network, addr string) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	o.inNS(t, func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	t.Cleanup(func() { pc.Close() })
	return pc
}

// inNS runs f on a thread inside the namespace; sockets it opens stay
// there and can be used from any goroutine.
func (o *Outside) inNS(t testing.TB, f func() error) {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		// This thread switches namespace and is never unlocked, so Go
		// retires it when the goroutine ends.
		runtime.LockOSThread()
		h, err := netns.GetFromName(o.NS)
		if err != nil {
			ch <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- err
			return
		}
		ch <- f()
	}()
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
}

// HTTPGet fetches url with a short timeout and returns the body.
func HTTPGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// NFTRuleCount counts the rules in one chain of an IPv4 nftables table.
func NFTRuleCount(t testing.TB, table, chain string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := c.GetRules(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}, &nftables.Chain{Name: chain})
	if err != nil {
		t.Fatalf("rules of %s/%s: %v", table, chain, err)
	}
	return len(rules)
}

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // probing a test server
