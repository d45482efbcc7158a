package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

// fakeDriver records what the Manager asks of it and touches no kernel.
type fakeDriver struct {
	name         string
	configureErr error
	upErr        error
	calls        []string
	owned        map[string]bool // what Reconcile was given
}

func (d *fakeDriver) record(op string, n *Network) { d.calls = append(d.calls, op+" "+n.Name) }

func (d *fakeDriver) Name() string    { return d.name }
func (d *fakeDriver) Endpoints() bool { return true }

func (d *fakeDriver) Configure(n *Network, req CreateRequest, existing []*Network) error {
	d.record("configure", n)
	if d.configureErr != nil {
		return d.configureErr
	}
	// TEST-NET-1: never on the host, so the DNS server cannot bind.
	n.Subnet, n.Gateway = netip.MustParsePrefix("192.0.2.0/24"), netip.MustParseAddr("192.0.2.1")
	return nil
}

func (d *fakeDriver) Up(_ context.Context, n *Network) error {
	d.record("up", n)
	return d.upErr
}

func (d *fakeDriver) Down(_ context.Context, n *Network) error {
	d.record("down", n)
	return nil
}

func (d *fakeDriver) Join(_ context.Context, n *Network, _ string, ep *Endpoint, route bool) error {
	d.record(fmt.Sprintf("join %s route=%v", ep.IP, route), n)
	ep.HostVeth = "fk" + ep.IfName
	return nil
}

func (d *fakeDriver) Leave(_ context.Context, n *Network, ep *Endpoint) error {
	d.record("leave "+ep.HostVeth, n)
	return nil
}

func (d *fakeDriver) Rules(n *Network) []ruleNetwork {
	return []ruleNetwork{{bridge: d.name + "-" + n.Name, subnet: n.Subnet}}
}

func (d *fakeDriver) Reconcile(_ context.Context, n *Network, owned map[string]bool) {
	d.record("reconcile", n)
	d.owned = owned
}

// testManager is a Manager over a fresh database whose bridge and "fake"
// drivers are fakes; the rules it writes are kept in *rules.
func testManager(t *testing.T) (m *Manager, bridge, fake *fakeDriver, rules *[]ruleState) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "net.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := openStore(db)
	if err != nil {
		t.Fatal(err)
	}
	bridge, fake = &fakeDriver{name: DriverBridge}, &fakeDriver{name: "fake"}
	rules = &[]ruleState{}
	m = &Manager{
		cfg: Config{DB: db, StateDir: t.TempDir()}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), store: st,
		drivers: map[string]Driver{DriverBridge: bridge, "fake": fake,
			DriverHost: namespaceDriver{name: DriverHost}, DriverNull: namespaceDriver{name: DriverNull}},
		lock:       func() (func(), error) { return func() {}, nil },
		writeRules: func(s ruleState) error { *rules = append(*rules, s); return nil },
		networks:   map[string]*Network{}, alloc: map[string]*allocator{}, sandboxes: map[string]*Sandbox{},
		reserved: map[string]io.Closer{}, dns: map[string]*dnsServer{}, vx: newVXLANPlane(),
	}
	for _, n := range []*Network{
		{ID: "h0", Name: "host", Driver: DriverHost},
		{ID: "n0", Name: "none", Driver: DriverNull},
	} {
		m.networks[n.ID] = n
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, bridge, fake, rules
}

func TestCreateDispatchesByDriver(t *testing.T) {
	tests := []struct {
		name       string
		driver     string
		upErr      error
		confErr    error
		wantErr    func(error) bool
		wantMsg    string
		wantCalls  []string // of the driver asked for
		wantStored bool
	}{
		{name: "default is bridge", driver: "", wantCalls: []string{"configure x", "up x"}, wantStored: true},
		{name: "named driver", driver: "fake", wantCalls: []string{"configure x", "up x"}, wantStored: true},
		{name: "unknown driver", driver: "overlay", wantErr: errdefs.IsNotFound, wantMsg: `plugin "overlay" not found`},
		{name: "second host network", driver: DriverHost, wantErr: errdefs.IsPermissionDenied, wantMsg: `only one instance of "host" network is allowed`},
		{name: "second null network", driver: DriverNull, wantErr: errdefs.IsPermissionDenied, wantMsg: `only one instance of "null" network is allowed`},
		{name: "configure fails", driver: "fake", confErr: errdefs.ErrInvalidArgument.WithMessage("bad option"),
			wantErr: errdefs.IsInvalidArgument, wantMsg: "bad option", wantCalls: []string{"configure x"}},
		{name: "up fails: down undoes it", driver: "fake", upErr: errors.New("no link"),
			wantErr: func(err error) bool { return err != nil }, wantMsg: "network x: no link", wantCalls: []string{"configure x", "up x", "down x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, bridge, fake, rules := testManager(t)
			fake.upErr, fake.configureErr = tt.upErr, tt.confErr
			bridge.upErr, bridge.configureErr = tt.upErr, tt.confErr
			n, err := m.Create(context.Background(), CreateRequest{Name: "x", Driver: tt.driver})
			if tt.wantErr != nil {
				if !tt.wantErr(err) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
					t.Fatalf("err = %v, want %q", err, tt.wantMsg)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			drv := fake
			if tt.driver == "" {
				drv = bridge
			}
			if tt.wantCalls != nil && !slices.Equal(drv.calls, tt.wantCalls) {
				t.Errorf("driver calls = %q, want %q", drv.calls, tt.wantCalls)
			}
			_, getErr := m.Get("x")
			if (getErr == nil) != tt.wantStored {
				t.Fatalf("network stored = %v, want %v", getErr == nil, tt.wantStored)
			}
			if !tt.wantStored {
				return
			}
			if want := drv.name; n.Driver != want {
				t.Errorf("Driver = %q, want %q", n.Driver, want)
			}
			last := (*rules)[len(*rules)-1]
			if len(last.networks) != 1 || last.networks[0].bridge != drv.name+"-x" {
				t.Errorf("rules = %+v, want the %s driver's network", last.networks, drv.name)
			}
			if err := m.Remove(context.Background(), "x"); err != nil {
				t.Fatal(err)
			}
			if got := drv.calls[len(drv.calls)-1]; got != "down x" {
				t.Errorf("Remove's last driver call = %q, want down x", got)
			}
			if last := (*rules)[len(*rules)-1]; len(last.networks) != 0 {
				t.Errorf("rules after Remove = %+v", last.networks)
			}
		})
	}
}

func TestEndpointsDispatchByDriver(t *testing.T) {
	m, _, fake, _ := testManager(t)
	ctx := context.Background()
	if _, err := m.Create(ctx, CreateRequest{Name: "f", Driver: "fake"}); err != nil {
		t.Fatal(err)
	}
	m.networks["u0"] = &Network{ID: "u0", Name: "old", Driver: "macvlan"} // a driver this daemon lacks
	tests := []struct {
		network string
		wantErr func(error) bool
		want    string // the driver's last call
	}{
		{"f", nil, "join 192.0.2.2 route=true f"},
		{"host", errdefs.IsInvalidArgument, ""},
		{"none", errdefs.IsInvalidArgument, ""},
		{"old", errdefs.IsNotFound, ""},
		{"nope", errdefs.IsNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			fake.calls = nil
			sb := &Sandbox{ContainerID: "c" + strings.Repeat("0", 63), Name: "c1"}
			m.mu.Lock()
			ep, err := m.addEndpointLocked(ctx, sb, EndpointRequest{Network: tt.network}, nil, true)
			m.mu.Unlock()
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
				if len(fake.calls) != 0 || len(sb.Endpoints) != 0 {
					t.Fatalf("calls %q, endpoints %d after a refused endpoint", fake.calls, len(sb.Endpoints))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fake.calls[len(fake.calls)-1]; got != tt.want {
				t.Errorf("driver call = %q, want %q", got, tt.want)
			}
			if ep.HostVeth != "fketh0" || ep.IfName != "eth0" || ep.MAC != "02:42:c0:00:02:02" {
				t.Errorf("endpoint = %+v", ep)
			}
			n, _ := m.Get(tt.network)
			if err := m.leave(ctx, &n, ep); err != nil {
				t.Fatal(err)
			}
			if got := fake.calls[len(fake.calls)-1]; got != "leave fketh0 "+tt.network {
				t.Errorf("leave call = %q", got)
			}
		})
	}
}

func TestRuleStateAndReconcileDispatch(t *testing.T) {
	m, bridge, fake, _ := testManager(t)
	for _, n := range []*Network{
		{ID: "a", Name: "a", Driver: DriverBridge, Subnet: netip.MustParsePrefix("10.1.0.0/24")},
		{ID: "b", Name: "b", Driver: "fake", Subnet: netip.MustParsePrefix("10.2.0.0/24")},
		{ID: "c", Name: "c", Driver: "macvlan"},
	} {
		m.networks[n.ID] = n
	}
	m.sandboxes["k"] = &Sandbox{ContainerID: "k", NetNS: "/nonexistent/k-1",
		Endpoints: []*Endpoint{{NetworkID: "b", HostVeth: "fketh0"}},
		Ports:     []PortMapping{{Proto: "tcp", HostPort: 4000, ContainerPort: 80}}}
	st := m.ruleStateLocked()
	var got []string
	for _, rn := range st.networks {
		got = append(got, rn.bridge)
	}
	if want := []string{"bridge-a", "fake-b"}; !slices.Equal(got, want) {
		t.Errorf("rule networks = %q, want %q (host, null and unknown drivers add none)", got, want)
	}
	if len(st.ports) != 1 || st.ports[0].HostPort != 4000 {
		t.Errorf("rule ports = %+v", st.ports)
	}
	m.Reconcile(context.Background(), func(string) bool { return true })
	if !slices.Contains(bridge.calls, "reconcile a") || !slices.Contains(fake.calls, "reconcile b") {
		t.Errorf("reconcile calls: bridge %q, fake %q", bridge.calls, fake.calls)
	}
	if !fake.owned["fketh0"] || !fake.owned["k-1"] {
		t.Errorf("owned = %v, want the surviving sandbox's veth and netns", fake.owned)
	}
	delete(m.sandboxes, "k") // keep Close from seeing a running container
}

func TestStoreRoundTrip(t *testing.T) {
	m, _, _, _ := testManager(t)
	n := &Network{ID: "id1", Name: "web", Driver: DriverBridge, Subnet: netip.MustParsePrefix("10.5.0.0/24")}
	sb := &Sandbox{ContainerID: "c1", Name: "c", Endpoints: []*Endpoint{{NetworkID: "id1", IP: netip.MustParseAddr("10.5.0.2")}}}
	if err := m.store.putNetwork(n); err != nil {
		t.Fatal(err)
	}
	if err := m.store.putSandbox(sb); err != nil {
		t.Fatal(err)
	}
	// An unreadable record is skipped, not fatal.
	if err := m.store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNetworks).Put([]byte("bad"), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	nets, sbs, err := m.store.load(m.log)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 || nets["id1"].Subnet != n.Subnet || len(sbs) != 1 || sbs["c1"].Endpoints[0].IP != sb.Endpoints[0].IP {
		t.Fatalf("load = %v, %v", nets, sbs)
	}
	if err := m.store.deleteNetwork("id1"); err != nil {
		t.Fatal(err)
	}
	if err := m.store.deleteSandbox("c1"); err != nil {
		t.Fatal(err)
	}
	if nets, sbs, _ := m.store.load(m.log); len(nets) != 0 || len(sbs) != 0 {
		t.Fatalf("after delete: %v, %v", nets, sbs)
	}
}
