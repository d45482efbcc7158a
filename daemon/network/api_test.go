package network

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	apinet "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/internal/filters"
)

func TestPortRequests(t *testing.T) {
	p80 := apinet.MustParsePort("80/tcp")
	p53 := apinet.MustParsePort("53/udp")
	p443 := apinet.MustParsePort("443/tcp")
	tests := []struct {
		name    string
		cfg     apicontainer.Config
		hc      apicontainer.HostConfig
		want    []string
		wantErr bool
	}{
		{"host port", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostPort: "4000"}}}},
			[]string{"tcp invalid IP 4000-4000 -> 80"}, false},
		{"random port and address", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p53: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}},
			[]string{"udp 127.0.0.1 0-0 -> 53"}, false},
		{"range", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostPort: "8000-8010"}}}},
			[]string{"tcp invalid IP 8000-8010 -> 80"}, false},
		{"-P adds exposed ports", apicontainer.Config{ExposedPorts: apinet.PortSet{p443: {}, p80: {}}},
			apicontainer.HostConfig{PublishAllPorts: true, PortBindings: apinet.PortMap{p80: {{HostPort: "4000"}}}},
			[]string{"tcp invalid IP 0-0 -> 443", "tcp invalid IP 4000-4000 -> 80"}, false},
		{"IPv4-mapped address unmapped", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostIP: netip.MustParseAddr("::ffff:127.0.0.1"), HostPort: "1"}}}},
			[]string{"tcp 127.0.0.1 1-1 -> 80"}, false},
		{"IPv6 binding skipped", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostIP: netip.IPv6Unspecified(), HostPort: "1"}}}},
			nil, false},
		{"bad port", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostPort: "x"}}}}, nil, true},
		{"bad range", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: apinet.PortMap{p80: {{HostPort: "9-1"}}}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PortRequests(&tt.cfg, &tt.hc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			var s []string
			for _, r := range got {
				s = append(s, fmt.Sprintf("%s %s %d-%d -> %d", r.Proto, r.HostIP, r.HostPortStart, r.HostPortEnd, r.ContainerPort))
			}
			if !slices.Equal(s, tt.want) {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestAPINetwork(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		n        Network
		ipv4     bool
		wantIPAM []apinet.IPAMConfig
	}{
		{"bridge with a subnet", Network{ID: "i", Name: "web", Driver: DriverBridge, Created: created,
			Subnet: netip.MustParsePrefix("10.1.0.0/24"), IPRange: netip.MustParsePrefix("10.1.0.128/25"), Gateway: netip.MustParseAddr("10.1.0.1"),
			Options: map[string]string{"o": "v"}, Labels: map[string]string{"l": "w"}}, true,
			[]apinet.IPAMConfig{{Subnet: netip.MustParsePrefix("10.1.0.0/24"), IPRange: netip.MustParsePrefix("10.1.0.128/25"), Gateway: netip.MustParseAddr("10.1.0.1")}}},
		{"host: no subnet, nil maps", Network{ID: "h", Name: "host", Driver: DriverHost, Created: created}, false, []apinet.IPAMConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiNetwork(tt.n, tt.ipv4)
			if got.Name != tt.n.Name || got.ID != tt.n.ID || got.Driver != tt.n.Driver || got.Scope != "local" || !got.Created.Equal(created) || got.EnableIPv4 != tt.ipv4 {
				t.Errorf("network = %+v", got)
			}
			if got.IPAM.Driver != "default" || fmt.Sprint(got.IPAM.Config) != fmt.Sprint(tt.wantIPAM) {
				t.Errorf("IPAM = %+v, want config %+v", got.IPAM, tt.wantIPAM)
			}
			if got.Options == nil || got.Labels == nil || got.IPAM.Options == nil {
				t.Errorf("nil maps in %+v (the API shows {})", got)
			}
		})
	}
}

func TestNetworkMatches(t *testing.T) {
	user := Network{ID: "abc123", Name: "webnet", Driver: DriverBridge, Labels: map[string]string{"env": "prod"}}
	builtin := Network{ID: "def456", Name: "bridge", Driver: DriverBridge, Default: true}
	tests := []struct {
		filter string
		n      Network
		want   bool
	}{
		{`{}`, user, true},
		{`{"name":{"web":true}}`, user, true},
		{`{"name":{"db":true}}`, user, false},
		{`{"id":{"abc":true}}`, user, true},
		{`{"id":{"bc1":true}}`, user, false},
		{`{"driver":{"bridge":true}}`, user, true},
		{`{"driver":{"host":true}}`, user, false},
		{`{"type":{"custom":true}}`, user, true},
		{`{"type":{"custom":true}}`, builtin, false},
		{`{"type":{"builtin":true}}`, builtin, true},
		{`{"label":{"env=prod":true}}`, user, true},
		{`{"label":{"env=dev":true}}`, user, false},
		{`{"label!":{"env":true}}`, user, false},
		{`{"scope":{"swarm":true}}`, user, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter+" "+tt.n.Name, func(t *testing.T) {
			f, err := filters.Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := networkMatches(tt.n, f); got != tt.want {
				t.Errorf("networkMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreateRequest(t *testing.T) {
	yes := true
	tests := []struct {
		name    string
		req     apinet.CreateRequest
		wantErr func(error) bool
		want    CreateRequest
	}{
		{"no name", apinet.CreateRequest{}, errdefs.IsInvalidArgument, CreateRequest{}},
		{"predefined", apinet.CreateRequest{Name: "host"}, errdefs.IsPermissionDenied, CreateRequest{}},
		{"default", apinet.CreateRequest{Name: "default"}, errdefs.IsPermissionDenied, CreateRequest{}},
		{"swarm scope", apinet.CreateRequest{Name: "x", Scope: "swarm"}, errdefs.IsInvalidArgument, CreateRequest{}},
		{"IPAM driver", apinet.CreateRequest{Name: "x", IPAM: &apinet.IPAM{Driver: "other"}}, errdefs.IsInvalidArgument, CreateRequest{}},
		{"two subnets", apinet.CreateRequest{Name: "x", IPAM: &apinet.IPAM{Config: []apinet.IPAMConfig{{}, {}}}}, errdefs.IsInvalidArgument, CreateRequest{}},
		{"IPv6 subnet", apinet.CreateRequest{Name: "x", IPAM: &apinet.IPAM{Config: []apinet.IPAMConfig{{Subnet: netip.MustParsePrefix("fd00::/64")}}}}, errdefs.IsInvalidArgument, CreateRequest{}},
		{"everything", apinet.CreateRequest{Name: "x", Driver: "bridge", Internal: true, Attachable: true, EnableIPv6: &yes,
			Options: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"},
			IPAM: &apinet.IPAM{Driver: "default", Config: []apinet.IPAMConfig{{Subnet: netip.MustParsePrefix("10.9.0.0/24"), IPRange: netip.MustParsePrefix("10.9.0.0/25"), Gateway: netip.MustParseAddr("10.9.0.254")}}}},
			nil, CreateRequest{Name: "x", Driver: "bridge", Internal: true, Attachable: true, EnableIPv6: true,
				Options: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"},
				Subnet: netip.MustParsePrefix("10.9.0.0/24"), IPRange: netip.MustParsePrefix("10.9.0.0/25"), Gateway: netip.MustParseAddr("10.9.0.254")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := createRequest(tt.req)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidateEndpoint(t *testing.T) {
	def := Network{Name: "bridge", Default: true, Subnet: netip.MustParsePrefix("172.17.0.0/16")}
	auto := Network{Name: "auto", Subnet: netip.MustParsePrefix("172.18.0.0/16")}
	user := Network{Name: "user", Subnet: netip.MustParsePrefix("10.9.0.0/24"), UserIPAM: true}
	ip := func(s string) *apinet.EndpointIPAMConfig {
		return &apinet.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr(s)}
	}
	tests := []struct {
		name string
		n    Network
		es   apinet.EndpointSettings
		want string // "" for no error
	}{
		{"alias on a user network", user, apinet.EndpointSettings{Aliases: []string{"db"}}, ""},
		{"alias on the default bridge", def, apinet.EndpointSettings{Aliases: []string{"db"}}, "network-scoped alias is supported only for containers in user defined networks"},
		{"--ip without a user subnet", auto, apinet.EndpointSettings{IPAMConfig: ip("172.18.0.9")}, "user specified IP address is supported only when connecting to networks with user configured subnets"},
		{"--ip outside the subnet", user, apinet.EndpointSettings{IPAMConfig: ip("10.8.0.9")}, "no configured subnet or ip-range contain the IP address 10.8.0.9"},
		{"--ip inside", user, apinet.EndpointSettings{IPAMConfig: ip("10.9.0.9")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateEndpoint(tt.n, &tt.es)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEndpointRequests(t *testing.T) {
	ip := netip.MustParseAddr("10.9.0.9")
	nets := map[string]*apinet.EndpointSettings{
		"zeta":  {NetworkID: "zid", IPAMConfig: &apinet.EndpointIPAMConfig{IPv4Address: ip}},
		"alpha": {Aliases: []string{"a"}},
		"web":   nil,
	}
	got := endpointRequests("web", nets)
	want := []EndpointRequest{{Network: "web"}, {Network: "alpha", Aliases: []string{"a"}}, {Network: "zid", IP: ip}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v (primary first, then by name; by ID when known)", got, want)
	}
}

func testContainer(id, name string, mode apicontainer.NetworkMode) *container.Container {
	return &container.Container{
		ID: id, Name: "/" + name, Config: &apicontainer.Config{}, HostConfig: &apicontainer.HostConfig{NetworkMode: mode},
		NetworkSettings: &apicontainer.NetworkSettings{Networks: map[string]*apinet.EndpointSettings{}},
	}
}

func TestApplyAndClearSandbox(t *testing.T) {
	id := strings.Repeat("c", 64)
	p80, p53 := apinet.MustParsePort("80/tcp"), apinet.MustParsePort("53/udp")
	def := Network{ID: "d", Name: "bridge", Default: true}
	user := Network{ID: "u", Name: "web"}
	sb := &Sandbox{ContainerID: id, NetNS: "/run/x/ns",
		Endpoints: []*Endpoint{
			{ID: "e1", NetworkID: "d", IP: netip.MustParseAddr("172.17.0.2"), Bits: 16, Gateway: netip.MustParseAddr("172.17.0.1"), MAC: "02:42:ac:11:00:02"},
			{ID: "e2", NetworkID: "u", IP: netip.MustParseAddr("10.9.0.2"), Bits: 24, Gateway: netip.MustParseAddr("10.9.0.1"), MAC: "02:42:0a:09:00:02", Aliases: []string{"db"}},
		},
		Ports: []PortMapping{
			{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 4000, ContainerPort: 80},
			{Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 4000, ContainerPort: 80},
		},
	}
	c := testContainer(id, "c1", "bridge")
	c.Config.ExposedPorts = apinet.PortSet{p53: {}}
	applySandbox(c, sb, map[string]Network{"d": def, "u": user})
	ns := c.NetworkSettings
	tests := []struct {
		name      string
		got, want string
	}{
		{"sandbox key", ns.SandboxKey, "/run/x/ns"},
		{"default IP", fmt.Sprint(ns.Networks["bridge"].IPAddress, "/", ns.Networks["bridge"].IPPrefixLen), "172.17.0.2/16"},
		{"default MAC", ns.Networks["bridge"].MacAddress.String(), "02:42:ac:11:00:02"},
		{"no names on the default bridge", fmt.Sprint(ns.Networks["bridge"].DNSNames), "[]"},
		{"user network names", fmt.Sprint(ns.Networks["web"].DNSNames), "[c1 db " + id[:12] + "]"},
		{"user gateway", ns.Networks["web"].Gateway.String(), "10.9.0.1"},
		{"published port", fmt.Sprint(ns.Ports[p80]), "[{0.0.0.0 4000} {:: 4000}]"},
		{"exposed, unpublished", fmt.Sprint(ns.Ports[p53] == nil, len(ns.Ports)), "true 2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	clearSandbox(ns)
	if ns.SandboxKey != "" || len(ns.Ports) != 0 || len(ns.Networks) != 2 {
		t.Fatalf("after clear: %+v", ns)
	}
	for name, es := range ns.Networks {
		if es.IPAddress.IsValid() || es.EndpointID != "" || es.MacAddress != nil || es.DNSNames != nil || es.IPPrefixLen != 0 {
			t.Errorf("%s after clear: %+v", name, es)
		}
	}
}

func TestPortSummaries(t *testing.T) {
	ports := apinet.PortMap{
		apinet.MustParsePort("443/tcp"): nil,
		apinet.MustParsePort("80/tcp"): {
			{HostIP: netip.IPv4Unspecified(), HostPort: "4001"},
			{HostIP: netip.IPv4Unspecified(), HostPort: "4000"},
		},
		apinet.MustParsePort("53/udp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
	}
	var got []string
	for _, p := range PortSummaries(ports) {
		got = append(got, fmt.Sprintf("%s:%d->%d/%s", p.IP, p.PublicPort, p.PrivatePort, p.Type))
	}
	want := []string{"127.0.0.1:5353->53/udp", "0.0.0.0:4000->80/tcp", "0.0.0.0:4001->80/tcp", "invalid IP:0->443/tcp"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := PortSummaries(nil); got == nil || len(got) != 0 {
		t.Errorf("PortSummaries(nil) = %#v, want empty (the API shows [])", got)
	}
}

// testContainers is a Containers of fixed containers.
type testContainers []*container.Container

func (cs testContainers) Get(ref string) (*container.Container, error) {
	for _, c := range cs {
		if c.ID == ref || c.Name == "/"+ref {
			return c, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage("No such container: " + ref)
}

func (cs testContainers) List() []*container.Container { return cs }

type emitted []string

func (e *emitted) emit(typ events.Type, action events.Action, id string, attrs map[string]string) {
	*e = append(*e, fmt.Sprintf("%s %s %s", typ, action, attrs["name"]))
}

// testAPI is an API over testManager with the predefined networks, a
// user network "web" (subnet 192.0.2.0/24) and containers.
func testAPI(t *testing.T, cs ...*container.Container) (*API, *emitted) {
	t.Helper()
	m, _, _, _ := testManager(t)
	m.networks["b0"] = &Network{ID: "b0", Name: "bridge", Driver: DriverBridge, Default: true, Subnet: netip.MustParsePrefix("172.17.0.0/16")}
	if _, err := m.Create(context.Background(), CreateRequest{Name: "web", Driver: "fake"}); err != nil {
		t.Fatal(err)
	}
	ev := &emitted{}
	return &API{Manager: m, Containers: testContainers(cs), Emit: ev.emit, Log: m.log}, ev
}

func TestResolveNetworks(t *testing.T) {
	other := testContainer(strings.Repeat("o", 64), "other", "bridge")
	a, _ := testAPI(t, other)
	cfg := func(names ...string) *apinet.NetworkingConfig {
		nc := &apinet.NetworkingConfig{EndpointsConfig: map[string]*apinet.EndpointSettings{}}
		for _, n := range names {
			nc.EndpointsConfig[n] = &apinet.EndpointSettings{}
		}
		return nc
	}
	tests := []struct {
		name    string
		mode    apicontainer.NetworkMode
		nc      *apinet.NetworkingConfig
		want    []string // network names
		wantErr func(error) bool
	}{
		{"default bridge", "bridge", nil, []string{"bridge"}, nil},
		{"user network and another", "web", cfg("web", "bridge"), []string{"bridge", "web"}, nil},
		{"default key is the mode's", "web", cfg("default"), []string{"web"}, nil},
		{"host", "host", nil, []string{"host"}, nil},
		{"host with another network", "host", cfg("web"), nil, errdefs.IsInvalidArgument},
		{"bridge with none", "bridge", cfg("none"), nil, errdefs.IsInvalidArgument},
		{"unknown network", "nope", nil, nil, errdefs.IsNotFound},
		{"unknown extra network", "bridge", cfg("nope"), nil, errdefs.IsNotFound},
		{"container mode", "container:other", nil, nil, nil},
		{"container mode with networks", "container:other", cfg("web"), nil, errdefs.IsInvalidArgument},
		{"container mode, no such container", "container:nope", nil, nil, errdefs.IsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.ResolveNetworks(&apicontainer.HostConfig{NetworkMode: tt.mode}, tt.nc)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for k, es := range got {
				n, _ := a.Manager.Get(k)
				if es.NetworkID != n.ID {
					t.Errorf("%s: NetworkID %q, want %q", k, es.NetworkID, n.ID)
				}
				names = append(names, k)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("networks = %q, want %q", names, tt.want)
			}
		})
	}
}

func TestConnectDisconnect(t *testing.T) {
	onBridge := testContainer(strings.Repeat("a", 64), "a", "bridge")
	onBridge.NetworkSettings.Networks["bridge"] = &apinet.EndpointSettings{NetworkID: "b0"}
	onHost := testContainer(strings.Repeat("b", 64), "b", "host")
	onHost.NetworkSettings.Networks["host"] = &apinet.EndpointSettings{NetworkID: "h0"}
	onWeb := testContainer(strings.Repeat("c", 64), "c", "web")
	a, ev := testAPI(t, onBridge, onHost, onWeb)
	ctx := context.Background()
	tests := []struct {
		name       string
		op         func() error
		wantErr    string // "" for success
		wantEvents int
	}{
		{"connect to host", func() error { return a.Connect(ctx, "host", apinet.ConnectRequest{Container: "a"}) },
			"container cannot be disconnected from host network or connected to host network", 0},
		{"connect a host-mode container", func() error { return a.Connect(ctx, "web", apinet.ConnectRequest{Container: "b"}) },
			"container sharing network namespace with another container or host cannot be connected to any other network", 0},
		{"connect twice", func() error { return a.Connect(ctx, "bridge", apinet.ConnectRequest{Container: "a"}) },
			"endpoint with name a already exists in network bridge", 0},
		{"alias on the default bridge", func() error {
			return a.Connect(ctx, "bridge", apinet.ConnectRequest{Container: "c", EndpointConfig: &apinet.EndpointSettings{Aliases: []string{"x"}}})
		}, "network-scoped alias is supported only for containers in user defined networks", 0},
		{"connect a stopped container", func() error {
			return a.Connect(ctx, "web", apinet.ConnectRequest{Container: "a", EndpointConfig: &apinet.EndpointSettings{Aliases: []string{"db"}}})
		}, "", 1},
		{"disconnect from host", func() error { return a.Disconnect(ctx, "host", apinet.DisconnectRequest{Container: "b"}) },
			"container cannot be disconnected from host network or connected to host network", 0},
		{"disconnect what is not connected", func() error { return a.Disconnect(ctx, "web", apinet.DisconnectRequest{Container: "b"}) },
			"container " + strings.Repeat("b", 12) + " is not connected to network web", 0},
		{"disconnect a stopped container", func() error { return a.Disconnect(ctx, "web", apinet.DisconnectRequest{Container: "a"}) }, "", 1},
		{"no such network", func() error { return a.Connect(ctx, "nope", apinet.ConnectRequest{Container: "a"}) }, "network nope not found", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(*ev)
			err := tt.op()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := len(*ev) - before; got != tt.wantEvents {
				t.Errorf("%d events, want %d: %q", got, tt.wantEvents, *ev)
			}
		})
		if tt.name == "connect a stopped container" {
			es := onBridge.NetworkSettings.Networks["web"]
			if es == nil || !slices.Equal(es.Aliases, []string{"db"}) || es.IPAddress.IsValid() {
				t.Fatalf("web endpoint of a stopped container = %+v, want aliases and no address", es)
			}
		}
	}
	if _, ok := onBridge.NetworkSettings.Networks["web"]; ok {
		t.Error("still on web after disconnect")
	}
}

func TestListInspectPrune(t *testing.T) {
	user := testContainer(strings.Repeat("a", 64), "a", "web")
	a, ev := testAPI(t, user)
	ctx := context.Background()
	web, _ := a.Manager.Get("web")
	user.NetworkSettings.Networks["web"] = &apinet.EndpointSettings{NetworkID: web.ID}
	if _, err := a.Manager.Create(ctx, CreateRequest{Name: "idle", Driver: "fake", Labels: map[string]string{"keep": "no"}}); err != nil {
		t.Fatal(err)
	}
	list := func(filter string) []string {
		t.Helper()
		f, err := filters.Parse(filter)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := a.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range ns {
			out = append(out, n.Name+":"+strconv.FormatBool(n.EnableIPv4))
		}
		return out
	}
	if got, want := list(`{}`), []string{"bridge:true", "host:false", "idle:true", "none:false", "web:true"}; !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
	if got, want := list(`{"dangling":{"true":true}}`), []string{"idle:true"}; !slices.Equal(got, want) {
		t.Errorf("dangling = %q, want %q", got, want)
	}
	if _, err := a.List(ctx, filters.Args{"dangling": {"maybe": true}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("dangling=maybe: %v", err)
	}
	insp, err := a.Inspect(ctx, "web")
	if err != nil || insp.Name != "web" || len(insp.IPAM.Config) != 1 {
		t.Fatalf("inspect = %+v, %v", insp, err)
	}
	rep, err := a.Prune(ctx, filters.Args{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.NetworksDeleted, []string{"idle"}) {
		t.Errorf("pruned %q, want idle only (web is in use, the rest predefined)", rep.NetworksDeleted)
	}
	if want := []string{"network destroy idle", "network prune "}; !slices.Equal((*ev)[len(*ev)-2:], want) {
		t.Errorf("events = %q, want to end with %q", *ev, want)
	}
}
