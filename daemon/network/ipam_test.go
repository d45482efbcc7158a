package network

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
)

func TestPickSubnet(t *testing.T) {
	pools := defaultPools()
	tests := []struct {
		name string
		used []string
		want string
	}{
		{"empty host", nil, "172.17.0.0/16"},
		{"docker0 taken", []string{"172.17.0.0/16"}, "172.18.0.0/16"},
		{"a host route inside a pool", []string{"172.17.5.0/24", "172.18.0.1/32"}, "172.19.0.0/16"},
		{"a wide route covers all 172s", []string{"172.16.0.0/12"}, "192.168.0.0/20"},
		{"default route is not a conflict", []string{"192.0.2.0/24"}, "172.17.0.0/16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var used []netip.Prefix
			for _, u := range tt.used {
				used = append(used, netip.MustParsePrefix(u))
			}
			got, err := pickSubnet(pools, used)
			if err != nil || got.String() != tt.want {
				t.Fatalf("pickSubnet = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	all := append([]netip.Prefix{}, pools...)
	if _, err := pickSubnet(pools, all); err == nil {
		t.Fatal("pickSubnet with every pool used: no error")
	}
}

func TestAllocator(t *testing.T) {
	sub := netip.MustParsePrefix("10.9.0.0/29") // hosts .1-.6
	a := newAllocator(sub, netip.Prefix{}, netip.MustParseAddr("10.9.0.1"))
	seen := map[netip.Addr]bool{}
	for i := 0; i < 5; i++ {
		ip, err := a.next("c")
		if err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
		if seen[ip] || ip == netip.MustParseAddr("10.9.0.1") || !sub.Contains(ip) {
			t.Fatalf("bad or duplicate address %s", ip)
		}
		seen[ip] = true
	}
	if ip, err := a.next("c"); err == nil {
		t.Fatalf("allocated %s from a full pool", ip)
	}
	a.release(netip.MustParseAddr("10.9.0.4"), "other") // not the owner: kept
	if _, err := a.next("c"); err == nil {
		t.Fatal("release by a non-owner freed the address")
	}
	a.release(netip.MustParseAddr("10.9.0.4"), "c")
	if ip, err := a.next("d"); err != nil || ip != netip.MustParseAddr("10.9.0.4") {
		t.Fatalf("after release got %v, %v", ip, err)
	}
	if err := a.reserve(netip.MustParseAddr("10.9.0.4"), "e"); err == nil {
		t.Fatal("reserve of a used address succeeded")
	}
	for _, bad := range []string{"10.9.0.0", "10.9.0.7", "10.9.1.2"} {
		if err := a.reserve(netip.MustParseAddr(bad), "e"); err == nil {
			t.Fatalf("reserve(%s) succeeded", bad)
		}
	}
}

func TestAllocatorIPRange(t *testing.T) {
	a := newAllocator(netip.MustParsePrefix("10.8.0.0/16"), netip.MustParsePrefix("10.8.5.0/30"), netip.MustParseAddr("10.8.0.1"))
	var got []string
	for {
		ip, err := a.next("x")
		if err != nil {
			break
		}
		got = append(got, ip.String())
	}
	if len(got) != 2 || got[0] != "10.8.5.1" || got[1] != "10.8.5.2" {
		t.Fatalf("ip-range allocations = %v", got)
	}
	// A static address outside the range but inside the subnet is allowed.
	if err := a.reserve(netip.MustParseAddr("10.8.9.9"), "y"); err != nil {
		t.Fatal(err)
	}
}

func TestChooseSubnetRefusesLoopback(t *testing.T) {
	tests := []struct {
		subnet string
		ok     bool
	}{
		{"127.1.0.0/16", false},
		{"127.0.0.0/8", false},
		{"126.0.0.0/7", false},
		{"172.30.0.0/16", true},
	}
	for _, tt := range tests {
		err := (&bridgeDriver{}).chooseSubnet(&Network{}, nil, netip.MustParsePrefix(tt.subnet), netip.Prefix{}, netip.Addr{})
		if tt.ok != (err == nil) || (err != nil && !errdefs.IsInvalidArgument(err)) {
			t.Errorf("chooseSubnet(%s) = %v", tt.subnet, err)
		}
	}
}

func TestCheckBridgeNameRefusesNonBridge(t *testing.T) {
	// lo exists in every network namespace and is never a bridge.
	if err := checkBridgeName("lo"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("checkBridgeName(lo) = %v, want invalid argument", err)
	}
	if err := checkBridgeName("berth-nonexist0"); err != nil {
		t.Fatalf("checkBridgeName(absent) = %v", err)
	}
}
