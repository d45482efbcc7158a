package cluster

import (
	"net/netip"
	"reflect"
	"sort"
	"testing"

	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/daemon/cluster/gossip"
	bnet "github.com/berth-project/berth/daemon/network"
)

func TestUnderlayAddr(t *testing.T) {
	for _, tc := range []struct {
		st   state
		want string
	}{
		{state{AdvertiseAddr: "192.168.99.100:2377"}, "192.168.99.100"},
		{state{AdvertiseAddr: "127.0.0.1:4000"}, ""},
		{state{AdvertiseAddr: "192.168.99.100:2377", DataPathAddr: "10.1.2.3"}, "10.1.2.3"},
		{state{}, ""},
		{state{AdvertiseAddr: "eth0"}, ""},
		{state{AdvertiseAddr: "[::1]:2377"}, ""},
	} {
		got := underlayAddr(tc.st)
		if (tc.want == "" && got.IsValid()) || (tc.want != "" && got.String() != tc.want) {
			t.Errorf("underlayAddr(%+v) = %v, want %q", tc.st, got, tc.want)
		}
	}
}

func TestGossipJoinAddrs(t *testing.T) {
	got := gossipJoinAddrs([]swarmapi.Peer{{Addr: "192.168.99.100:2377"}, {Addr: "192.168.99.101:2377"}, {Addr: "192.168.99.100:4000"}, {Addr: "bad"}}, netip.MustParseAddr("192.168.99.101"))
	if !reflect.DeepEqual(got, []string{"192.168.99.100:7946"}) {
		t.Errorf("join addrs %v", got)
	}
}

// A task announced by its node comes back out of the records as the
// mesh meshOf computes from the store: ports, VIPs, names and peers.
func TestMeshOfRecords(t *testing.T) {
	ingress := &swarmapi.Network{ID: "ingress", Spec: swarmapi.NetworkSpec{Ingress: true}}
	webnet := &swarmapi.Network{ID: "webnet"}
	task := func(id, ingressIP, webIP string) *swarmapi.Task {
		return &swarmapi.Task{
			ID: id, ServiceID: "svc", ServiceAnnotations: swarmapi.Annotations{Name: "web"},
			Endpoint: &swarmapi.Endpoint{
				VirtualIPs: []*swarmapi.Endpoint_VirtualIP{{NetworkID: "webnet", Addr: "10.0.1.2/24"}, {NetworkID: "ingress", Addr: "10.0.0.2/24"}},
				Ports:      []*swarmapi.PortConfig{{Protocol: swarmapi.ProtocolTCP, PublishedPort: 80, TargetPort: 8080, PublishMode: swarmapi.PublishModeIngress}},
			},
			Networks: []*swarmapi.NetworkAttachment{{Network: ingress, Addresses: []string{ingressIP + "/24"}}, {Network: webnet, Addresses: []string{webIP + "/24"}}},
		}
	}
	a := recordOf(netip.MustParseAddr("192.168.99.100"), map[string]netip.Addr{"ingress": netip.MustParseAddr("10.0.0.3")}, []*swarmapi.Task{task("t1", "10.0.0.5", "10.0.1.5")})
	b := recordOf(netip.MustParseAddr("192.168.99.101"), nil, []*swarmapi.Task{task("t2", "10.0.0.6", "10.0.1.6")})
	a.Node, b.Node = "a", "b"
	mesh, peers := meshOfRecords([]gossip.Record{a, b})
	if len(mesh.Ports) != 1 || mesh.Ports[0].Port != 80 || mesh.Ports[0].TargetPort != 8080 || len(mesh.Ports[0].Backends) != 2 {
		t.Errorf("ports %+v", mesh.Ports)
	}
	if got := mesh.Names["webnet"]["web"]; len(got) != 1 || got[0].String() != "10.0.1.2" {
		t.Errorf("web resolves to %v", got)
	}
	if got := mesh.Names["webnet"]["tasks.web"]; len(got) != 2 {
		t.Errorf("tasks.web resolves to %v", got)
	}
	if len(mesh.VIPs["webnet"]) != 1 || len(mesh.VIPs["webnet"][0].Backends) != 2 {
		t.Errorf("VIPs %+v", mesh.VIPs)
	}
	want := map[string][]string{
		"ingress": {"10.0.0.3@192.168.99.100", "10.0.0.5@192.168.99.100", "10.0.0.6@192.168.99.101"},
		"webnet":  {"10.0.1.5@192.168.99.100", "10.0.1.6@192.168.99.101"},
	}
	for netID, w := range want {
		var got []string
		for _, p := range peers[netID] {
			got = append(got, p.IP.String()+"@"+p.VTEP.String())
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("peers on %s: %v, want %v", netID, got, w)
		}
	}
	// The same tasks from a manager's store give the same mesh.
	store := meshOf([]*swarmapi.Service{{ID: "svc", Spec: swarmapi.ServiceSpec{Annotations: swarmapi.Annotations{Name: "web"}}, Endpoint: task("", "", "").Endpoint}},
		[]*swarmapi.Task{withState(task("t1", "10.0.0.5", "10.0.1.5")), withState(task("t2", "10.0.0.6", "10.0.1.6"))})
	if !reflect.DeepEqual(normalize(store), normalize(mesh)) {
		t.Errorf("store mesh %+v\ngossip mesh %+v", store, mesh)
	}
}

func withState(t *swarmapi.Task) *swarmapi.Task {
	t.Status.State = swarmapi.TaskStateRunning
	return t
}

func normalize(m bnet.Mesh) bnet.Mesh {
	for _, p := range m.Ports {
		sort.Slice(p.Backends, func(i, j int) bool { return p.Backends[i].Less(p.Backends[j]) })
	}
	for _, names := range m.Names {
		for _, a := range names {
			sort.Slice(a, func(i, j int) bool { return a[i].Less(a[j]) })
		}
	}
	for _, vs := range m.VIPs {
		for _, v := range vs {
			sort.Slice(v.Backends, func(i, j int) bool { return v.Backends[i].Less(v.Backends[j]) })
		}
	}
	return m
}

// Only tasks whose container serves are announced.
func TestServingTasks(t *testing.T) {
	tn := newTaskNetworks(nil, true, nil)
	t1, t2 := &swarmapi.Task{ID: "t1"}, &swarmapi.Task{ID: "t2"}
	tn.tasks["t1"], tn.tasks["t2"] = t1, t2
	tn.TaskRunning(t1, true)
	tn.TaskRunning(&swarmapi.Task{ID: "unknown"}, true)
	if got := tn.servingTasks(); len(got) != 1 || got[0].ID != "t1" {
		t.Errorf("serving %v", got)
	}
	tn.TaskRunning(t1, false)
	if got := tn.servingTasks(); len(got) != 0 {
		t.Errorf("serving after stop %v", got)
	}
}

func TestSetNetworkKeys(t *testing.T) {
	tn := newTaskNetworks(nil, true, nil)
	tn.SetNetworkKeys([]*swarmapi.EncryptionKey{
		{Subsystem: "networking:gossip", Key: []byte("new"), LamportTime: 3},
		{Subsystem: "networking:ipsec", Key: []byte("ipsec"), LamportTime: 1},
		{Subsystem: "networking:gossip", Key: []byte("old"), LamportTime: 2},
	})
	if got := tn.networkKeys(); len(got) != 2 || string(got[0]) != "old" || string(got[1]) != "new" {
		t.Errorf("keys %q", got)
	}
}

// A stack's service answers to its short name (the alias the stack gives
// it on its networks) on every node, as its full name does.
func TestMeshAliases(t *testing.T) {
	webnet := &swarmapi.Network{ID: "webnet"}
	tk := &swarmapi.Task{ID: "t1", ServiceID: "svc", ServiceAnnotations: swarmapi.Annotations{Name: "getstartedlab_redis"},
		Endpoint: &swarmapi.Endpoint{VirtualIPs: []*swarmapi.Endpoint_VirtualIP{{NetworkID: "webnet", Addr: "10.0.1.2/24"}}},
		Networks: []*swarmapi.NetworkAttachment{{Network: webnet, Addresses: []string{"10.0.1.5/24"}, Aliases: []string{"redis"}}}}
	rec := recordOf(netip.MustParseAddr("192.168.99.100"), nil, []*swarmapi.Task{tk})
	rec.Node = "a"
	mesh, _ := meshOfRecords([]gossip.Record{rec})
	for _, name := range []string{"getstartedlab_redis", "redis"} {
		if got := mesh.Names["webnet"][name]; len(got) != 1 || got[0].String() != "10.0.1.2" {
			t.Errorf("%s resolves to %v", name, got)
		}
	}
}
