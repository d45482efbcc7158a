package gossip

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func start(t *testing.T, name string, keys ...[]byte) (*Gossip, string) {
	t.Helper()
	port := freePort(t)
	g, err := Start(Config{Node: name, Bind: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Leave)
	return g, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func recordOf(g *Gossip, node string) (Record, bool) {
	for _, r := range g.Records() {
		if r.Node == node {
			return r, true
		}
	}
	return Record{}, false
}

var key1, key2 = []byte("0123456789abcdef"), []byte("fedcba9876543210")

// Records set before and after a join reach the other member; a newer
// record replaces an older one; a member that leaves takes its record.
func TestRecordsSpread(t *testing.T) {
	a, addrA := start(t, "a", key1)
	b, _ := start(t, "b", key1)
	a.SetLocal(Record{VTEP: "10.0.0.1", Tasks: []Task{{ID: "t1", ServiceName: "web"}}})
	if _, err := b.Join([]string{addrA}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's record on b", func() bool { r, ok := recordOf(b, "a"); return ok && len(r.Tasks) == 1 })
	b.SetLocal(Record{VTEP: "10.0.0.2"})
	eventually(t, "b's record on a", func() bool { r, ok := recordOf(a, "b"); return ok && r.VTEP == "10.0.0.2" })
	a.SetLocal(Record{VTEP: "10.0.0.1"})
	eventually(t, "a's newer record on b", func() bool { r, _ := recordOf(b, "a"); return len(r.Tasks) == 0 })
	b.Leave()
	eventually(t, "b's record gone from a", func() bool { _, ok := recordOf(a, "b"); return !ok })
}

// A member without the swarm's key learns nothing, even after a join.
func TestForeignKeyLearnsNothing(t *testing.T) {
	a, addrA := start(t, "a", key1)
	a.SetLocal(Record{VTEP: "10.0.0.1", Tasks: []Task{{ID: "secret-task"}}})
	x, _ := start(t, "x", key2)
	_, _ = x.Join([]string{addrA})
	time.Sleep(time.Second)
	if _, ok := recordOf(x, "a"); ok {
		t.Error("a member with another key got a's record")
	}
	if _, ok := recordOf(a, "x"); ok {
		t.Error("a took a record from a member with another key")
	}
	if _, err := Start(Config{Node: "nokey", Bind: netip.MustParseAddrPort("127.0.0.1:0")}); err == nil {
		t.Error("a member without keys started")
	}
}

// Rotation: a member given the managers' new key list (old key kept)
// goes on talking with one that has only the old key.
func TestKeyRotation(t *testing.T) {
	a, addrA := start(t, "a", key1)
	b, _ := start(t, "b", key1)
	if _, err := b.Join([]string{addrA}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetKeys([][]byte{key1, key2}); err != nil {
		t.Fatal(err)
	}
	b.SetLocal(Record{VTEP: "10.0.0.2"})
	eventually(t, "b's record on a after b's rotation", func() bool { r, ok := recordOf(a, "b"); return ok && r.VTEP == "10.0.0.2" })
	if err := a.SetKeys([][]byte{key1, key2}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetKeys([][]byte{key2}); err != nil { // the old key retired everywhere
		t.Fatal(err)
	}
	if err := a.SetKeys([][]byte{key2}); err != nil {
		t.Fatal(err)
	}
	a.SetLocal(Record{VTEP: "10.0.0.9"})
	eventually(t, "a's record on b with the new key only", func() bool { r, _ := recordOf(b, "a"); return r.VTEP == "10.0.0.9" })
}

func TestPrimary(t *testing.T) {
	if string(primary([][]byte{key1})) != string(key1) || string(primary([][]byte{key1, key2})) != string(key1) {
		t.Error("primary is the second newest key")
	}
}
