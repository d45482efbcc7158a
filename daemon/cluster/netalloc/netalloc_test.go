package netalloc

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSwarmKitAllocatorSuite runs SwarmKit's conformance suite for network
// allocators against the provider.
func TestSwarmKitAllocatorSuite(t *testing.T) {
	allocator.RunAllocatorTests(t, slowStartProvider{NewProvider()})
}

// slowStartProvider hands out allocators whose first call waits a moment.
//
// Three of the suite's tests (TestAllocatorRestoreForDuplicateIPs,
// TestAllocatorRestartNoEndpointSpec, TestAllocatorRestoreForUnallocatedNetwork)
// start SwarmKit's allocator before they subscribe to the store's events,
// and then wait for the updates the allocator's start-up makes. An allocator
// that restores quickly can commit those updates before the subscription
// exists, and the test then times out waiting for them. The wait gives the
// test goroutine time to subscribe; it changes nothing else.
type slowStartProvider struct{ *Provider }

func (p slowStartProvider) NewAllocator(cfg *networkallocator.Config) (networkallocator.NetworkAllocator, error) {
	na, err := p.Provider.NewAllocator(cfg)
	if err != nil {
		return nil, err
	}
	return &slowStart{NetworkAllocator: na}, nil
}

type slowStart struct {
	networkallocator.NetworkAllocator
	once sync.Once
}

func (s *slowStart) wait() { s.once.Do(func() { time.Sleep(30 * time.Millisecond) }) }

func (s *slowStart) IsAllocated(n *api.Network) bool {
	s.wait()
	return s.NetworkAllocator.IsAllocated(n)
}

func (s *slowStart) Allocate(n *api.Network) error {
	s.wait()
	return s.NetworkAllocator.Allocate(n)
}

func (s *slowStart) IsServiceAllocated(sv *api.Service, flags ...func(*networkallocator.ServiceAllocationOpts)) bool {
	s.wait()
	return s.NetworkAllocator.IsServiceAllocated(sv, flags...)
}

func (s *slowStart) IsTaskAllocated(t *api.Task) bool {
	s.wait()
	return s.NetworkAllocator.IsTaskAllocated(t)
}

func (s *slowStart) IsAttachmentAllocated(node *api.Node, na *api.NetworkAttachment) bool {
	s.wait()
	return s.NetworkAllocator.IsAttachmentAllocated(node, na)
}

// newTestAllocator returns an allocator configured by cfg (nil: defaults).
func newTestAllocator(t *testing.T, cfg *networkallocator.Config) *Allocator {
	t.Helper()
	na, err := NewProvider().NewAllocator(cfg)
	if err != nil {
		t.Fatalf("NewAllocator: %v", err)
	}
	return na.(*Allocator)
}

// overlayNet returns an unallocated overlay network with the given IPAM
// configurations.
func overlayNet(id string, configs ...*api.IPAMConfig) *api.Network {
	n := &api.Network{ID: id, Spec: api.NetworkSpec{Annotations: api.Annotations{Name: "net-" + id}}}
	if len(configs) > 0 {
		n.Spec.IPAM = &api.IPAMOptions{Configs: configs}
	}
	return n
}

func mustAllocate(t *testing.T, a *Allocator, n *api.Network) {
	t.Helper()
	if err := a.Allocate(n); err != nil {
		t.Fatalf("Allocate(%s): %v", n.ID, err)
	}
}

func taskOn(id string, nets ...*api.Network) *api.Task {
	tk := &api.Task{ID: id}
	for _, n := range nets {
		tk.Networks = append(tk.Networks, &api.NetworkAttachment{Network: n})
	}
	return tk
}

func mustAllocateTask(t *testing.T, a *Allocator, tk *api.Task) string {
	t.Helper()
	if err := a.AllocateTask(tk); err != nil {
		t.Fatalf("AllocateTask(%s): %v", tk.ID, err)
	}
	if !a.IsTaskAllocated(tk) {
		t.Fatalf("task %s not allocated after AllocateTask", tk.ID)
	}
	return tk.Networks[0].Addresses[0]
}

func vxlanIDs(n *api.Network) string { return n.DriverState.Options[VXLANIDListOption] }

func TestValidateDrivers(t *testing.T) {
	p := NewProvider()
	tests := []struct {
		name     string
		validate func(*api.Driver) error
		driver   *api.Driver
		code     codes.Code // codes.OK: accepted
		msg      string
	}{
		{"network nil", p.ValidateNetworkDriver, nil, codes.OK, ""},
		{"network overlay", p.ValidateNetworkDriver, &api.Driver{Name: "overlay"}, codes.OK, ""},
		{"network Overlay", p.ValidateNetworkDriver, &api.Driver{Name: "Overlay"}, codes.OK, ""},
		{"network empty name", p.ValidateNetworkDriver, &api.Driver{}, codes.InvalidArgument, "driver name: if driver is specified name is required"},
		{"network bridge", p.ValidateNetworkDriver, &api.Driver{Name: "bridge"}, codes.InvalidArgument, `network driver "bridge" is not supported for swarm-scoped networks`},
		{"network macvlan", p.ValidateNetworkDriver, &api.Driver{Name: "macvlan"}, codes.InvalidArgument, `network driver "macvlan" is not supported for swarm-scoped networks`},
		{"network unknown", p.ValidateNetworkDriver, &api.Driver{Name: "weave"}, codes.InvalidArgument, "error during lookup of plugin weave"},
		{"ingress nil", p.ValidateIngressNetworkDriver, nil, codes.OK, ""},
		{"ingress overlay", p.ValidateIngressNetworkDriver, &api.Driver{Name: "overlay"}, codes.OK, ""},
		{"ingress bridge", p.ValidateIngressNetworkDriver, &api.Driver{Name: "bridge"}, codes.Unimplemented, "only overlay driver is currently supported for ingress network"},
		{"ipam nil", p.ValidateIPAMDriver, nil, codes.OK, ""},
		{"ipam default", p.ValidateIPAMDriver, &api.Driver{Name: "default"}, codes.OK, ""},
		{"ipam DEFAULT", p.ValidateIPAMDriver, &api.Driver{Name: "DEFAULT"}, codes.OK, ""},
		{"ipam empty name", p.ValidateIPAMDriver, &api.Driver{}, codes.InvalidArgument, "driver name: if driver is specified name is required"},
		{"ipam null", p.ValidateIPAMDriver, &api.Driver{Name: "null"}, codes.InvalidArgument, "error during lookup of plugin null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.validate(tc.driver)
			if tc.code == codes.OK {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("got %v, want a gRPC status", err)
			}
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("got %s %q, want %s %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

func TestPredefinedNetworks(t *testing.T) {
	got := NewProvider().PredefinedNetworks()
	want := []networkallocator.PredefinedNetworkData{{Name: "bridge", Driver: "bridge"}, {Name: "host", Driver: "host"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestVXLANUDPPort(t *testing.T) {
	tests := []struct {
		name    string
		set     uint32
		cfgPort uint32
		wantErr string
		want    uint32
	}{
		{name: "zero is the default", set: 0, want: 4789},
		{name: "registered port", set: 7789, want: 7789},
		{name: "lowest", set: 1024, want: 1024},
		{name: "highest", set: 49151, want: 49151},
		{name: "system port", set: 80, wantErr: "VXLAN UDP port number is not in valid range (1024-49151): 80", want: 4789},
		{name: "dynamic port", set: 50000, wantErr: "VXLAN UDP port number is not in valid range (1024-49151): 50000", want: 4789},
		{name: "config wins", set: 7789, cfgPort: 8472, want: 8472},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProvider()
			err := p.SetDefaultVXLANUDPPort(tc.set)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			na, err := p.NewAllocator(&networkallocator.Config{VXLANUDPPort: tc.cfgPort})
			if err != nil {
				t.Fatal(err)
			}
			if got := na.(*Allocator).VXLANUDPPort(); got != tc.want {
				t.Fatalf("port %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNewAllocatorConfig(t *testing.T) {
	tests := []struct {
		name       string
		cfg        *networkallocator.Config
		wantErr    string
		wantSubnet string // of the first network
	}{
		{name: "nil", cfg: nil, wantSubnet: "10.0.0.0/24"},
		{name: "zero", cfg: &networkallocator.Config{}, wantSubnet: "10.0.0.0/24"},
		{name: "custom pool and size", cfg: &networkallocator.Config{DefaultAddrPool: []string{"192.168.0.0/16"}, SubnetSize: 26}, wantSubnet: "192.168.0.0/26"},
		{name: "unmasked pool", cfg: &networkallocator.Config{DefaultAddrPool: []string{"172.20.5.0/16"}}, wantSubnet: "172.20.0.0/24"},
		{name: "bad pool", cfg: &networkallocator.Config{DefaultAddrPool: []string{"10.0.0.0"}}, wantErr: `invalid default address pool "10.0.0.0"`},
		{name: "ipv6 pool", cfg: &networkallocator.Config{DefaultAddrPool: []string{"fd00::/48"}}, wantErr: "only IPv4 pools are supported"},
		{name: "size wider than pool", cfg: &networkallocator.Config{DefaultAddrPool: []string{"10.0.0.0/16"}, SubnetSize: 8}, wantErr: "invalid subnet size 8"},
		{name: "size too long", cfg: &networkallocator.Config{SubnetSize: 33}, wantErr: "invalid subnet size 33"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, err := NewProvider().NewAllocator(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := overlayNet("n1")
			if err := na.Allocate(n); err != nil {
				t.Fatal(err)
			}
			if got := n.IPAM.Configs[0].Subnet; got != tc.wantSubnet {
				t.Fatalf("subnet %s, want %s", got, tc.wantSubnet)
			}
		})
	}
}

func TestAllocateNetwork(t *testing.T) {
	tests := []struct {
		name        string
		net         *api.Network
		wantSubnet  string
		wantGateway string
		wantRange   string
		wantVNIs    string
		local       bool
	}{
		{name: "default pool", net: overlayNet("a"), wantSubnet: "10.0.0.0/24", wantGateway: "10.0.0.1", wantVNIs: "4096"},
		{name: "user subnet", net: overlayNet("b", &api.IPAMConfig{Subnet: "192.168.7.0/24"}), wantSubnet: "192.168.7.0/24", wantGateway: "192.168.7.1", wantVNIs: "4096"},
		{name: "user gateway and range", net: overlayNet("c", &api.IPAMConfig{Subnet: "172.28.0.0/16", Gateway: "172.28.5.254", Range: "172.28.5.0/24"}),
			wantSubnet: "172.28.0.0/16", wantGateway: "172.28.5.254", wantRange: "172.28.5.0/24", wantVNIs: "4096"},
		{name: "two subnets, two VNIs", net: overlayNet("d", &api.IPAMConfig{Subnet: "10.20.0.0/24"}, &api.IPAMConfig{Subnet: "10.21.0.0/24"}),
			wantSubnet: "10.20.0.0/24", wantGateway: "10.20.0.1", wantVNIs: "4096,4097"},
		{name: "user VNI", net: func() *api.Network {
			n := overlayNet("e")
			n.Spec.DriverConfig = &api.Driver{Name: "overlay", Options: map[string]string{VXLANIDListOption: "328", "encrypted": ""}}
			return n
		}(), wantSubnet: "10.0.0.0/24", wantGateway: "10.0.0.1", wantVNIs: "328"},
		{name: "predefined bridge", net: &api.Network{ID: "br", Spec: api.NetworkSpec{
			Annotations:  api.Annotations{Name: "bridge", Labels: map[string]string{networkallocator.PredefinedLabel: "true"}},
			DriverConfig: &api.Driver{Name: "bridge"},
		}}, local: true},
		{name: "node-local driver", net: &api.Network{ID: "mv", Spec: api.NetworkSpec{DriverConfig: &api.Driver{Name: "macvlan"}}}, local: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAllocator(t, nil)
			n := tc.net
			mustAllocate(t, a, n)
			if !a.IsAllocated(n) {
				t.Fatal("IsAllocated false after Allocate")
			}
			if n.IPAM == nil || n.DriverState == nil {
				t.Fatalf("IPAM %v, DriverState %v: want both set", n.IPAM, n.DriverState)
			}
			if tc.local {
				if len(n.IPAM.Configs) != 0 {
					t.Fatalf("node-local network got IPAM configs %v", n.IPAM.Configs)
				}
				if n.DriverState.Name != n.Spec.DriverConfig.Name {
					t.Fatalf("driver state %q, want %q", n.DriverState.Name, n.Spec.DriverConfig.Name)
				}
				return
			}
			if n.IPAM.Driver.Name != "default" {
				t.Fatalf("IPAM driver %q, want default", n.IPAM.Driver.Name)
			}
			c := n.IPAM.Configs[0]
			if c.Subnet != tc.wantSubnet || c.Gateway != tc.wantGateway || c.Range != tc.wantRange {
				t.Fatalf("config %+v, want subnet %s gateway %s range %q", c, tc.wantSubnet, tc.wantGateway, tc.wantRange)
			}
			if n.DriverState.Name != "overlay" || vxlanIDs(n) != tc.wantVNIs {
				t.Fatalf("driver state %+v, want overlay with VNIs %s", n.DriverState, tc.wantVNIs)
			}
			if n.Spec.DriverConfig != nil {
				for k, v := range n.Spec.DriverConfig.Options {
					if n.DriverState.Options[k] != v {
						t.Fatalf("driver option %s=%q not kept in driver state %v", k, v, n.DriverState.Options)
					}
				}
			}
			if err := a.Allocate(n); err == nil {
				t.Fatal("allocating an allocated network succeeded")
			}
		})
	}
}

func TestAllocateNetworkErrors(t *testing.T) {
	tests := []struct {
		name    string
		first   *api.Network // allocated before, may be nil
		net     *api.Network
		wantErr string
	}{
		{name: "overlapping user subnets", first: overlayNet("a", &api.IPAMConfig{Subnet: "10.1.0.0/16"}),
			net: overlayNet("b", &api.IPAMConfig{Subnet: "10.1.2.0/24"}), wantErr: "Pool overlaps with other one on this address space"},
		{name: "user subnet over a pool subnet", first: overlayNet("a"),
			net: overlayNet("b", &api.IPAMConfig{Subnet: "10.0.0.128/25"}), wantErr: "Pool overlaps"},
		{name: "overlap within one network", net: overlayNet("b", &api.IPAMConfig{Subnet: "10.9.0.0/16"}, &api.IPAMConfig{Subnet: "10.9.1.0/24"}), wantErr: "Pool overlaps"},
		{name: "bad subnet", net: overlayNet("b", &api.IPAMConfig{Subnet: "10.9.0.0/33"}), wantErr: "invalid subnet"},
		{name: "gateway outside", net: overlayNet("b", &api.IPAMConfig{Subnet: "10.9.0.0/24", Gateway: "10.8.0.1"}), wantErr: "does not contain gateway"},
		{name: "range outside", net: overlayNet("b", &api.IPAMConfig{Subnet: "10.9.0.0/24", Range: "10.9.0.0/16"}), wantErr: "does not contain range"},
		{name: "VNI in use", first: func() *api.Network {
			n := overlayNet("a")
			n.Spec.DriverConfig = &api.Driver{Name: "overlay", Options: map[string]string{VXLANIDListOption: "328"}}
			return n
		}(), net: func() *api.Network {
			n := overlayNet("b")
			n.Spec.DriverConfig = &api.Driver{Name: "overlay", Options: map[string]string{VXLANIDListOption: "328"}}
			return n
		}(), wantErr: "VXLAN id 328 is already in use by network a"},
		{name: "bad VNI", net: func() *api.Network {
			n := overlayNet("b")
			n.Spec.DriverConfig = &api.Driver{Name: "overlay", Options: map[string]string{VXLANIDListOption: "16777216"}}
			return n
		}(), wantErr: "invalid VXLAN id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAllocator(t, nil)
			if tc.first != nil {
				mustAllocate(t, a, tc.first)
			}
			err := a.Allocate(tc.net)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			if a.IsAllocated(tc.net) || tc.net.IPAM != nil || tc.net.DriverState != nil {
				t.Fatalf("failed allocation left traces: allocated %v, IPAM %v, driver state %v", a.IsAllocated(tc.net), tc.net.IPAM, tc.net.DriverState)
			}
			// Whatever the failed call took must be free again.
			probe := overlayNet("probe")
			mustAllocate(t, a, probe)
			wantVNI := "4096"
			if tc.first != nil && vxlanIDs(tc.first) == "4096" {
				wantVNI = "4097"
			}
			if got := vxlanIDs(probe); got != wantVNI {
				t.Fatalf("probe network got VNI %s, want %s", got, wantVNI)
			}
		})
	}
}

func TestDefaultPoolSkipsUsedSubnets(t *testing.T) {
	a := newTestAllocator(t, nil)
	mustAllocate(t, a, overlayNet("u1", &api.IPAMConfig{Subnet: "10.0.1.0/24"}))
	mustAllocate(t, a, overlayNet("u2", &api.IPAMConfig{Subnet: "10.0.4.0/22"}))
	var got []string
	for i := range 5 {
		n := overlayNet(fmt.Sprint("d", i))
		mustAllocate(t, a, n)
		got = append(got, n.IPAM.Configs[0].Subnet)
	}
	want := "10.0.0.0/24 10.0.2.0/24 10.0.3.0/24 10.0.8.0/24 10.0.9.0/24"
	if strings.Join(got, " ") != want {
		t.Fatalf("subnets %v, want %s", got, want)
	}
	// A freed subnet is handed out again.
	if err := a.Deallocate(&api.Network{ID: "d1"}); err != nil {
		t.Fatal(err)
	}
	n := overlayNet("again")
	mustAllocate(t, a, n)
	if got := n.IPAM.Configs[0].Subnet; got != "10.0.2.0/24" {
		t.Fatalf("after freeing 10.0.2.0/24 got %s", got)
	}
}

func TestPoolExhaustion(t *testing.T) {
	t.Run("subnets", func(t *testing.T) {
		a := newTestAllocator(t, &networkallocator.Config{DefaultAddrPool: []string{"10.10.0.0/23"}, SubnetSize: 24})
		mustAllocate(t, a, overlayNet("a"))
		mustAllocate(t, a, overlayNet("b"))
		err := a.Allocate(overlayNet("c"))
		if err == nil || !strings.Contains(err.Error(), "all predefined address pools have been fully subnetted") {
			t.Fatalf("third network: got %v, want pool exhaustion", err)
		}
		if err := a.Deallocate(&api.Network{ID: "a"}); err != nil {
			t.Fatal(err)
		}
		mustAllocate(t, a, overlayNet("c"))
	})
	t.Run("addresses", func(t *testing.T) {
		a := newTestAllocator(t, nil)
		// A /29 has 8 addresses: the network, broadcast and gateway
		// addresses leave 5.
		n := overlayNet("small", &api.IPAMConfig{Subnet: "192.168.50.0/29"})
		mustAllocate(t, a, n)
		got := map[string]bool{}
		for i := range 5 {
			got[mustAllocateTask(t, a, taskOn(fmt.Sprint("t", i), n))] = true
		}
		want := map[string]bool{"192.168.50.2/29": true, "192.168.50.3/29": true, "192.168.50.4/29": true, "192.168.50.5/29": true, "192.168.50.6/29": true}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("addresses %v, want %v", got, want)
		}
		extra := taskOn("t5", n)
		err := a.AllocateTask(extra)
		if err == nil || !strings.Contains(err.Error(), "no available addresses on this pool") {
			t.Fatalf("sixth task: got %v, want address exhaustion", err)
		}
		if extra.Networks[0].Addresses != nil || a.IsTaskAllocated(extra) {
			t.Fatal("failed task allocation left traces")
		}
		if err := a.AllocateService(&api.Service{ID: "s", Spec: api.ServiceSpec{Task: api.TaskSpec{Networks: []*api.NetworkAttachmentConfig{{Target: n.ID}}}}}); err == nil {
			t.Fatal("VIP allocated from a full pool")
		}
		freed := taskOn("t2", n)
		freed.Networks[0].Addresses = []string{"192.168.50.4/29"}
		if err := a.DeallocateTask(freed); err != nil {
			t.Fatal(err)
		}
		if got := mustAllocateTask(t, a, extra); got != "192.168.50.4/29" {
			t.Fatalf("after freeing .4 got %s", got)
		}
	})
}

func TestSerialAddresses(t *testing.T) {
	a := newTestAllocator(t, nil)
	n := overlayNet("n")
	mustAllocate(t, a, n)
	first := taskOn("t1", n)
	if got := mustAllocateTask(t, a, first); got != "10.0.0.2/24" {
		t.Fatalf("first address %s, want 10.0.0.2/24", got)
	}
	if err := a.DeallocateTask(first); err != nil {
		t.Fatal(err)
	}
	// The freed address is not handed out again straight away.
	if got := mustAllocateTask(t, a, taskOn("t2", n)); got != "10.0.0.3/24" {
		t.Fatalf("second address %s, want 10.0.0.3/24", got)
	}
}

func TestNoDuplicateIPs300Tasks(t *testing.T) {
	a := newTestAllocator(t, &networkallocator.Config{SubnetSize: 23})
	n := overlayNet("n")
	mustAllocate(t, a, n)
	subnet := netip.MustParsePrefix(n.IPAM.Configs[0].Subnet)
	gateway := netip.MustParseAddr(n.IPAM.Configs[0].Gateway)

	const workers, perWorker = 6, 50
	tasks := make([]*api.Task, workers*perWorker)
	for i := range tasks {
		tasks[i] = taskOn(fmt.Sprint("task", i), n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tasks))
	for w := range workers {
		wg.Go(func() {
			for _, tk := range tasks[w*perWorker : (w+1)*perWorker] {
				if err := a.AllocateTask(tk); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[netip.Addr]string{}
	check := func(tk *api.Task) {
		t.Helper()
		if len(tk.Networks[0].Addresses) != 1 {
			t.Fatalf("task %s has addresses %v", tk.ID, tk.Networks[0].Addresses)
		}
		pfx := netip.MustParsePrefix(tk.Networks[0].Addresses[0])
		addr := pfx.Addr()
		switch {
		case pfx.Bits() != subnet.Bits() || !subnet.Contains(addr):
			t.Fatalf("task %s: %s is not in %s", tk.ID, pfx, subnet)
		case addr == gateway || addr == subnet.Addr() || addr == lastAddr(subnet):
			t.Fatalf("task %s got reserved address %s", tk.ID, addr)
		}
		if other, dup := seen[addr]; dup {
			t.Fatalf("tasks %s and %s share %s", other, tk.ID, addr)
		}
		seen[addr] = tk.ID
	}
	for _, tk := range tasks {
		check(tk)
	}
	// Free a third, allocate as many again: still no duplicates among
	// the held ones.
	for _, tk := range tasks[:100] {
		delete(seen, netip.MustParsePrefix(tk.Networks[0].Addresses[0]).Addr())
		if err := a.DeallocateTask(tk); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		tk := taskOn(fmt.Sprint("more", i), n)
		mustAllocateTask(t, a, tk)
		check(tk)
	}
}

func TestVNIUniqueness(t *testing.T) {
	a := newTestAllocator(t, nil)
	seen := map[string]string{}
	for i := range 40 {
		n := overlayNet(fmt.Sprint("n", i))
		mustAllocate(t, a, n)
		v := vxlanIDs(n)
		if other, dup := seen[v]; dup {
			t.Fatalf("networks %s and %s share VNI %s", other, n.ID, v)
		}
		seen[v] = n.ID
		if want := fmt.Sprint(4096 + i); v != want {
			t.Fatalf("network %d got VNI %s, want %s", i, v, want)
		}
	}
	// A freed VNI is not handed out again straight away.
	if err := a.Deallocate(&api.Network{ID: "n0"}); err != nil {
		t.Fatal(err)
	}
	n := overlayNet("next")
	mustAllocate(t, a, n)
	if got := vxlanIDs(n); got != "4136" {
		t.Fatalf("VNI after freeing 4096: %s, want 4136", got)
	}
	// A user-chosen VNI is honoured and then taken.
	u := overlayNet("user")
	u.Spec.DriverConfig = &api.Driver{Name: "overlay", Options: map[string]string{VXLANIDListOption: "4137"}}
	mustAllocate(t, a, u)
	n2 := overlayNet("next2")
	mustAllocate(t, a, n2)
	if got := vxlanIDs(n2); got != "4138" {
		t.Fatalf("VNI after user VNI 4137: %s, want 4138", got)
	}
}

func TestRestoreReservesAllocations(t *testing.T) {
	// The first leader allocates everything.
	a1 := newTestAllocator(t, nil)
	ingress := &api.Network{ID: "ingress", Spec: api.NetworkSpec{Annotations: api.Annotations{Name: "ingress"}, Ingress: true}}
	n := overlayNet("n")
	mustAllocate(t, a1, ingress)
	mustAllocate(t, a1, n)
	svc := &api.Service{ID: "svc", Spec: api.ServiceSpec{
		Task:     api.TaskSpec{Networks: []*api.NetworkAttachmentConfig{{Target: n.ID}}},
		Endpoint: &api.EndpointSpec{Ports: []*api.PortConfig{{TargetPort: 80, PublishedPort: 8080}}},
	}}
	if err := a1.AllocateService(svc); err != nil {
		t.Fatal(err)
	}
	var tasks []*api.Task
	for i := range 3 {
		tk := taskOn(fmt.Sprint("t", i), ingress, n)
		mustAllocateTask(t, a1, tk)
		tasks = append(tasks, tk)
	}
	node := &api.Node{ID: "node1"}
	lb := &api.NetworkAttachment{Network: n}
	if err := a1.AllocateAttachment(node, lb); err != nil {
		t.Fatal(err)
	}

	// The next leader restores from the objects as stored.
	a2 := newTestAllocator(t, nil)
	rIngress, rNet, rSvc, rLB := ingress.Copy(), n.Copy(), svc.Copy(), lb.Copy()
	for _, nw := range []*api.Network{rIngress, rNet} {
		mustAllocate(t, a2, nw)
	}
	if fmt.Sprint(rNet.IPAM, rNet.DriverState) != fmt.Sprint(n.IPAM, n.DriverState) ||
		fmt.Sprint(rIngress.IPAM, rIngress.DriverState) != fmt.Sprint(ingress.IPAM, ingress.DriverState) {
		t.Fatalf("restore changed a network: %v %v, was %v %v", rNet.IPAM, rNet.DriverState, n.IPAM, n.DriverState)
	}
	if a2.IsServiceAllocated(rSvc) {
		t.Fatal("restored service counted as allocated before its VIPs were reserved")
	}
	if err := a2.AllocateService(rSvc); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rSvc.Endpoint.VirtualIPs) != fmt.Sprint(svc.Endpoint.VirtualIPs) {
		t.Fatalf("restore changed VIPs: %v, was %v", rSvc.Endpoint.VirtualIPs, svc.Endpoint.VirtualIPs)
	}
	if !a2.IsServiceAllocated(rSvc) {
		t.Fatal("restored service not allocated")
	}
	held := map[string]string{}
	for _, v := range rSvc.Endpoint.VirtualIPs {
		held[v.Addr] = "VIP of " + rSvc.ID
	}
	for _, tk := range tasks {
		rt := tk.Copy()
		if a2.IsTaskAllocated(rt) {
			t.Fatalf("restored task %s counted as allocated before its addresses were reserved", rt.ID)
		}
		mustAllocateTask(t, a2, rt)
		if fmt.Sprint(rt.Networks) != fmt.Sprint(tk.Networks) {
			t.Fatalf("restore changed task %s: %v, was %v", rt.ID, rt.Networks, tk.Networks)
		}
		for _, na := range rt.Networks {
			held[na.Addresses[0]] = "task " + rt.ID
		}
	}
	if a2.IsAttachmentAllocated(node, rLB) {
		t.Fatal("restored attachment counted as allocated before it was reserved")
	}
	if err := a2.AllocateAttachment(node, rLB); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rLB.Addresses) != fmt.Sprint(lb.Addresses) {
		t.Fatalf("restore changed the node attachment: %v, was %v", rLB.Addresses, lb.Addresses)
	}
	held[rLB.Addresses[0]] = "node " + node.ID

	// New allocations avoid everything restored.
	for i := range 20 {
		tk := taskOn(fmt.Sprint("new", i), ingress, n)
		mustAllocateTask(t, a2, tk)
		for _, na := range tk.Networks {
			if owner, dup := held[na.Addresses[0]]; dup {
				t.Fatalf("new task %s got %s, held by %s", tk.ID, na.Addresses[0], owner)
			}
			held[na.Addresses[0]] = "task " + tk.ID
		}
	}
	fresh := overlayNet("fresh")
	mustAllocate(t, a2, fresh)
	for _, old := range []*api.Network{ingress, n} {
		if fresh.IPAM.Configs[0].Subnet == old.IPAM.Configs[0].Subnet || vxlanIDs(fresh) == vxlanIDs(old) {
			t.Fatalf("new network %v %v reuses network %s's %v %v", fresh.IPAM.Configs[0], fresh.DriverState, old.ID, old.IPAM.Configs[0], old.DriverState)
		}
	}

	// A restored address held by someone else is refused.
	thief := taskOn("thief", n)
	thief.Networks[0].Addresses = []string{tasks[0].Networks[1].Addresses[0]}
	if err := a2.AllocateTask(thief); err == nil || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("claiming a held address: got %v, want Address already in use", err)
	}
	// So is the gateway.
	gw := taskOn("gw", n)
	gw.Networks[0].Addresses = []string{n.IPAM.Configs[0].Gateway}
	if err := a2.AllocateTask(gw); err == nil {
		t.Fatal("claiming the gateway succeeded")
	}
	// A restored network overlapping an allocated one is refused.
	clash := overlayNet("clash")
	clash.IPAM = n.IPAM.Copy()
	clash.DriverState = &api.Driver{Name: "overlay"}
	if err := a2.Allocate(clash); err == nil || !strings.Contains(err.Error(), "Pool overlaps") {
		t.Fatalf("restoring an overlapping network: got %v", err)
	}
}

func TestServiceVIPs(t *testing.T) {
	a := newTestAllocator(t, nil)
	ingress := &api.Network{ID: "ingress", Spec: api.NetworkSpec{Ingress: true}}
	n1, n2 := overlayNet("n1"), overlayNet("n2")
	bridge := &api.Network{ID: "bridge", Spec: api.NetworkSpec{
		Annotations:  api.Annotations{Labels: map[string]string{networkallocator.PredefinedLabel: "true"}},
		DriverConfig: &api.Driver{Name: "bridge"},
	}}
	for _, n := range []*api.Network{ingress, n1, n2, bridge} {
		mustAllocate(t, a, n)
	}
	attach := func(ids ...string) []*api.NetworkAttachmentConfig {
		var out []*api.NetworkAttachmentConfig
		for _, id := range ids {
			out = append(out, &api.NetworkAttachmentConfig{Target: id})
		}
		return out
	}
	vipNets := func(s *api.Service) string {
		var ids []string
		for _, v := range s.Endpoint.VirtualIPs {
			ids = append(ids, v.NetworkID+"="+v.Addr)
		}
		return strings.Join(ids, " ")
	}
	s := &api.Service{ID: "s", Spec: api.ServiceSpec{
		Task:     api.TaskSpec{Networks: attach("n1", "n2", "bridge")},
		Endpoint: &api.EndpointSpec{Ports: []*api.PortConfig{{TargetPort: 80, PublishedPort: 80}}},
	}}

	steps := []struct {
		name   string
		change func(*api.Service)
		want   string
	}{
		{name: "VIP per network plus ingress", change: func(*api.Service) {},
			want: "ingress=10.0.0.2/24 n1=10.0.1.2/24 n2=10.0.2.2/24"},
		{name: "network removed", change: func(s *api.Service) { s.Spec.Task.Networks = attach("n2") },
			want: "ingress=10.0.0.2/24 n2=10.0.2.2/24"},
		{name: "port unpublished", change: func(s *api.Service) { s.Spec.Endpoint.Ports = nil },
			want: "n2=10.0.2.2/24"},
		{name: "host-mode port needs no ingress", change: func(s *api.Service) {
			s.Spec.Endpoint.Ports = []*api.PortConfig{{TargetPort: 80, PublishedPort: 80, PublishMode: api.PublishModeHost}}
		}, want: "n2=10.0.2.2/24"},
		{name: "network added", change: func(s *api.Service) { s.Spec.Task.Networks = attach("n2", "n1") },
			want: "n2=10.0.2.2/24 n1=10.0.1.3/24"},
		{name: "dnsrr", change: func(s *api.Service) { s.Spec.Endpoint.Mode = api.ResolutionModeDNSRoundRobin },
			want: ""},
		{name: "back to vip, deprecated service networks", change: func(s *api.Service) {
			s.Spec.Endpoint.Mode = api.ResolutionModeVirtualIP
			s.Spec.Task.Networks = nil
			s.Spec.Networks = attach("n1")
		}, want: "n1=10.0.1.4/24"},
	}
	for _, st := range steps {
		st.change(s)
		if a.IsServiceAllocated(s) && st.name != "host-mode port needs no ingress" {
			t.Fatalf("%s: service counted as allocated before reallocation", st.name)
		}
		if err := a.AllocateService(s); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := vipNets(s); got != st.want {
			t.Fatalf("%s: VIPs %q, want %q", st.name, got, st.want)
		}
		if !a.IsServiceAllocated(s) {
			t.Fatalf("%s: service not allocated after AllocateService", st.name)
		}
		if s.Endpoint.Spec == s.Spec.Endpoint || !endpointSpecEqual(s.Endpoint.Spec, s.Spec.Endpoint) {
			t.Fatalf("%s: endpoint spec %v is not a copy of %v", st.name, s.Endpoint.Spec, s.Spec.Endpoint)
		}
	}

	// Unknown networks leave the service unallocated and unchanged.
	before := s.Copy()
	s.Spec.Networks = attach("n1", "missing")
	if a.IsServiceAllocated(s) {
		t.Fatal("service on an unallocated network counted as allocated")
	}
	if err := a.AllocateService(s); err == nil {
		t.Fatal("allocating a service on an unallocated network succeeded")
	}
	if fmt.Sprint(s.Endpoint) != fmt.Sprint(before.Endpoint) {
		t.Fatalf("failed allocation changed the endpoint: %v, was %v", s.Endpoint, before.Endpoint)
	}

	if err := a.DeallocateService(s); err != nil {
		t.Fatal(err)
	}
	if len(s.Endpoint.VirtualIPs) != 0 {
		t.Fatalf("VIPs left after DeallocateService: %v", s.Endpoint.VirtualIPs)
	}
	// Every VIP was freed: tasks taking all of n1's 253 addresses get
	// 10.0.1.4, the last VIP, among them.
	got := map[string]bool{}
	for i := range 253 {
		tk := taskOn(fmt.Sprint("t", i), n1)
		got[mustAllocateTask(t, a, tk)] = true
	}
	if !got["10.0.1.4/24"] || len(got) != 253 {
		t.Fatalf("n1 did not get all 253 addresses back (%d, .4 %v)", len(got), got["10.0.1.4/24"])
	}
}

func TestServiceVIPEdgeCases(t *testing.T) {
	a := newTestAllocator(t, nil)
	dual := overlayNet("dual", &api.IPAMConfig{Subnet: "10.99.0.0/24"}, &api.IPAMConfig{Subnet: "fd00:99::/64"})
	mustAllocate(t, a, dual)
	onDual := &api.Service{ID: "dual", Spec: api.ServiceSpec{Task: api.TaskSpec{Networks: []*api.NetworkAttachmentConfig{{Target: "dual"}}}}}
	if err := a.AllocateService(onDual); err != nil {
		t.Fatal(err)
	}
	if vips := onDual.Endpoint.VirtualIPs; len(vips) != 1 || vips[0].Addr != "10.99.0.2/24" {
		t.Fatalf("dual-stack VIPs %v, want one, 10.99.0.2/24", vips)
	}
	// The VIP took no IPv6 address: the first task gets the first one.
	tk := taskOn("t", dual)
	mustAllocateTask(t, a, tk)
	if got := fmt.Sprint(tk.Networks[0].Addresses); got != "[10.99.0.3/24 fd00:99::2/64]" {
		t.Fatalf("task addresses %s", got)
	}

	// Publishing a port needs the ingress network.
	published := &api.Service{ID: "pub", Spec: api.ServiceSpec{Endpoint: &api.EndpointSpec{Ports: []*api.PortConfig{{TargetPort: 80}}}}}
	if err := a.AllocateService(published); err == nil || !strings.Contains(err.Error(), "ingress") {
		t.Fatalf("publishing without an ingress network: got %v", err)
	}
	if a.IsServiceAllocated(published) {
		t.Fatal("service publishing a port counted as allocated without an ingress network")
	}
	mustAllocate(t, a, &api.Network{ID: "ingress", Spec: api.NetworkSpec{Ingress: true}})
	if err := a.AllocateService(published); err != nil {
		t.Fatal(err)
	}
	if len(published.Endpoint.VirtualIPs) != 1 || published.Endpoint.VirtualIPs[0].NetworkID != "ingress" {
		t.Fatalf("VIPs %v, want one on ingress", published.Endpoint.VirtualIPs)
	}

	// A service with nothing to allocate is allocated as it is.
	plain := &api.Service{ID: "plain"}
	if !a.IsServiceAllocated(plain) {
		t.Fatal("service without networks or ports counted as unallocated")
	}
}

func TestTaskAttachments(t *testing.T) {
	a := newTestAllocator(t, nil)
	n := overlayNet("n")
	local := &api.Network{ID: "mv", Spec: api.NetworkSpec{DriverConfig: &api.Driver{Name: "macvlan"}}}
	dual := overlayNet("dual", &api.IPAMConfig{Subnet: "10.99.0.0/24"}, &api.IPAMConfig{Subnet: "fd00:99::/64"})
	for _, nw := range []*api.Network{n, local, dual} {
		mustAllocate(t, a, nw)
	}
	tests := []struct {
		name string
		task *api.Task
		want string // the attachments' addresses
	}{
		{name: "no networks", task: taskOn("t0"), want: "[]"},
		{name: "overlay", task: taskOn("t1", n), want: "[[10.0.0.2/24]]"},
		{name: "node-local untouched", task: taskOn("t2", local), want: "[[]]"},
		{name: "dual stack", task: taskOn("t3", dual), want: "[[10.99.0.2/24 fd00:99::2/64]]"},
		{name: "static address", task: func() *api.Task {
			tk := taskOn("t4", n)
			tk.Networks[0].Addresses = []string{"10.0.0.200"}
			return tk
		}(), want: "[[10.0.0.200/24]]"},
		{name: "overlay and node-local", task: taskOn("t5", local, n), want: "[[] [10.0.0.3/24]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a.IsTaskAllocated(tc.task) {
				t.Fatal("allocated before AllocateTask")
			}
			if err := a.AllocateTask(tc.task); err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, na := range tc.task.Networks {
				got = append(got, append([]string{}, na.Addresses...))
			}
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("addresses %v, want %s", got, tc.want)
			}
			if !a.IsTaskAllocated(tc.task) {
				t.Fatal("not allocated after AllocateTask")
			}
			// Allocating again changes nothing.
			if err := a.AllocateTask(tc.task); err != nil {
				t.Fatal(err)
			}
			if err := a.DeallocateTask(tc.task); err != nil {
				t.Fatal(err)
			}
			if a.IsTaskAllocated(tc.task) {
				t.Fatal("allocated after DeallocateTask")
			}
		})
	}
	if err := a.AllocateTask(taskOn("orphan", overlayNet("unallocated"))); err == nil {
		t.Fatal("task on an unallocated network was allocated")
	}
}

func TestNodeAttachments(t *testing.T) {
	a := newTestAllocator(t, nil)
	n1, n2 := overlayNet("n1"), overlayNet("n2")
	bridge := &api.Network{ID: "br", Spec: api.NetworkSpec{DriverConfig: &api.Driver{Name: "bridge"}}}
	for _, n := range []*api.Network{n1, n2, bridge} {
		mustAllocate(t, a, n)
	}
	nodeA, nodeB := &api.Node{ID: "a"}, &api.Node{ID: "b"}
	type step struct {
		node *api.Node
		net  *api.Network
		want string
	}
	attachments := map[string]*api.NetworkAttachment{}
	for _, st := range []step{
		{nodeA, n1, "10.0.0.2/24"},
		{nodeA, n2, "10.0.1.2/24"},
		{nodeB, n1, "10.0.0.3/24"},
		{nodeA, n1, "10.0.0.2/24"}, // the node's address on n1 again, not a second one
	} {
		na := &api.NetworkAttachment{Network: st.net}
		if err := a.AllocateAttachment(st.node, na); err != nil {
			t.Fatal(err)
		}
		if len(na.Addresses) != 1 || na.Addresses[0] != st.want {
			t.Fatalf("node %s on %s: %v, want %s", st.node.ID, st.net.ID, na.Addresses, st.want)
		}
		if !a.IsAttachmentAllocated(st.node, na) {
			t.Fatalf("node %s on %s not allocated", st.node.ID, st.net.ID)
		}
		attachments[st.node.ID+"/"+st.net.ID] = na
	}
	if a.IsAttachmentAllocated(nodeB, &api.NetworkAttachment{Network: n1, Addresses: []string{"10.0.0.2/24"}}) {
		t.Fatal("node b counted as holding node a's address")
	}
	local := &api.NetworkAttachment{Network: bridge}
	if err := a.AllocateAttachment(nodeA, local); err != nil || len(local.Addresses) != 0 || !a.IsAttachmentAllocated(nodeA, local) {
		t.Fatalf("node-local attachment: err %v, addresses %v", err, local.Addresses)
	}
	na := attachments["a/n1"]
	if err := a.DeallocateAttachment(nodeA, na); err != nil {
		t.Fatal(err)
	}
	if a.IsAttachmentAllocated(nodeA, &api.NetworkAttachment{Network: n1, Addresses: []string{"10.0.0.2/24"}}) {
		t.Fatal("attachment still allocated after DeallocateAttachment")
	}
	if !a.IsAttachmentAllocated(nodeA, attachments["a/n2"]) {
		t.Fatal("deallocating n1 freed node a's n2 address")
	}
	// The freed address can be claimed by another holder.
	tk := taskOn("t", n1)
	tk.Networks[0].Addresses = []string{"10.0.0.2"}
	mustAllocateTask(t, a, tk)
}

func TestDeallocateNetworkForgetsEndpoints(t *testing.T) {
	a := newTestAllocator(t, nil)
	n := overlayNet("n")
	mustAllocate(t, a, n)
	tk := taskOn("t", n)
	mustAllocateTask(t, a, tk)
	if err := a.Deallocate(n); err != nil {
		t.Fatal(err)
	}
	if a.IsAllocated(n) || a.IsTaskAllocated(tk) {
		t.Fatal("network or task still allocated after the network was freed")
	}
	if err := a.DeallocateTask(tk); err != nil {
		t.Fatal(err)
	}
	if err := a.Deallocate(n); err != nil {
		t.Fatalf("freeing a freed network: %v", err)
	}
	// Re-creating it from its stored state works and reserves the task's
	// address again.
	again := n.Copy()
	mustAllocate(t, a, again)
	tk2 := taskOn("t2", again)
	tk2.Networks[0].Addresses = []string{"10.0.0.2/24"}
	mustAllocateTask(t, a, tk2)
}

func TestLastAddr(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"10.0.0.0/24", "10.0.0.255"},
		{"10.0.0.0/8", "10.255.255.255"},
		{"192.168.50.0/29", "192.168.50.7"},
		{"172.28.5.7/20", "172.28.15.255"},
		{"10.0.0.1/32", "10.0.0.1"},
		{"fd00:99::/64", "fd00:99::ffff:ffff:ffff:ffff"},
		{"fd00::/7", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tc := range tests {
		if got := lastAddr(netip.MustParsePrefix(tc.prefix)).String(); got != tc.want {
			t.Errorf("lastAddr(%s) = %s, want %s", tc.prefix, got, tc.want)
		}
	}
}
