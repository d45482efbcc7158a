package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// initSwarm makes d the single manager of a new swarm listening on a
// loopback port of its own and returns the init output.
func initSwarm(t *testing.T, d *testenv.Daemon) string {
	t.Helper()
	port := testenv.FreePort(t)
	return d.MustDocker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", fmt.Sprintf("127.0.0.1:%d", port))
}

// serviceContainers lists the IDs of the running containers of a service.
func serviceContainers(d *testenv.Daemon, service string) []string {
	return strings.Fields(d.Docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service).Stdout)
}

// TestSwarmSingleNode drives one manager through the docker CLI: init,
// info, node ls, join tokens, a replicated service that scales, replaces
// a task whose container is removed by hand, and leaving.
func TestSwarmSingleNode(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")

	if r := d.Docker("swarm", "leave"); r.Code == 0 || !strings.Contains(r.Stderr, "This node is not part of a swarm") {
		t.Fatalf("leave before init: %s", r)
	}
	if r := d.Docker("service", "ls"); r.Code == 0 || !strings.Contains(r.Stderr, `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join"`) {
		t.Fatalf("service ls before init: %s", r)
	}

	out := initSwarm(t, d)
	if !regexp.MustCompile(`Swarm initialized: current node \([a-z0-9]{25}\) is now a manager\.`).MatchString(out) ||
		!regexp.MustCompile(`docker swarm join --token SWMTKN-1-[a-z0-9]+-[a-z0-9]+ 127\.0\.0\.1:\d+`).MatchString(out) {
		t.Fatalf("init printed:\n%s", out)
	}
	if r := d.Docker("swarm", "init"); r.Code == 0 || !strings.Contains(r.Stderr, "This node is already part of a swarm.") {
		t.Fatalf("second init: %s", r)
	}
	if got := d.MustDocker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}} {{.Swarm.Managers}}"); got != "active true 1 1\n" {
		t.Errorf("info swarm: %q", got)
	}
	nodes := d.MustDocker("node", "ls")
	if !regexp.MustCompile(`(?m)^[a-z0-9]{25} \*\s+\S+\s+Ready\s+Active\s+Leader\s+`).MatchString(nodes) {
		t.Errorf("node ls:\n%s", nodes)
	}
	for _, role := range []string{"worker", "manager"} {
		tok := strings.TrimSpace(d.MustDocker("swarm", "join-token", "-q", role))
		if !strings.HasPrefix(tok, "SWMTKN-1-") {
			t.Errorf("%s token %q", role, tok)
		}
	}

	d.MustDocker("service", "create", "-d", "--name", "web", "--replicas", "3", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 30*time.Second, "3 running containers of web", func() bool { return len(serviceContainers(d, "web")) == 3 })
	testenv.Eventually(t, 10*time.Second, "service ls showing 3/3", func() bool {
		return regexp.MustCompile(`web\s+replicated\s+3/3\s+busybox`).MatchString(d.MustDocker("service", "ls"))
	})
	names := d.MustDocker("ps", "--format", "{{.Names}}", "--filter", "label=com.docker.swarm.service.name=web")
	if !regexp.MustCompile(`(?m)^web\.[123]\.[a-z0-9]{25}$`).MatchString(names) {
		t.Errorf("task container names:\n%s", names)
	}

	d.MustDocker("service", "scale", "-d", "web=5")
	testenv.Eventually(t, 30*time.Second, "5 running containers of web", func() bool { return len(serviceContainers(d, "web")) == 5 })

	victim := serviceContainers(d, "web")[0]
	d.MustDocker("rm", "-f", victim)
	testenv.Eventually(t, 30*time.Second, "the removed task replaced", func() bool {
		ids := serviceContainers(d, "web")
		return len(ids) == 5 && !strings.Contains(strings.Join(ids, " "), victim)
	})

	// A restarted daemon rejoins its swarm; its tasks' containers keep
	// running through the restart and are taken up again, not replaced.
	before := strings.Join(serviceContainers(d, "web"), " ")
	d.Restart()
	testenv.Eventually(t, 30*time.Second, "the swarm back after a restart", func() bool {
		r := d.Docker("service", "ls")
		return r.Code == 0 && regexp.MustCompile(`web\s+replicated\s+5/5`).MatchString(r.Stdout)
	})
	time.Sleep(2 * time.Second) // a replaced task would show by now
	if after := strings.Join(serviceContainers(d, "web"), " "); after != before {
		t.Errorf("task containers changed across a restart:\n%s\n%s", before, after)
	}

	d.MustDocker("service", "rm", "web")
	testenv.Eventually(t, 30*time.Second, "web's containers gone", func() bool {
		return d.MustDocker("ps", "-aq", "--filter", "label=com.docker.swarm.service.name=web") == ""
	})

	if r := d.Docker("swarm", "leave"); r.Code == 0 || !strings.Contains(r.Stderr, "Removing the last manager erases all current state of the swarm.") {
		t.Fatalf("leave without --force: %s", r)
	}
	if out := d.MustDocker("swarm", "leave", "--force"); out != "Node left the swarm.\n" {
		t.Errorf("leave printed %q", out)
	}
	if got := d.MustDocker("info", "--format", "{{.Swarm.LocalNodeState}}"); got != "inactive\n" {
		t.Errorf("after leave: %q", got)
	}
}

// TestSwarmTaskFailures: a task that exits non-zero under
// restart-condition on-failure is replaced, and an image that does not
// exist leaves the service retrying with "No such image" in service ps.
func TestSwarmTaskFailures(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	initSwarm(t, d)

	d.MustDocker("service", "create", "-d", "--name", "flaky", "--restart-condition", "on-failure", "--restart-delay", "100ms", "busybox", "sh", "-c", "sleep 0.3; exit 1")
	testenv.Eventually(t, 30*time.Second, "failed tasks of flaky replaced", func() bool {
		ps := d.MustDocker("service", "ps", "--no-trunc", "flaky")
		return strings.Count(ps, "task: non-zero exit (1)") >= 2
	})

	d.MustDocker("service", "create", "-d", "--name", "ghost", "nosuchimage:1")
	testenv.Eventually(t, 30*time.Second, "No such image in service ps", func() bool {
		return strings.Contains(d.MustDocker("service", "ps", "--no-trunc", "ghost"), "No such image: nosuchimage:1")
	})
	if r := d.Docker("info"); r.Code != 0 {
		t.Fatalf("daemon after failing tasks: %s", r)
	}
}

// The guide's Service chapter on one daemon, with the docker CLI: a stack
// of five load-balanced web replicas with CPU and memory limits behind a
// published port, scaled down by redeploying, then removed.
func TestSwarmGuideServiceChapter(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := writeContext(t, map[string]string{
		// Serves its hostname (its container's short ID), as the guide's
		// app shows it.
		"Dockerfile": "FROM busybox\nCMD [\"sh\", \"-c\", \"mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www\"]\n",
	})
	d.MustDocker("build", "-q", "-t", "friendlyhello", dir)
	initSwarm(t, d)

	port := testenv.FreePort(t)
	compose := func(replicas int) string {
		return fmt.Sprintf(`version: "3"
services:
  web:
    image: friendlyhello
    deploy:
      replicas: %d
      resources:
        limits:
          cpus: "0.1"
          memory: 50M
      restart_policy:
        condition: on-failure
    ports:
      - "%d:80"
    networks:
      - webnet
networks:
  webnet:
`, replicas, port)
	}
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	writeFile(t, file, compose(5))
	d.MustDocker("stack", "deploy", "-c", file, "getstartedlab")

	testenv.Eventually(t, 60*time.Second, "getstartedlab_web 5/5", func() bool {
		return regexp.MustCompile(`getstartedlab_web\s+replicated\s+5/5\s+friendlyhello`).MatchString(d.MustDocker("service", "ls"))
	})
	if n := len(serviceContainers(d, "getstartedlab_web")); n != 5 {
		t.Fatalf("%d containers of getstartedlab_web, want 5", n)
	}
	// Limits are enforced: 0.1 CPU and 50 MiB in the container's config.
	id := serviceContainers(d, "getstartedlab_web")[0]
	if got := d.MustDocker("inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", id); got != "100000000 52428800\n" {
		t.Errorf("limits: %q", got)
	}

	hosts := map[string]bool{}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	testenv.Eventually(t, 30*time.Second, "the published port answering", func() bool {
		_, err := testenv.HTTPGet(url)
		return err == nil
	})
	// The mesh follows the tasks a moment after they run: 20 requests in
	// a row must soon see at least 4 of the 5 replicas.
	testenv.Eventually(t, 20*time.Second, "20 requests seeing at least 4 hostnames", func() bool {
		hosts = map[string]bool{}
		for i := 0; i < 20; i++ {
			body, err := testenv.HTTPGet(url)
			if err != nil {
				return false
			}
			hosts[strings.TrimSpace(body)] = true
		}
		return len(hosts) >= 4
	})
	for h := range hosts {
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(h) {
			t.Errorf("hostname %q is not a short container ID", h)
		}
	}

	writeFile(t, file, compose(3))
	d.MustDocker("stack", "deploy", "-c", file, "getstartedlab")
	testenv.Eventually(t, 60*time.Second, "scaled to 3", func() bool {
		return len(serviceContainers(d, "getstartedlab_web")) == 3 &&
			regexp.MustCompile(`getstartedlab_web\s+replicated\s+3/3`).MatchString(d.MustDocker("service", "ls"))
	})

	d.MustDocker("stack", "rm", "getstartedlab")
	testenv.Eventually(t, 60*time.Second, "the stack's services, containers and network gone", func() bool {
		return d.MustDocker("service", "ls", "-q") == "" &&
			d.MustDocker("ps", "-aq") == "" &&
			!strings.Contains(d.MustDocker("network", "ls"), "getstartedlab_webnet")
	})
	if out := d.MustDocker("swarm", "leave", "--force"); out != "Node left the swarm.\n" {
		t.Errorf("leave: %q", out)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// docker-py drives swarm mode: init, nodes, a service that scales, and
// its logs.
func TestSwarmDockerPy(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	port := testenv.FreePort(t)
	script := fmt.Sprintf(`
import time, docker
from docker.types import ServiceMode
c = docker.DockerClient(base_url=%q)
node_id = c.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:%d")
print("init", len(node_id))
print("nodes", [n.attrs["Spec"]["Role"] for n in c.nodes.list()])
s = c.services.create("busybox", ["sh", "-c", "echo hello from $(hostname); exec sleep 1000"], name="pysvc", mode=ServiceMode("replicated", replicas=1))
s.scale(3)
def running():
    return len([t for t in s.tasks() if t["Status"]["State"] == "running"])
deadline = time.time() + 60
while running() < 3 and time.time() < deadline:
    time.sleep(0.2)
print("running", running())
deadline = time.time() + 20
lines = []
while len(lines) < 3 and time.time() < deadline:
    lines = [l for l in b"".join(s.logs(stdout=True)).decode().splitlines() if "hello from" in l]
    time.sleep(0.3)
print("loglines", len(lines))
s.remove()
c.swarm.leave(force=True)
print("left", c.info()["Swarm"]["LocalNodeState"])
`, d.Host(), port)
	r := d.Run(nil, 120*time.Second, "python3", "-c", script)
	if r.Code != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	for _, want := range []string{"init 25", "nodes ['manager']", "running 3", "loglines 3", "left inactive"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("docker-py output lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// swarmAddr is a loopback listen address of its own for a daemon.
func swarmAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

// nodeIDs maps each task of a service to the node it runs on.
func taskNodes(t *testing.T, d *testenv.Daemon, service string) []string {
	t.Helper()
	ids := strings.Fields(d.MustDocker("service", "ps", "-q", "--filter", "desired-state=running", service))
	if len(ids) == 0 {
		return nil
	}
	out := d.MustDocker(append([]string{"inspect", "--format", "{{.NodeID}} {{.Status.State}}"}, ids...)...)
	var nodes []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "running" {
			nodes = append(nodes, f[0])
		}
	}
	return nodes
}

func distinct(ss []string) int {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return len(m)
}

// TestSwarmCluster: five daemons on one host (3 managers, 2 workers)
// joined with tokens; spreading, constraints, draining, and the leader's
// daemon killed and restarted.
func TestSwarmCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("five daemons")
	}
	ds := make([]*testenv.Daemon, 5)
	addrs := make([]string, 5)
	for i := range ds {
		ds[i] = testenv.StartDaemon(t)
		ds[i].ImportBusybox("busybox")
		addrs[i] = swarmAddr(t)
	}
	lead := ds[0]
	lead.MustDocker("swarm", "init", "--advertise-addr", addrs[0], "--listen-addr", addrs[0])
	mgrTok := strings.TrimSpace(lead.MustDocker("swarm", "join-token", "-q", "manager"))
	wrkTok := strings.TrimSpace(lead.MustDocker("swarm", "join-token", "-q", "worker"))
	for i := 1; i < 5; i++ {
		tok, want := mgrTok, "This node joined a swarm as a manager.\n"
		if i >= 3 {
			tok, want = wrkTok, "This node joined a swarm as a worker.\n"
		}
		if out := ds[i].MustDocker("swarm", "join", "--token", tok, "--listen-addr", addrs[i], "--advertise-addr", addrs[i], addrs[0]); out != want {
			t.Fatalf("join %d printed %q", i, out)
		}
	}
	if r := ds[4].Docker("swarm", "join", "--token", wrkTok, addrs[0]); r.Code == 0 || !strings.Contains(r.Stderr, "This node is already part of a swarm.") {
		t.Errorf("joining twice: %s", r)
	}
	if r := ds[4].Docker("node", "ls"); r.Code == 0 || !strings.Contains(r.Stderr, "Worker nodes can't be used to view or modify cluster state.") {
		t.Errorf("node ls on a worker: %s", r)
	}
	testenv.Eventually(t, 30*time.Second, "5 Ready nodes, one Leader, two Reachable", func() bool {
		out := lead.MustDocker("node", "ls")
		return strings.Count(out, " Ready ") == 5 && strings.Count(out, "Leader") == 1 && strings.Count(out, "Reachable") == 2
	})

	lead.MustDocker("service", "create", "-d", "--name", "spread", "--replicas", "10", "busybox", "sleep", "1000")
	testenv.Eventually(t, 60*time.Second, "10 tasks running on 5 nodes", func() bool {
		n := taskNodes(t, lead, "spread")
		return len(n) == 10 && distinct(n) == 5
	})

	lead.MustDocker("service", "create", "-d", "--name", "perNode", "--mode", "global", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 60*time.Second, "a global task on each of the 5 nodes", func() bool {
		n := taskNodes(t, lead, "perNode")
		return len(n) == 5 && distinct(n) == 5
	})
	lead.MustDocker("service", "rm", "perNode")

	managers := map[string]bool{}
	for _, id := range strings.Fields(lead.MustDocker("node", "ls", "-q", "--filter", "role=manager")) {
		managers[id] = true
	}
	lead.MustDocker("service", "create", "-d", "--name", "onmgr", "--replicas", "6", "--constraint", "node.role==manager", "busybox", "sleep", "1000")
	testenv.Eventually(t, 60*time.Second, "6 tasks on managers only", func() bool {
		n := taskNodes(t, lead, "onmgr")
		for _, id := range n {
			if !managers[id] {
				return false
			}
		}
		return len(n) == 6
	})

	worker := strings.TrimSpace(ds[4].MustDocker("info", "--format", "{{.Swarm.NodeID}}"))
	lead.MustDocker("node", "update", "--availability", "drain", worker)
	testenv.Eventually(t, 60*time.Second, "the drained worker's tasks moved", func() bool {
		n := taskNodes(t, lead, "spread")
		for _, id := range n {
			if id == worker {
				return false
			}
		}
		return len(n) == 10 && len(serviceContainers(ds[4], "spread")) == 0
	})

	// The leader's daemon dies: another manager takes over and nothing
	// is lost.
	lead.Kill9()
	start := time.Now()
	var leader string
	testenv.Eventually(t, 30*time.Second, "a new leader", func() bool {
		r := ds[1].Docker("node", "ls")
		for _, l := range strings.Split(r.Stdout, "\n") {
			if strings.Contains(l, "Leader") && strings.Contains(l, " Ready ") {
				leader = l
				return r.Code == 0
			}
		}
		return false
	})
	t.Logf("new leader after %s: %s", time.Since(start).Round(100*time.Millisecond), leader)
	if out := ds[1].MustDocker("service", "ls"); !strings.Contains(out, "spread") || !strings.Contains(out, "onmgr") {
		t.Errorf("services after failover:\n%s", out)
	}
	lead.Restart()
	testenv.Eventually(t, 60*time.Second, "the restarted manager back and Reachable", func() bool {
		out := ds[1].MustDocker("node", "ls")
		return strings.Count(out, " Ready ") == 5 && strings.Count(out, "Leader")+strings.Count(out, "Reachable") == 3
	})
}

// The berth CLI drives swarm mode against a real daemon: init, a service
// created without -d (progress until converged), ls/ps/inspect/scale/
// logs/update/rollback/rm, node ls and leave.
func TestSwarmBerthCLI(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	addr := swarmAddr(t)
	out := d.MustBerth("swarm", "init", "--advertise-addr", addr, "--listen-addr", addr)
	if !strings.Contains(out, "Swarm initialized: current node (") || !strings.Contains(out, "swarm join --token SWMTKN-1-") {
		t.Fatalf("init:\n%s", out)
	}
	out = d.MustBerth("service", "create", "--name", "hello", "--replicas", "2", "--stop-grace-period", "1s", "busybox", "sh", "-c", "echo hi from $(hostname); exec sleep 1000")
	if !strings.Contains(out, "verify: Service") || !strings.Contains(out, "converged") {
		t.Errorf("create without -d:\n%s", out)
	}
	if ls := d.MustBerth("service", "ls"); !regexp.MustCompile(`hello\s+replicated\s+2/2\s+busybox`).MatchString(ls) {
		t.Errorf("service ls:\n%s", ls)
	}
	if ps := d.MustBerth("service", "ps", "hello"); strings.Count(ps, "Running") < 2 || !strings.Contains(ps, "hello.1") {
		t.Errorf("service ps:\n%s", ps)
	}
	if got := d.MustBerth("service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", "hello"); got != "2\n" {
		t.Errorf("inspect replicas %q", got)
	}
	d.MustBerth("service", "scale", "hello=3")
	if n := len(serviceContainers(d, "hello")); n != 3 {
		t.Errorf("%d containers after scale (it waits for convergence)", n)
	}
	testenv.Eventually(t, 20*time.Second, "logs of 3 tasks", func() bool {
		return strings.Count(d.Berth("service", "logs", "hello").Stdout, "hi from") == 3
	})
	d.MustBerth("service", "update", "--env-add", "X=1", "hello")
	if got := d.MustBerth("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Env}}", "hello"); got != "[X=1]\n" {
		t.Errorf("env after update %q", got)
	}
	d.MustBerth("service", "rollback", "hello")
	if got := d.MustBerth("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", "hello"); got != "null\n" {
		t.Errorf("env after rollback %q", got)
	}
	if nodes := d.MustBerth("node", "ls"); !strings.Contains(nodes, "Leader") {
		t.Errorf("node ls:\n%s", nodes)
	}
	d.MustBerth("service", "rm", "hello")
	if r := d.Berth("service", "inspect", "hello"); r.Code == 0 {
		t.Errorf("inspect after rm: %s", r)
	}
	if out := d.MustBerth("swarm", "leave", "--force"); out != "Node left the swarm.\n" {
		t.Errorf("leave %q", out)
	}
}

// TestSwarmUpdatesAndFailures: a rolling image update one task at a
// time, rollback, a published port that follows, an OOM-killed task that
// is replaced, and global mode.
func TestSwarmUpdatesAndFailures(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	for _, v := range []string{"v1", "v2"} {
		dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nCMD [\"sh\", \"-c\", \"mkdir -p /www && echo " + v + " > /www/index.html && exec httpd -f -p 80 -h /www\"]\n"})
		d.MustDocker("build", "-q", "-t", "app:"+v, dir)
	}
	initSwarm(t, d)
	port := testenv.FreePort(t)
	d.MustDocker("service", "create", "-d", "--name", "app", "--replicas", "3", "-p", fmt.Sprintf("%d:80", port),
		"--update-parallelism", "1", "--update-delay", "1s", "--stop-grace-period", "1s", "app:v1")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitHTTP(t, url, "v1")

	d.MustDocker("service", "update", "-d", "--image", "app:v2", "app")
	testenv.Eventually(t, 90*time.Second, "all three tasks on v2", func() bool {
		out := d.MustDocker("ps", "--format", "{{.Image}}", "--filter", "label=com.docker.swarm.service.name=app")
		return strings.Count(out, "app:v2") == 3 && !strings.Contains(out, "app:v1")
	})
	// One task at a time: the updater made each new task at least the
	// update delay (1 s) after the one before (a slow machine only
	// widens the gaps).
	ids := strings.Fields(d.MustDocker("service", "ps", "-q", "--filter", "desired-state=running", "app"))
	created := strings.Fields(d.MustDocker(append([]string{"inspect", "--format", "{{.CreatedAt.UnixMilli}}"}, ids...)...))
	var ms []int
	for _, c := range created {
		var v int
		fmt.Sscan(c, &v)
		ms = append(ms, v)
	}
	slices.Sort(ms)
	t.Logf("update tasks made at %v (ms)", ms)
	for i := 1; i < len(ms); i++ {
		if gap := ms[i] - ms[i-1]; gap < 900 {
			t.Errorf("tasks %d and %d of the update were made %d ms apart: two at once", i-1, i, gap)
		}
	}
	waitHTTP(t, url, "v2")
	testenv.Eventually(t, 30*time.Second, "update completed", func() bool {
		return d.MustDocker("service", "inspect", "--format", "{{.UpdateStatus.State}}", "app") == "completed\n"
	})
	d.MustDocker("service", "rollback", "-d", "app")
	testenv.Eventually(t, 90*time.Second, "rolled back to v1", func() bool {
		out := d.MustDocker("ps", "--format", "{{.Image}}", "--filter", "label=com.docker.swarm.service.name=app")
		return strings.Count(out, "app:v1") == 3 && !strings.Contains(out, "app:v2")
	})
	if got := d.MustDocker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", "app"); got != "app:v1\n" {
		t.Errorf("image after rollback %q", got)
	}
	waitHTTP(t, url, "v1")

	// A task over its memory limit is killed by the kernel and replaced.
	d.MustDocker("service", "create", "-d", "--name", "hog", "--limit-memory", "20m", "--restart-delay", "100ms",
		"busybox", "sh", "-c", "sleep 0.2; head -c 100000000 /dev/zero | tail")
	testenv.Eventually(t, 60*time.Second, "the OOM-killed task replaced", func() bool {
		return strings.Count(d.MustDocker("service", "ps", "--no-trunc", "hog"), "task: non-zero exit (137)") >= 2
	})

	hport := testenv.FreePort(t)
	d.MustDocker("service", "create", "-d", "--name", "direct", "--publish", fmt.Sprintf("published=%d,target=80,mode=host", hport), "--stop-grace-period", "1s", "app:v2")
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hport), "v2")
	testenv.Eventually(t, 10*time.Second, "the host-mode port in service ps", func() bool {
		return strings.Contains(d.MustDocker("service", "ps", "direct"), fmt.Sprintf("*:%d->80/tcp", hport))
	})

	d.MustDocker("service", "create", "-d", "--name", "everywhere", "--mode", "global", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 30*time.Second, "one global task", func() bool {
		return regexp.MustCompile(`everywhere\s+global\s+1/1`).MatchString(d.MustDocker("service", "ls"))
	})
}

// TestSwarmServiceDiscovery: on an overlay network a service's name is
// its VIP, which balances over its tasks from inside another task;
// tasks.<name> lists the tasks; --endpoint-mode dnsrr answers with the
// tasks directly.
func TestSwarmServiceDiscovery(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	initSwarm(t, d)
	d.MustDocker("network", "create", "-d", "overlay", "appnet")
	if out := d.MustDocker("network", "ls", "--filter", "name=appnet", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != "appnet overlay swarm\n" {
		t.Errorf("network ls: %q", out)
	}
	serve := "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
	d.MustDocker("service", "create", "-d", "--name", "db", "--replicas", "2", "--network", "appnet", "--stop-grace-period", "1s", "busybox", "sh", "-c", serve)
	d.MustDocker("service", "create", "-d", "--name", "rr", "--replicas", "2", "--endpoint-mode", "dnsrr", "--network", "appnet", "--stop-grace-period", "1s", "busybox", "sh", "-c", serve)
	d.MustDocker("service", "create", "-d", "--name", "client", "--network", "appnet", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 60*time.Second, "all tasks running", func() bool {
		return len(serviceContainers(d, "db")) == 2 && len(serviceContainers(d, "rr")) == 2 && len(serviceContainers(d, "client")) == 1
	})
	client := serviceContainers(d, "client")[0]
	var vip string
	for _, l := range strings.Fields(d.MustDocker("service", "inspect", "--format", "{{range .Endpoint.VirtualIPs}}{{.Addr}} {{end}}", "db")) {
		vip = strings.Split(l, "/")[0] // the service is on one network: appnet
	}
	lookup := func(name string) string {
		r := d.Docker("exec", client, "nslookup", name)
		return r.Stdout
	}
	testenv.Eventually(t, 20*time.Second, "db resolving to its VIP "+vip, func() bool {
		out := lookup("db")
		if !strings.Contains(out, vip) {
			t.Logf("nslookup db: %s", out)
		}
		return vip != "" && strings.Contains(out, vip)
	})
	testenv.Eventually(t, 20*time.Second, "tasks.db resolving to 2 task addresses", func() bool {
		return strings.Count(lookup("tasks.db"), "Address") >= 3 // the server's, then one per task
	})
	testenv.Eventually(t, 20*time.Second, "rr (dnsrr) resolving to its 2 tasks", func() bool {
		return strings.Count(lookup("rr"), "Address") >= 3
	})
	hosts := map[string]bool{}
	testenv.Eventually(t, 20*time.Second, "the VIP reaching both db tasks", func() bool {
		r := d.Docker("exec", client, "wget", "-q", "-O-", "http://db/")
		if r.Code == 0 {
			hosts[strings.TrimSpace(r.Stdout)] = true
		}
		return len(hosts) == 2
	})
}

// TestSwarmForceNewCluster: a 2-manager swarm that lost one manager has
// no quorum; `swarm init --force-new-cluster` on the survivor makes it a
// single-manager swarm again with its services.
func TestSwarmForceNewCluster(t *testing.T) {
	a, b := testenv.StartDaemon(t), testenv.StartDaemon(t)
	a.ImportBusybox("busybox")
	addrA, addrB := swarmAddr(t), swarmAddr(t)
	a.MustDocker("swarm", "init", "--advertise-addr", addrA, "--listen-addr", addrA)
	tok := strings.TrimSpace(a.MustDocker("swarm", "join-token", "-q", "manager"))
	b.MustDocker("swarm", "join", "--token", tok, "--listen-addr", addrB, "--advertise-addr", addrB, addrA)
	a.MustDocker("service", "create", "-d", "--name", "keep", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 30*time.Second, "two reachable managers", func() bool {
		return strings.Count(a.MustDocker("node", "ls"), "Reachable")+strings.Count(a.MustDocker("node", "ls"), "Leader") == 2
	})
	// With one of two managers gone there is no quorum: the survivor can
	// no longer change the swarm. It starts a new one-manager cluster
	// from its own state.
	b.Kill9()
	a.MustDocker("swarm", "init", "--force-new-cluster", "--advertise-addr", addrA, "--listen-addr", addrA)
	testenv.Eventually(t, 30*time.Second, "the service back in a one-manager swarm", func() bool {
		r := a.Docker("service", "ls")
		return r.Code == 0 && strings.Contains(r.Stdout, "keep")
	})
	if got := a.MustDocker("info", "--format", "{{.Swarm.Managers}}"); got != "1\n" {
		t.Errorf("managers after --force-new-cluster: %q", got)
	}
}
