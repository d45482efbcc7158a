package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// A join token of the right form for a swarm that does not exist (the
// example of Docker's documentation).
const unknownSwarmToken = "SWMTKN-1-3pu6hszedrmmtwbvewptkqnwm0eb2cmpwe4v6lsqdrq4wsmzwz-1awxwuwd3z9j1z3puu7rcgdbx"

// wantFail checks that a docker command failed with want in its stderr.
func wantFail(t *testing.T, r testenv.Result, want string) {
	t.Helper()
	if r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("want a failure saying %q, got %s", want, r)
	}
}

// swarmState is the node's LocalNodeState as docker info tells it.
func swarmState(t *testing.T, d *testenv.Daemon) string {
	t.Helper()
	return strings.TrimSpace(d.MustDocker("info", "--format", "{{.Swarm.LocalNodeState}}"))
}

// nodeID is the swarm node ID of a daemon.
func nodeID(t *testing.T, d *testenv.Daemon) string {
	t.Helper()
	return strings.TrimSpace(d.MustDocker("info", "--format", "{{.Swarm.NodeID}}"))
}

// checkNoPanic fails the test if the daemon's log shows a panic.
func checkNoPanic(t *testing.T, d *testenv.Daemon) {
	t.Helper()
	if log := d.Log(); strings.Contains(log, "panic") {
		t.Errorf("the daemon's log shows a panic:\n%s", log)
	}
}

// checkServiceRuns creates a one-replica service placed on d and waits
// for its container: the swarm still works.
func checkServiceRuns(t *testing.T, d *testenv.Daemon, name string) {
	t.Helper()
	d.MustDocker("service", "create", "-d", "--name", name, "--constraint", "node.id=="+nodeID(t, d), "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 30*time.Second, name+" running", func() bool { return len(serviceContainers(d, name)) == 1 })
}

// TestSwarmErrors: swarm mode answers bad input as dockerd does, in its
// words, and neither panics nor loses state. One single-node swarm
// (init's checks, services) and one cluster of two managers and a worker
// (joins, leave, node rm/demote/update) run side by side.
func TestSwarmErrors(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		d := testenv.StartDaemon(t)
		d.ImportBusybox("busybox")
		swarmErrorsInit(t, d)
		swarmErrorsServices(t, d)
		if r := d.Docker("info"); r.Code != 0 {
			t.Fatalf("info at the end: %s", r)
		}
		checkServiceRuns(t, d, "last")
		checkNoPanic(t, d)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		swarmErrorsCluster(t)
	})
}

// swarmErrorsInit: a join to an address where nothing listens fails in
// bounded time; init's addresses, pools and ports are checked before
// anything starts; the node stays out of any swarm until a good init.
func swarmErrorsInit(t *testing.T, d *testenv.Daemon) {
	dead := swarmAddr(t)
	start := time.Now()
	r := d.Docker("swarm", "join", "--token", unknownSwarmToken, "--listen-addr", swarmAddr(t), dead)
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("join to a dead address took %s", took)
	}
	// SwarmKit gives up after five tries two seconds apart, before
	// dockerd's 20 s timeout: Docker answers with the dial error too.
	wantFail(t, r, fmt.Sprintf(`Error response from daemon: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp %s: connect: connection refused"`, dead))
	if st := swarmState(t, d); st != "inactive" {
		t.Errorf("after a failed join: %s", st)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := swarmAddr(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--advertise-addr", "0.0.0.0"},
			"Error response from daemon: advertise address must be a non-zero IP address or network interface (with optional port number)"},
		{[]string{"--advertise-addr", "127.0.0.1", "--listen-addr", "nosuchif0"},
			"Error response from daemon: listen address must be an IP address or network interface (with optional port number)"},
		{[]string{"--advertise-addr", "127.0.0.1", "--listen-addr", "bogus:xx"},
			`invalid argument "bogus:xx" for "--listen-addr" flag`},
		{[]string{"--advertise-addr", "127.0.0.1", "--listen-addr", busy.Addr().String()},
			"address already in use"},
		{[]string{"--listen-addr", addr, "--default-addr-pool", "notacidr"},
			`invalid argument "notacidr" for "--default-addr-pool" flag`},
		{[]string{"--listen-addr", addr, "--default-addr-pool", "10.20.0.0/26"},
			`Error response from daemon: invalid CIDR: "10.20.0.0/26". Subnet size is too small for pool: 24`},
		{[]string{"--listen-addr", addr, "--default-addr-pool", "10.20.0.0/16", "--default-addr-pool-mask-length", "30"},
			"Error response from daemon: subnet size is out of range: 30"},
		{[]string{"--listen-addr", addr, "--data-path-port", "80"},
			"Error response from daemon: Datapath port number is not in valid range (1024-49151) : 80"},
		{[]string{"--listen-addr", addr, "--data-path-addr", "0.0.0.0"},
			"Error response from daemon: data path address must be a non-zero IP address or network interface (without a port number)"},
	} {
		wantFail(t, d.Docker(append([]string{"swarm", "init"}, tt.args...)...), tt.want)
	}
	// What the CLI never sends, dockerd refuses with a 400 too.
	for _, tt := range []struct{ path, body, want string }{
		{"/swarm/init", `{"ListenAddr":""}`, `invalid ListenAddr \"\": invalid empty address`},
		{"/swarm/init", `{"ListenAddr":"` + addr + `","Spec":{"Name":"other"}}`, `swarm spec must be named \"default\"`},
		{"/swarm/join", `{"ListenAddr":"` + addr + `","RemoteAddrs":[""]}`, `invalid remoteAddr \"\": invalid empty address`},
	} {
		if code, body := apiDo(t, d, "POST", tt.path, []byte(tt.body)); code != http.StatusBadRequest || !strings.Contains(body, tt.want) {
			t.Errorf("POST %s %s: %d %s", tt.path, tt.body, code, body)
		}
	}
	if st := swarmState(t, d); st != "inactive" {
		t.Fatalf("after refused inits: %s", st)
	}
	d.MustDocker("swarm", "init", "--advertise-addr", addr, "--listen-addr", addr)
}

// swarmErrorsServices: bad service specs, a published port taken, a
// constraint no node meets, a stale version, unknown and ambiguous names.
func swarmErrorsServices(t *testing.T, d *testenv.Daemon) {
	create := func(args ...string) testenv.Result {
		return d.Docker(append(append([]string{"service", "create", "-d", "--stop-grace-period", "1s"}, args...), "busybox", "sleep", "1000")...)
	}
	wantFail(t, create("--name", "bad", "--replicas", "-1"), `invalid argument "-1" for "--replicas" flag`)
	wantFail(t, create("--name", "bad", "--mode", "nonsense"), "Unknown mode: nonsense, only replicated and global supported")
	wantFail(t, create("--name", "bad", "--restart-condition", "bogus"), `Error response from daemon: invalid RestartCondition: "bogus"`)
	wantFail(t, create("--name", "bad", "--update-failure-action", "bogus"), "Error response from daemon: unrecognized update failure action bogus")

	port := testenv.FreePort(t)
	porta := strings.TrimSpace(d.MustDocker("service", "create", "-d", "-q", "--name", "porta", "--replicas", "0", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "1000"))
	wantFail(t, create("--name", "portb", "-p", fmt.Sprintf("%d:80", port)),
		fmt.Sprintf("Error response from daemon: rpc error: code = InvalidArgument desc = port '%d' is already in use by service 'porta' (%s) as an ingress port", port, porta))
	if ls := d.MustDocker("service", "ls", "--format", "{{.Name}}"); ls != "porta\n" {
		t.Errorf("services after refused creates:\n%s", ls)
	}

	pend := strings.TrimSpace(d.MustDocker("service", "create", "-d", "-q", "--name", "pend", "--constraint", "node.labels.nope==1", "busybox", "sleep", "1000"))
	testenv.Eventually(t, 20*time.Second, "pend's task pending for want of a node", func() bool {
		ps := d.MustDocker("service", "ps", "--no-trunc", "pend")
		return strings.Contains(ps, "Pending") && strings.Contains(ps, "no suitable node (scheduling constraints not satisfied on 1 node)")
	})

	// A stale version is refused with SwarmKit's words and dockerd's 500;
	// the service keeps what the last good update gave it.
	var svc struct {
		Version struct{ Index uint64 }
		Spec    json.RawMessage
	}
	if err := json.Unmarshal([]byte(d.MustDocker("service", "inspect", "--format", "{{json .}}", "pend")), &svc); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("service", "update", "-d", "--label-add", "step=1", "pend")
	code, body := apiDo(t, d, "POST", fmt.Sprintf("/services/%s/update?version=%d", pend, svc.Version.Index), svc.Spec)
	if code != http.StatusInternalServerError || !strings.Contains(body, `"rpc error: code = Unknown desc = update out of sequence"`) {
		t.Errorf("update at a stale version: %d %s", code, body)
	}
	if got := d.MustDocker("service", "inspect", "--format", "{{index .Spec.Labels \"step\"}}", "pend"); got != "1\n" {
		t.Errorf("label after the refused update: %q", got)
	}

	wantFail(t, d.Docker("service", "inspect", "nosuch"), "no such service: nosuch")
	wantFail(t, d.Docker("service", "rm", "nosuch"), "Error response from daemon: service nosuch not found")
	wantFail(t, d.Docker("service", "update", "-d", "--replicas", "2", "nosuch"), "Error response from daemon: service nosuch not found")
	wantFail(t, d.Docker("service", "ps", "nosuch"), "no such service: nosuch")

	// Services until two IDs share a first character: that prefix is
	// ambiguous and removes nothing; a longer one names one service.
	ids := []string{porta, pend}
	var prefix string
	var matches []string
	for i := 0; prefix == "" && i < 30; i++ {
		ids = append(ids, strings.TrimSpace(d.MustDocker("service", "create", "-d", "-q", "--name", fmt.Sprintf("amb%d", i), "--replicas", "0", "busybox", "sleep", "1000")))
		byFirst := map[string][]string{}
		for _, id := range ids {
			byFirst[id[:1]] = append(byFirst[id[:1]], id)
		}
		for p, m := range byFirst {
			if len(m) > 1 {
				prefix, matches = p, m
			}
		}
	}
	if prefix == "" {
		t.Fatalf("no two of %d service IDs share a first character", len(ids))
	}
	want := fmt.Sprintf("Error response from daemon: service %s is ambiguous (%d matches found)", prefix, len(matches))
	wantFail(t, d.Docker("service", "inspect", prefix), want)
	wantFail(t, d.Docker("service", "rm", prefix), want)
	if n := len(strings.Fields(d.MustDocker("service", "ls", "-q"))); n != len(ids) {
		t.Errorf("%d services after the ambiguous rm, want %d", n, len(ids))
	}
	if got := d.MustDocker("service", "inspect", "--format", "{{.ID}}", matches[0][:12]); got != matches[0]+"\n" {
		t.Errorf("inspect by a unique prefix: %q", got)
	}
}

// apiDo sends a request with a JSON body to the daemon's API and returns
// the status and body.
func apiDo(t *testing.T, d *testenv.Daemon, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://berth"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// swarmErrorsCluster: wrong, malformed and rotated-away join tokens; two
// managers refusing to leave or be removed; node updates out of range; a
// worker removed with --force, which can then leave and rejoin.
func swarmErrorsCluster(t *testing.T) {
	m1, m2, w := testenv.StartDaemon(t), testenv.StartDaemon(t), testenv.StartDaemon(t)
	m1.ImportBusybox("busybox")
	a1, a2, aw := swarmAddr(t), swarmAddr(t), swarmAddr(t)
	m1.MustDocker("swarm", "init", "--advertise-addr", a1, "--listen-addr", a1)
	mgrTok := strings.TrimSpace(m1.MustDocker("swarm", "join-token", "-q", "manager"))
	oldTok := strings.TrimSpace(m1.MustDocker("swarm", "join-token", "-q", "worker"))
	m1.MustDocker("swarm", "join-token", "--rotate", "worker")
	wrkTok := strings.TrimSpace(m1.MustDocker("swarm", "join-token", "-q", "worker"))
	if wrkTok == oldTok {
		t.Fatal("rotation kept the worker token")
	}
	// The manager token with another secret of the same form.
	parts := strings.Split(mgrTok, "-")
	parts[3] = strings.Repeat("x", len(parts[3]))
	wrongTok := strings.Join(parts, "-")

	wrongWords := "Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
	var wg sync.WaitGroup
	for _, j := range []struct {
		d          *testenv.Daemon
		tok, addr  string
		what, want string
	}{
		{m2, wrongTok, a2, "a wrong secret", wrongWords},
		{w, oldTok, aw, "a rotated-away token", wrongWords},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := j.d.Docker("swarm", "join", "--token", j.tok, "--listen-addr", j.addr, "--advertise-addr", j.addr, a1)
			if r.Code == 0 || !strings.Contains(r.Stderr, j.want) {
				t.Errorf("join with %s: want %q, got %s", j.what, j.want, r)
			}
		}()
	}
	wg.Wait()
	for _, tok := range []string{"SWMTKN-1-garbage", "foobaz"} {
		wantFail(t, m2.Docker("swarm", "join", "--token", tok, "--listen-addr", a2, a1), "Error response from daemon: invalid join token")
	}
	for _, d := range []*testenv.Daemon{m2, w} {
		if st := swarmState(t, d); st != "inactive" {
			t.Fatalf("after refused joins: %s", st)
		}
	}

	if out := m2.MustDocker("swarm", "join", "--token", mgrTok, "--listen-addr", a2, "--advertise-addr", a2, a1); out != "This node joined a swarm as a manager.\n" {
		t.Fatalf("join as manager: %q", out)
	}
	if out := w.MustDocker("swarm", "join", "--token", wrkTok, "--listen-addr", aw, "--advertise-addr", aw, a1); out != "This node joined a swarm as a worker.\n" {
		t.Fatalf("join as worker: %q", out)
	}
	exists := `Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.`
	wantFail(t, m2.Docker("swarm", "join", "--token", mgrTok, "--listen-addr", a2, a1), exists)
	wantFail(t, m1.Docker("swarm", "join", "--token", mgrTok, a2), exists)
	testenv.Eventually(t, 30*time.Second, "3 Ready nodes, a Leader and a Reachable manager", func() bool {
		out := m1.MustDocker("node", "ls")
		return strings.Count(out, " Ready ") == 3 && strings.Count(out, "Leader") == 1 && strings.Count(out, "Reachable") == 1
	})

	// The three daemons share this host's name: it names no one node.
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"inspect", "rm"} {
		wantFail(t, m1.Docker("node", cmd, host), fmt.Sprintf("Error response from daemon: node %s is ambiguous (3 matches found)", host))
	}

	quorum := "Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. " +
		"Removing this node leaves 1 managers out of 2. Without a Raft quorum your swarm will be inaccessible. " +
		"The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message."
	wantFail(t, m2.Docker("swarm", "leave"), quorum)
	wantFail(t, m1.Docker("swarm", "leave"), quorum)

	id1, id2, idw := nodeID(t, m1), nodeID(t, m2), nodeID(t, w)
	for _, force := range [][]string{nil, {"--force"}} {
		wantFail(t, m1.Docker(append(append([]string{"node", "rm"}, force...), id2)...),
			fmt.Sprintf("Error response from daemon: rpc error: code = FailedPrecondition desc = node %s is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal", id2))
	}
	// dockerd answers SwarmKit's FailedPrecondition with a 400.
	if code, body := apiDo(t, m1, "DELETE", "/nodes/"+id2, nil); code != http.StatusBadRequest || !strings.Contains(body, "It must be demoted to worker before removal") {
		t.Errorf("DELETE /nodes/%s: %d %s", id2, code, body)
	}
	wantFail(t, m1.Docker("node", "rm", idw), fmt.Sprintf("Error response from daemon: rpc error: code = FailedPrecondition desc = node %s is not down and can't be removed", idw))
	wantFail(t, m1.Docker("node", "update", "--role", "badrole", idw), `Error response from daemon: invalid Role: "badrole"`)
	wantFail(t, m1.Docker("node", "update", "--availability", "bad", idw), `Error response from daemon: invalid Availability: "bad"`)
	wantFail(t, m1.Docker("node", "inspect", "nosuchnode"), "Error response from daemon: node nosuchnode not found")
	if got := m1.MustDocker("node", "inspect", "--format", "{{.Spec.Role}} {{.Spec.Availability}}", idw); got != "worker active\n" {
		t.Errorf("worker after refused updates: %q", got)
	}

	if out := m1.MustDocker("node", "demote", id2); out != fmt.Sprintf("Manager %s demoted in the swarm.\n", id2) {
		t.Errorf("demote: %q", out)
	}
	// Until SwarmKit has taken the demoted node out of raft, demoting the
	// other is refused for quorum; then for being the last manager.
	last := "Error response from daemon: rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm"
	quorumLoss := "Error response from daemon: rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum"
	testenv.Eventually(t, 30*time.Second, "demoting the last manager refused as such", func() bool {
		r := m1.Docker("node", "demote", id1)
		if r.Code == 0 || !strings.Contains(r.Stderr, last) && !strings.Contains(r.Stderr, quorumLoss) {
			t.Fatalf("demoting the last manager: %s", r)
		}
		return strings.Contains(r.Stderr, last)
	})
	wantFail(t, m1.Docker("swarm", "leave"), "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.")

	if out := m1.MustDocker("node", "rm", "--force", idw); out != idw+"\n" {
		t.Errorf("node rm --force printed %q", out)
	}
	if ls := m1.MustDocker("node", "ls", "-q"); strings.Contains(ls, idw) {
		t.Errorf("removed node still listed:\n%s", ls)
	}
	// The removed worker's daemon carries on: it leaves and joins again.
	if r := w.Docker("info"); r.Code != 0 {
		t.Fatalf("info on the removed worker: %s", r)
	}
	w.MustDocker("swarm", "leave")
	if st := swarmState(t, w); st != "inactive" {
		t.Errorf("removed worker after leave: %s", st)
	}
	w.MustDocker("swarm", "join", "--token", wrkTok, "--listen-addr", aw, "--advertise-addr", aw, a1)
	testenv.Eventually(t, 30*time.Second, "the rejoined worker Ready", func() bool {
		return strings.Count(m1.MustDocker("node", "ls"), " Ready ") == 3
	})

	if r := m1.Docker("info"); r.Code != 0 {
		t.Fatalf("info at the end: %s", r)
	}
	checkServiceRuns(t, m1, "last")
	for _, d := range []*testenv.Daemon{m1, m2, w} {
		checkNoPanic(t, d)
	}
}
