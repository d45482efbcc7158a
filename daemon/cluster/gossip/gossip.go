// Package gossip is how the nodes of a swarm tell each other where their
// tasks are, for the data plane: each node announces one Record (its
// underlay address, its load-balancer addresses, its tasks with their
// network addresses, service VIPs and published ports) over
// hashicorp/memberlist on port 7946, TCP and UDP — the library under
// Docker's own networkdb. A node that joins late gets every record in
// memberlist's push/pull; a node that dies is dropped by memberlist's
// failure detector, and its record with it. Workers cannot read the
// managers' store, so this is what lets every node build the routing
// mesh, service VIPs and DNS of the whole swarm.
package gossip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is Docker's port for network discovery.
const DefaultPort = 7946

// Record is what one node announces.
type Record struct {
	Node    string            `json:"node"`    // SwarmKit node ID
	Version int64             `json:"version"` // larger in every newer record of the node
	VTEP    string            `json:"vtep"`    // underlay address for VXLAN
	LB      map[string]string `json:"lb,omitempty"`
	Images  string            `json:"images,omitempty"` // "ip:port" of the node's image server (package imageshare)
	Tasks   []Task            `json:"tasks,omitempty"`
}

// Task is one task of the node, as the data plane needs it.
type Task struct {
	ID          string       `json:"id"`
	ServiceID   string       `json:"service_id"`
	ServiceName string       `json:"service_name"`
	DNSRR       bool         `json:"dnsrr,omitempty"`
	VIPs        []VIP        `json:"vips,omitempty"`
	Ports       []Port       `json:"ports,omitempty"`
	Networks    []Attachment `json:"networks"`
}

// VIP is a service's virtual IP on a network.
type VIP struct {
	Network string `json:"network"`
	Addr    string `json:"addr"` // CIDR, as SwarmKit writes it
}

// Port is a published port of the task's service.
type Port struct {
	Proto     string `json:"proto"`
	Published uint32 `json:"published"`
	Target    uint32 `json:"target"`
	Ingress   bool   `json:"ingress"`
}

// Attachment is the task's address on one network.
type Attachment struct {
	Network string   `json:"network"`
	Addr    string   `json:"addr"` // CIDR
	Ingress bool     `json:"ingress,omitempty"`
	Aliases []string `json:"aliases,omitempty"` // the service's other names on the network
}

// Config is a gossip member's setup.
type Config struct {
	Node string         // this node's ID (the member's name)
	Bind netip.AddrPort // where to listen, and what to advertise
	// Keys encrypt and authenticate every message (the swarm's network
	// bootstrap keys for gossip, oldest first); none is refused.
	Keys [][]byte
	// OnChange is called (from memberlist's goroutines) after any record
	// changes; it must not block.
	OnChange func()
	Log      *slog.Logger
}

// Gossip is this node's membership.
type Gossip struct {
	cfg Config
	ml  *memberlist.Memberlist
	kr  *memberlist.Keyring

	leave sync.Once

	mu     sync.Mutex
	local  Record
	remote map[string]Record // by node ID
}

// Start listens on cfg.Bind and starts gossiping (alone until Join).
func Start(cfg Config) (*Gossip, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	g := &Gossip{cfg: cfg, remote: map[string]Record{}, local: Record{Node: cfg.Node}}
	kr, err := keyring(cfg.Keys)
	if err != nil {
		return nil, err
	}
	mc := memberlist.DefaultLANConfig()
	mc.Keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Name = cfg.Node
	mc.BindAddr = cfg.Bind.Addr().String()
	mc.BindPort = int(cfg.Bind.Port())
	mc.AdvertiseAddr = mc.BindAddr
	mc.AdvertisePort = mc.BindPort
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.PushPullInterval = 5 * time.Second
	// A dead node is out of the mesh in about 3 s (LAN defaults: ~6 s).
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 300 * time.Millisecond
	mc.SuspicionMult = 3
	mc.Logger = log.New(logWriter{cfg.Log}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("network discovery on %s: %w", cfg.Bind, err)
	}
	g.ml, g.kr = ml, kr
	return g, nil
}

// primary is the key messages are sent with: the second newest, as
// Docker's networkdb chooses, so that a node the newest key has not
// reached yet still reads them; every key is accepted.
func primary(keys [][]byte) []byte {
	if len(keys) >= 2 {
		return keys[len(keys)-2]
	}
	return keys[len(keys)-1]
}

func keyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("network discovery needs the swarm's gossip keys")
	}
	kr, err := memberlist.NewKeyring(keys, primary(keys))
	if err != nil {
		return nil, fmt.Errorf("network discovery keys: %w", err)
	}
	return kr, nil
}

// SetKeys installs the managers' rotated keys (oldest first).
func (g *Gossip) SetKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	kr := g.kr
	if have := kr.GetKeys(); len(have) == len(keys) && bytes.Equal(kr.GetPrimaryKey(), primary(keys)) {
		same := true
		for i := range keys {
			same = same && containsKey(have, keys[i])
		}
		if same {
			return nil
		}
	}
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return fmt.Errorf("network discovery key: %w", err)
		}
	}
	if err := kr.UseKey(primary(keys)); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, k := range keys {
		keep[string(k)] = true
	}
	for _, k := range kr.GetKeys() {
		if !keep[string(k)] {
			_ = kr.RemoveKey(k)
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// Join contacts the given members ("ip:port"); it returns how many
// answered.
func (g *Gossip) Join(addrs []string) (int, error) { return g.ml.Join(addrs) }

// Members is the number of live members, this node included.
func (g *Gossip) Members() int { return g.ml.NumMembers() }

// SetLocal replaces this node's record and sends it to every member.
func (g *Gossip) SetLocal(r Record) {
	r.Node = g.cfg.Node
	g.mu.Lock()
	old := g.local
	r.Version = old.Version
	if sameContent(old, r) {
		g.mu.Unlock()
		return
	}
	r.Version = max(time.Now().UnixNano(), old.Version+1)
	g.local = r
	g.mu.Unlock()
	for _, m := range g.ml.Members() {
		if m.Name != g.cfg.Node {
			go g.sendLocal(m) // a dead member must not hold the others up
		}
	}
	g.cfg.OnChange()
}

func sameContent(a, b Record) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Records is every live node's record, this node's included, by node ID.
func (g *Gossip) Records() []Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []Record{g.local}
	for _, r := range g.remote {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Leave tells the others this node goes, then stops; again is a no-op.
func (g *Gossip) Leave() {
	g.leave.Do(func() {
		_ = g.ml.Leave(2 * time.Second)
		_ = g.ml.Shutdown()
	})
}

// merge takes a record from another node if it is newer than the one
// held.
func (g *Gossip) merge(b []byte) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil || r.Node == "" {
		g.cfg.Log.Debug("network discovery: bad record", "err", err)
		return
	}
	g.mu.Lock()
	if r.Node == g.cfg.Node || g.remote[r.Node].Version >= r.Version {
		g.mu.Unlock()
		return
	}
	g.remote[r.Node] = r
	g.mu.Unlock()
	g.cfg.OnChange()
}

type delegate struct{ g *Gossip }

func (delegate) NodeMeta(int) []byte                 { return nil }
func (d delegate) NotifyMsg(b []byte)                { d.g.merge(b) }
func (delegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (d delegate) MergeRemoteState(b []byte, _ bool) { d.g.merge(b) }
func (d delegate) LocalState(bool) []byte {
	d.g.mu.Lock()
	defer d.g.mu.Unlock()
	b, _ := json.Marshal(d.g.local)
	return b
}

type events struct{ g *Gossip }

// NotifyJoin sends this node's record to a member that just joined (it
// would otherwise wait for a push/pull with this node).
func (e events) NotifyJoin(n *memberlist.Node) {
	if n.Name == e.g.cfg.Node {
		return
	}
	go e.g.sendLocal(n)
}

func (g *Gossip) sendLocal(n *memberlist.Node) {
	g.mu.Lock()
	msg, _ := json.Marshal(g.local)
	g.mu.Unlock()
	if err := g.ml.SendReliable(n, msg); err != nil {
		g.cfg.Log.Debug("network discovery: send record", "to", n.Name, "err", err)
	}
}

func (events) NotifyUpdate(*memberlist.Node) {}

// NotifyLeave drops the record of a node that left or died.
func (e events) NotifyLeave(n *memberlist.Node) {
	e.g.mu.Lock()
	_, had := e.g.remote[n.Name]
	delete(e.g.remote, n.Name)
	e.g.mu.Unlock()
	if had {
		e.g.cfg.OnChange()
	}
}

// logWriter turns memberlist's log lines into debug records.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Debug("network discovery: " + string(bytes.TrimSpace(p)))
	return len(p), nil
}

var _ io.Writer = logWriter{}
