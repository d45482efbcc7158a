package local

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/machine"
)

func TestOverlapsRoute(t *testing.T) {
	route := func(cidr string) netlink.Route {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		return netlink.Route{Dst: n}
	}
	p := netip.MustParsePrefix("192.168.99.0/24")
	for _, tc := range []struct {
		routes []netlink.Route
		want   bool
	}{
		{nil, false},
		{[]netlink.Route{{}}, false},                        // default route, nil Dst
		{[]netlink.Route{route("0.0.0.0/0")}, false},        // default route as 0/0
		{[]netlink.Route{route("192.168.99.0/24")}, true},   // the same
		{[]netlink.Route{route("192.168.0.0/16")}, true},    // a wider one
		{[]netlink.Route{route("192.168.99.128/25")}, true}, // a narrower one
		{[]netlink.Route{route("192.168.100.0/24")}, false}, // beside it
		{[]netlink.Route{route("10.0.0.0/8"), route("192.168.99.7/32")}, true},
	} {
		if got := overlapsRoute(p, tc.routes); got != tc.want {
			t.Errorf("overlapsRoute(%v) = %v", tc.routes, got)
		}
	}
}

func TestNames(t *testing.T) {
	if storeID("/a") == storeID("/b") || len(storeID("/a")) != 8 {
		t.Error("store IDs")
	}
	d1, d2 := &Driver{store: "/s1"}, &Driver{store: "/s2"}
	m := machineNamed(t, "myvm1")
	if d1.hostIf(m) == d2.hostIf(m) || len(d1.hostIf(m))+1 > 15 {
		t.Errorf("host interface names %q %q (with the peer's p suffix, at most 15)", d1.hostIf(m), d2.hostIf(m))
	}
	if got := macFor(netip.MustParseAddr("192.168.99.100")).String(); got != "02:42:c0:a8:63:64" {
		t.Errorf("mac %s", got)
	}
}

func TestStartTime(t *testing.T) {
	a, err := startTime(os.Getpid())
	if err != nil || a == "" {
		t.Fatal(a, err)
	}
	if b, _ := startTime(os.Getpid()); a != b {
		t.Error("start time changed")
	}
	if _, err := startTime(1 << 30); err == nil {
		t.Error("start time of no process")
	}
}

func machineNamed(t *testing.T, name string) *machine.Machine {
	t.Helper()
	st, err := machine.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.New(name, Name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
