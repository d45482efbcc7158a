package network

import (
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

func testState() ruleState {
	return ruleState{
		networks: []ruleNetwork{
			{bridge: "b0", subnet: netip.MustParsePrefix("172.17.0.0/16")},
			{bridge: "b1", subnet: netip.MustParsePrefix("172.18.0.0/16")},
			{bridge: "b2", subnet: netip.MustParsePrefix("10.9.0.0/24"), internal: true},
		},
		ports: []PortMapping{
			{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 4000, ContainerPort: 80, ContainerIP: netip.MustParseAddr("172.17.0.2")},
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerPort: 53, ContainerIP: netip.MustParseAddr("172.18.0.2")},
		},
	}
}

func TestBuildRules(t *testing.T) {
	tests := []struct {
		name string
		st   ruleState
		want map[string]int
	}{
		{"one network, no ports", ruleState{networks: testState().networks[:1]},
			map[string]int{"prerouting": 1, "output": 1, "ports": 0, "postrouting": 3, "forward": 0}},
		{"three networks, one internal, two ports", testState(),
			// postrouting: 2 egress + 3 hairpin + 3 localhost; forward: 2
			// internal + 1 dnat accept + 6 pairwise drops.
			map[string]int{"prerouting": 1, "output": 1, "ports": 2, "postrouting": 8, "forward": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]int{}
			for _, c := range buildRules(tt.st) {
				got[c.name] = len(c.rules)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("chain %s has %d rules, want %d", k, got[k], v)
				}
			}
		})
	}
}

// tempNetNS returns a handle to a new, empty network namespace.
func tempNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ch := make(chan netns.NsHandle, 1)
	errc := make(chan error, 1)
	go func() {
		// Locked and never unlocked: the thread dies with the goroutine.
		runtime.LockOSThread()
		h, err := netns.New()
		if err != nil {
			errc <- err
			return
		}
		ch <- h
	}()
	select {
	case h := <-ch:
		t.Cleanup(func() { h.Close() })
		return h
	case err := <-errc:
		t.Skipf("cannot create a network namespace: %v", err)
	}
	return 0
}

func TestApplyRulesIsIdempotent(t *testing.T) {
	ns := tempNetNS(t)
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	count := func() map[string]int {
		out := map[string]int{}
		chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chains {
			rules, err := conn.GetRules(c.Table, c)
			if err != nil {
				t.Fatal(err)
			}
			out[c.Table.Name+"/"+c.Name] = len(rules)
		}
		return out
	}
	for i := 0; i < 3; i++ {
		if err := applyRules(conn, "berth-test", testState()); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	got := count()
	want := map[string]int{"berth-test/prerouting": 1, "berth-test/output": 1, "berth-test/ports": 2, "berth-test/postrouting": 8, "berth-test/forward": 9}
	if len(got) != len(want) {
		t.Fatalf("chains after 3 applies: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d rules, want %d (all: %v)", k, got[k], v, got)
		}
	}
	// A second daemon's table is left alone.
	if err := applyRules(conn, "berth-other", ruleState{networks: testState().networks[:1]}); err != nil {
		t.Fatal(err)
	}
	if err := applyRules(conn, "berth-test", ruleState{}); err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Name != "berth-other" {
		var names []string
		for _, tb := range tables {
			names = append(names, tb.Name)
		}
		t.Fatalf("tables after removing berth-test: %v", names)
	}
}

// With a multi-host data plane, mesh connections leaving the ingress
// bridge are SNATed to the node's LB address, before any masquerade.
func TestBuildRulesIngressLB(t *testing.T) {
	st := ruleState{
		networks: []ruleNetwork{{bridge: "ov-ingress", subnet: netip.MustParsePrefix("10.0.0.0/24")}},
		lb:       []lbSNAT{{bridge: "ov-ingress", addr: netip.MustParseAddr("10.0.0.3")}},
	}
	var post chainRules
	for _, c := range buildRules(st) {
		if c.name == "postrouting" {
			post = c
		}
	}
	if len(post.rules) == 0 {
		t.Fatal("no postrouting rules")
	}
	first := post.rules[0]
	nat, ok := first[len(first)-1].(*expr.NAT)
	if !ok || nat.Type != expr.NATTypeSourceNAT {
		t.Fatalf("first postrouting rule is not the LB SNAT: %#v", first)
	}
	imm, ok := first[len(first)-2].(*expr.Immediate)
	if !ok || netip.AddrFrom4([4]byte(imm.Data)) != netip.MustParseAddr("10.0.0.3") {
		t.Errorf("SNAT to %#v", first[len(first)-2])
	}
	if got := len(buildRules(ruleState{networks: st.networks})[3].rules); got != len(post.rules)-1 {
		t.Errorf("without an LB the chain has %d rules, with %d", got, len(post.rules))
	}
}
