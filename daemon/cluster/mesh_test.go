package cluster

import (
	"net/netip"
	"reflect"
	"testing"

	swarmapi "github.com/moby/swarmkit/v2/api"

	bnet "github.com/berth-project/berth/daemon/network"
)

func TestMeshOf(t *testing.T) {
	ingress := &swarmapi.Network{ID: "ing", Spec: swarmapi.NetworkSpec{Ingress: true, Annotations: swarmapi.Annotations{Name: "ingress"}}}
	webnet := &swarmapi.Network{ID: "wn", Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "webnet"}}}
	task := func(svc string, state swarmapi.TaskState, ing, wn string) *swarmapi.Task {
		t := &swarmapi.Task{ServiceID: svc, Status: swarmapi.TaskStatus{State: state}}
		if ing != "" {
			t.Networks = append(t.Networks, &swarmapi.NetworkAttachment{Network: ingress, Addresses: []string{ing}})
		}
		if wn != "" {
			t.Networks = append(t.Networks, &swarmapi.NetworkAttachment{Network: webnet, Addresses: []string{wn}})
		}
		return t
	}
	services := []*swarmapi.Service{
		{ID: "web", Spec: swarmapi.ServiceSpec{Annotations: swarmapi.Annotations{Name: "getstartedlab_web"}},
			Endpoint: &swarmapi.Endpoint{Ports: []*swarmapi.PortConfig{
				{Protocol: swarmapi.ProtocolTCP, TargetPort: 80, PublishedPort: 4000, PublishMode: swarmapi.PublishModeIngress},
				{Protocol: swarmapi.ProtocolTCP, TargetPort: 81, PublishedPort: 4001, PublishMode: swarmapi.PublishModeHost},
			}}},
		{ID: "db", Spec: swarmapi.ServiceSpec{Annotations: swarmapi.Annotations{Name: "redis"}},
			Endpoint: &swarmapi.Endpoint{VirtualIPs: []*swarmapi.Endpoint_VirtualIP{{NetworkID: "wn", Addr: "10.0.1.2/24"}}}},
	}
	tasks := []*swarmapi.Task{
		task("web", swarmapi.TaskStateRunning, "10.0.0.3/24", "10.0.1.3/24"),
		task("web", swarmapi.TaskStateRunning, "10.0.0.4/24", "10.0.1.4/24"),
		task("web", swarmapi.TaskStateStarting, "10.0.0.5/24", "10.0.1.5/24"), // not yet a backend
		task("db", swarmapi.TaskStateRunning, "", "10.0.1.9/24"),
	}
	got := meshOf(services, tasks)
	a := netip.MustParseAddr
	wantPorts := []bnet.ServicePort{{Service: "getstartedlab_web", Proto: "tcp", Port: 4000, TargetPort: 80, Backends: []netip.Addr{a("10.0.0.3"), a("10.0.0.4")}}}
	if !reflect.DeepEqual(got.Ports, wantPorts) {
		t.Errorf("ports %+v", got.Ports)
	}
	wantNames := map[string]map[string][]netip.Addr{"wn": {
		"getstartedlab_web": {a("10.0.1.3"), a("10.0.1.4")}, "tasks.getstartedlab_web": {a("10.0.1.3"), a("10.0.1.4")},
		"redis": {a("10.0.1.2")}, "tasks.redis": {a("10.0.1.9")},
	}}
	if !reflect.DeepEqual(got.Names, wantNames) {
		t.Errorf("names %+v", got.Names)
	}
	wantVIPs := map[string][]bnet.VIP{"wn": {{Addr: a("10.0.1.2"), Backends: []netip.Addr{a("10.0.1.9")}}}}
	if !reflect.DeepEqual(got.VIPs, wantVIPs) {
		t.Errorf("vips %+v", got.VIPs)
	}
}

func TestListenAndAdvertiseAddr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "0.0.0.0:2377"}, {"127.0.0.2", "127.0.0.2:2377"}, {":4000", "0.0.0.0:4000"}, {"127.0.0.1:3000", "127.0.0.1:3000"}, {"lo:2400", "127.0.0.1:2400"},
	} {
		if got, err := listenAddr(tt.in); err != nil || got != tt.want {
			t.Errorf("listenAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:99999", "nosuchif0"} {
		if _, err := listenAddr(bad); err == nil {
			t.Errorf("listenAddr(%q): no error", bad)
		}
	}
	for _, tt := range []struct{ in, listen, want string }{
		{"", "127.0.0.2:2377", "127.0.0.2:2377"}, {"127.0.0.3", "0.0.0.0:2400", "127.0.0.3:2400"}, {"127.0.0.3:5000", "0.0.0.0:2400", "127.0.0.3:5000"}, {"lo", "0.0.0.0:2377", "127.0.0.1:2377"},
	} {
		if got, err := advertiseAddr(tt.in, tt.listen); err != nil || got != tt.want {
			t.Errorf("advertiseAddr(%q, %q) = %q, %v; want %q", tt.in, tt.listen, got, err, tt.want)
		}
	}
	if _, err := advertiseAddr("0.0.0.0", "0.0.0.0:2377"); err == nil {
		t.Error("advertise 0.0.0.0: no error")
	}
}
