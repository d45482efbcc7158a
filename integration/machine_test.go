package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/internal/testenv"
)

// The guide's compose file (part 3), but for the image name.
const guideComposeV1 = `version: "3"
services:
  web:
    # replace username/repo:tag with your name and image details
    image: getstarted:part2
    deploy:
      replicas: 5
      resources:
        limits:
          cpus: "0.1"
          memory: 50M
      restart_policy:
        condition: on-failure
    ports:
      - "80:80"
    networks:
      - webnet
networks:
  webnet:
`

// importWeb puts the guide's image on a machine: busybox serving HTTP on
// port 80 (the part 2 image's role).
func importWeb(ms *testenv.Machines, name string) {
	ms.MustDocker(name, "import", "--change", `CMD ["httpd", "-f", "-p", "80"]`, testenv.BusyboxRootfsTar(ms.T()), "getstarted:part2")
}

// TestMachineGuideSwarm is the guide's swarm chapter, verbatim but for
// names, through `berth machine`: two machines, swarm init on one, join
// from the other, the compose file copied over with scp, the stack
// deployed on the manager, and tasks running on both nodes.
func TestMachineGuideSwarm(t *testing.T) {
	ms := testenv.NewMachines(t)
	ms.Create("myvm1")
	ms.Create("myvm2")
	for _, n := range []string{"myvm1", "myvm2"} {
		importWeb(ms, n)
	}
	ls := ms.MustMachine("ls")
	if !regexp.MustCompile(`(?m)^myvm1\s+-\s+local\s+Running\s+tcp://[0-9.]+:2376\s+v\S+`).MatchString(ls) ||
		!regexp.MustCompile(`(?m)^myvm2\s+-\s+local\s+Running`).MatchString(ls) {
		t.Fatalf("machine ls:\n%s", ls)
	}
	ip1 := strings.TrimSpace(ms.MustMachine("ip", "myvm1"))
	out := ms.MustMachine("ssh", "myvm1", "docker swarm init --advertise-addr "+ip1)
	join := regexp.MustCompile(`docker swarm join --token \S+ \S+:2377`).FindString(out)
	if join == "" {
		t.Fatalf("swarm init printed no join command:\n%s", out)
	}
	if out := ms.MustMachine("ssh", "myvm2", join); strings.TrimSpace(out) != "This node joined a swarm as a worker." {
		t.Fatalf("join printed %q", out)
	}
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(file, []byte(guideComposeV1), 0o644); err != nil {
		t.Fatal(err)
	}
	ms.MustMachine("scp", file, "myvm1:~")
	if out := ms.MustMachine("ssh", "myvm1", "cat docker-compose.yml"); out != guideComposeV1 {
		t.Fatalf("scp copied %q", out)
	}
	// On a worker, both stack commands are refused in docker's words,
	// and nothing is made.
	ms.MustMachine("scp", file, "myvm2:~")
	for _, cli := range []string{"docker", "berth"} {
		r := ms.Machine("ssh", "myvm2", cli+" stack deploy -c docker-compose.yml getstartedlab")
		if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "not a swarm manager") {
			t.Errorf("%s stack deploy on a worker: %s", cli, r)
		}
	}
	ms.MustMachine("ssh", "myvm1", "docker stack deploy -c docker-compose.yml getstartedlab")
	var ps string
	testenv.Eventually(t, 60*time.Second, "tasks running on both nodes", func() bool {
		ps = ms.MustMachine("ssh", "myvm1", "docker stack ps getstartedlab --format '{{.Node}} {{.CurrentState}}'")
		return strings.Count(ps, "Running") == 5 && strings.Contains(ps, "myvm1 Running") && strings.Contains(ps, "myvm2 Running")
	})
	if nodes := ms.MustMachine("ssh", "myvm1", "docker node ls --format '{{.Hostname}} {{.Status}}'"); !strings.Contains(nodes, "myvm1 Ready") || !strings.Contains(nodes, "myvm2 Ready") {
		t.Errorf("node ls:\n%s", nodes)
	}
	// A replica on myvm1 answers on the node's own address.
	testenv.Eventually(t, 20*time.Second, "the web service answers on myvm1", func() bool {
		_, err := testenv.HTTPGet("http://" + ip1 + ":80/")
		return err == nil || !strings.Contains(err.Error(), "connection refused")
	})
	ms.MustMachine("ssh", "myvm1", "docker stack rm getstartedlab")
	ms.MustMachine("ssh", "myvm2", "docker swarm leave")
	ms.MustMachine("ssh", "myvm1", "docker swarm leave --force")
}

// envOf reads `machine env`'s export lines.
func envOf(t *testing.T, out string) []string {
	t.Helper()
	var env []string
	for _, m := range regexp.MustCompile(`(?m)^export (\w+)="([^"]*)"$`).FindAllStringSubmatch(out, -1) {
		env = append(env, m[1]+"="+m[2])
	}
	if len(env) != 4 {
		t.Fatalf("machine env printed:\n%s", out)
	}
	return env
}

// TestMachineEnvTLS: `eval $(berth machine env myvm1)` points the docker
// CLI at the machine over TCP with mutual TLS; a client certificate the
// machine's CA did not sign is refused. The informational verbs answer
// as docker-machine's.
func TestMachineEnvTLS(t *testing.T) {
	ms := testenv.NewMachines(t)
	ms.Create("myvm1", "--cpus", "1", "--memory", "512m")
	ip := strings.TrimSpace(ms.MustMachine("ip", "myvm1"))
	url := "tcp://" + ip + ":2376"
	out := ms.MustMachine("env", "myvm1")
	want := `export DOCKER_TLS_VERIFY="1"
export DOCKER_HOST="` + url + `"
export DOCKER_CERT_PATH="` + filepath.Join(ms.Store, "myvm1") + `"
export DOCKER_MACHINE_NAME="myvm1"
# Run this command to configure your shell:
# eval $(berth machine env myvm1)
`
	if out != want {
		t.Errorf("machine env:\n%s\nwant:\n%s", out, want)
	}
	env := envOf(t, out)
	if r := ms.Exec(nil, env, "docker", "info", "--format", "{{.Name}}"); r.Code != 0 || r.Stdout != "myvm1\n" {
		t.Errorf("docker info over TLS: %s", r)
	}
	if r := ms.Run(nil, env, "machine", "active"); r.Stdout != "myvm1\n" {
		t.Errorf("machine active with DOCKER_HOST set: %s", r)
	}
	if r := ms.Machine("active"); r.Code == 0 || !strings.Contains(r.Stderr, "No active host found") {
		t.Errorf("machine active without: %s", r)
	}
	if ls := ms.Run(nil, env, "machine", "ls", "--format", "{{.Name}} {{.Active}} {{.State}}"); ls.Stdout != "myvm1 * Running\n" {
		t.Errorf("ls --format with DOCKER_HOST set: %s", ls)
	}
	// A client certificate from another CA is refused; so is none.
	other, err := certs.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	client, err := other.Client("intruder", 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	if err := certs.WriteDir(bad, other, nil, client); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(ms.Store, "myvm1", "ca.pem"))
	if err := os.WriteFile(filepath.Join(bad, "ca.pem"), ca, 0o644); err != nil { // trust the server, present the wrong client
		t.Fatal(err)
	}
	badEnv := []string{"DOCKER_TLS_VERIFY=1", "DOCKER_HOST=" + url, "DOCKER_CERT_PATH=" + bad}
	if r := ms.Exec(nil, badEnv, "docker", "info", "--format", "{{.Name}}"); r.Code == 0 {
		t.Errorf("a foreign client certificate was accepted: %s", r)
	}
	if r := ms.Exec(nil, []string{"DOCKER_HOST=" + url, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH="}, "docker", "--tls", "info"); r.Code == 0 {
		t.Errorf("a client without a certificate was accepted: %s", r)
	}
	// The informational verbs.
	if got := ms.MustMachine("url", "myvm1"); got != url+"\n" {
		t.Errorf("url: %q", got)
	}
	if got := ms.MustMachine("status", "myvm1"); got != "Running\n" {
		t.Errorf("status: %q", got)
	}
	if got := ms.MustMachine("inspect", "-f", "{{.Driver.IPAddress}} {{.DriverName}} {{.Driver.CPU}} {{.Driver.Memory}}", "myvm1"); got != ip+" local 1 512\n" {
		t.Errorf("inspect -f: %q", got)
	}
	dir := filepath.Join(ms.Store, "myvm1")
	wantCfg := "--tlsverify\n--tlscacert=\"" + dir + "/ca.pem\"\n--tlscert=\"" + dir + "/cert.pem\"\n--tlskey=\"" + dir + "/key.pem\"\n-H=" + url + "\n"
	cfg := ms.MustMachine("config", "myvm1")
	if cfg != wantCfg {
		t.Errorf("config:\n%s", cfg)
	}
	args := append(strings.Fields(strings.ReplaceAll(cfg, `"`, "")), "version", "--format", "{{.Server.Os}}")
	if r := ms.Exec(nil, nil, "docker", args...); r.Code != 0 || r.Stdout != "linux\n" {
		t.Errorf("docker $(machine config) version: %s", r)
	}
	if got := ms.MustMachine("env", "--shell", "fish", "myvm1"); !strings.Contains(got, `set -gx DOCKER_HOST "`+url+`";`) || !strings.Contains(got, "# eval (berth machine env myvm1)") {
		t.Errorf("env --shell fish:\n%s", got)
	}
	if got := ms.MustMachine("env", "--unset"); !strings.HasPrefix(got, "unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\n") {
		t.Errorf("env --unset:\n%s", got)
	}
	if r := ms.Machine("env", "--shell", "nushell", "myvm1"); r.Code == 0 || !strings.Contains(r.Stderr, "Unknown shell") {
		t.Errorf("env with an unknown shell: %s", r)
	}
	// The node's limits are its cgroup's.
	if out := ms.MustMachine("ssh", "myvm1", "cat /proc/self/cgroup"); !strings.Contains(out, "berth-machines/") {
		t.Errorf("the node's processes are not in its cgroup:\n%s", out)
	}
}

// TestMachineSSH: `machine ssh` runs a command (its flags its own, its
// exit code passed back), reads piped stdin, and with no command gives a
// login shell, on a terminal (script(1) makes one) or not.
func TestMachineSSH(t *testing.T) {
	ms := testenv.NewMachines(t)
	ms.Create("node-a")
	if out := ms.MustMachine("ssh", "node-a", "hostname"); out != "node-a\n" {
		t.Errorf("hostname: %q", out)
	}
	if out := ms.MustMachine("ssh", "node-a", "pwd", ";", "echo", "$HOME"); out != "/home/docker\n/home/docker\n" {
		t.Errorf("home: %q", out)
	}
	if r := ms.Machine("ssh", "node-a", "exit", "7"); r.Code != 7 {
		t.Errorf("exit code: %s", r)
	}
	if out := ms.MustMachine("ssh", "node-a", "docker", "info", "--format", "{{.Name}}"); out != "node-a\n" {
		t.Errorf("docker inside: %q", out)
	}
	if r := ms.Run(strings.NewReader("hello from stdin\n"), nil, "machine", "ssh", "node-a", "cat"); r.Stdout != "hello from stdin\n" {
		t.Errorf("piped stdin: %s", r)
	}
	if r := ms.Run(strings.NewReader("hostname\nexit 3\n"), nil, "machine", "ssh", "node-a"); r.Code != 3 || !strings.Contains(r.Stdout, "node-a") {
		t.Errorf("login shell on a pipe: %s", r)
	}
	if _, err := exec.LookPath("script"); err == nil {
		cmd := testenv.Binary(t) + " machine ssh node-a"
		r := ms.Exec(strings.NewReader("tty; hostname; exit\n"), nil, "script", "-qec", cmd, "/dev/null")
		if !strings.Contains(r.Stdout, "/dev/pts/") || !strings.Contains(r.Stdout, "node-a") {
			t.Errorf("login shell on a terminal: %s", r)
		}
	}
	// scp both ways, a directory with -r, and from one machine to another.
	ms.Create("node-b")
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "f.txt"), []byte("deep"), 0o600); err != nil {
		t.Fatal(err)
	}
	ms.MustMachine("scp", "-r", src, "node-a:~/tree")
	if out := ms.MustMachine("ssh", "node-a", "cat tree/sub/f.txt; stat -c %a tree/sub/f.txt"); out != "deep600\n" {
		t.Errorf("scp -r: %q", out)
	}
	if r := ms.Machine("scp", src, "node-a:~/x"); r.Code == 0 {
		t.Errorf("scp of a directory without -r: %s", r)
	}
	ms.MustMachine("scp", "node-a:~/tree/sub/f.txt", "node-b:/tmp/")
	if out := ms.MustMachine("ssh", "node-b", "cat /tmp/f.txt"); out != "deep" {
		t.Errorf("machine to machine: %q", out)
	}
	back := filepath.Join(t.TempDir(), "back.txt")
	ms.MustMachine("scp", "node-b:/tmp/f.txt", back)
	if b, _ := os.ReadFile(back); string(b) != "deep" {
		t.Errorf("machine to here: %q", b)
	}
	ms.MustMachine("ssh", "node-b", "rm /tmp/f.txt")
}

// TestMachineStopStart: stop and start keep a node's images, containers
// and volumes; a stopped machine refuses ssh; rm of a running machine
// needs -f; rm leaves nothing on the host.
func TestMachineStopStart(t *testing.T) {
	ms := testenv.NewMachines(t)
	ms.Create("keeper")
	ms.ImportBusybox("keeper", "busybox")
	ms.MustDocker("keeper", "volume", "create", "kept")
	ms.MustDocker("keeper", "run", "-d", "--name", "keep", "-v", "kept:/data", "busybox", "sh", "-c", "echo hi > /data/f; sleep 1000")
	testenv.Eventually(t, 10*time.Second, "the container wrote its file", func() bool {
		return ms.Docker("keeper", "exec", "keep", "cat", "/data/f").Stdout == "hi\n"
	})
	if out := ms.MustMachine("stop", "keeper"); out != "Stopping \"keeper\"...\nMachine \"keeper\" was stopped.\n" {
		t.Errorf("stop: %q", out)
	}
	if got := ms.MustMachine("status", "keeper"); got != "Stopped\n" {
		t.Errorf("status: %q", got)
	}
	if left := ms.Leftovers(); len(left) != 1 || !strings.HasPrefix(left[0], "bridge ") && !strings.HasPrefix(left[0], "nftables") {
		// The store's bridge stays while it has machines; no process does.
		for _, l := range left {
			if strings.HasPrefix(l, "process") || strings.HasPrefix(l, "cgroup") {
				t.Errorf("a stopped machine holds %s", l)
			}
		}
	}
	if r := ms.Machine("ssh", "keeper", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("ssh to a stopped machine: %s", r)
	}
	if r := ms.Machine("stop", "keeper"); r.Code == 0 || !strings.Contains(r.Stderr, "already stopped") {
		t.Errorf("stop twice: %s", r)
	}
	ms.MustMachine("start", "keeper")
	if r := ms.Machine("start", "keeper"); r.Code == 0 || !strings.Contains(r.Stderr, "already running") {
		t.Errorf("start twice: %s", r)
	}
	if out := ms.MustDocker("keeper", "ps", "-a", "--format", "{{.Names}}"); out != "keep\n" {
		t.Errorf("containers after start: %q", out)
	}
	if out := ms.MustDocker("keeper", "image", "ls", "--format", "{{.Repository}}"); out != "busybox\n" {
		t.Errorf("images after start: %q", out)
	}
	if out := ms.MustDocker("keeper", "run", "--rm", "-v", "kept:/data", "busybox", "cat", "/data/f"); out != "hi\n" {
		t.Errorf("volume after start: %q", out)
	}
	ms.MustMachine("restart", "keeper")
	// A node killed outright (as a host that loses power) is Stopped, and
	// comes back with its images on start.
	ms.KillNode("keeper")
	testenv.Eventually(t, 10*time.Second, "the killed machine Stopped", func() bool {
		return ms.Machine("status", "keeper").Stdout == "Stopped\n"
	})
	ms.MustMachine("start", "keeper")
	if out := ms.MustDocker("keeper", "image", "ls", "--format", "{{.Repository}}"); out != "busybox\n" {
		t.Errorf("images after a kill and start: %q", out)
	}
	if r := ms.Run(strings.NewReader("n\n"), nil, "machine", "rm", "keeper"); r.Code != 0 || !strings.Contains(r.Stdout, "Are you sure?") || !ms.Exists("keeper") {
		t.Errorf("rm answered no: %s", r)
	}
	if r := ms.Machine("rm", "-y", "keeper"); r.Code == 0 || !strings.Contains(r.Stderr, "running") || !ms.Exists("keeper") {
		t.Errorf("rm of a running machine without -f: %s", r)
	}
	if out := ms.MustMachine("rm", "-f", "-y", "keeper"); !strings.Contains(out, "Successfully removed keeper") {
		t.Errorf("rm -f: %q", out)
	}
	if left := ms.Leftovers(); len(left) > 0 {
		t.Errorf("rm left %q", left)
	}
}

// TestMachineBadInput: names, duplicates and sizes are checked before
// anything is made; a create that fails half-way leaves no machine; the
// machine network avoids a subnet a host route already uses.
func TestMachineBadInput(t *testing.T) {
	ms := testenv.NewMachines(t)
	for _, name := range []string{"my_vm", "-vm", "vm-", "a/b", strings.Repeat("x", 64)} {
		if r := ms.Machine("create", "--", name); r.Code == 0 || !strings.Contains(r.Stderr, "Invalid hostname") {
			t.Errorf("create %q: %s", name, r)
		}
	}
	for _, args := range [][]string{{"--memory", "lots"}, {"--memory", "1k"}, {"--cpus", "-1"}, {"--driver", "virtualbox"}} {
		if r := ms.Machine(append(append([]string{"create"}, args...), "vm")...); r.Code == 0 {
			t.Errorf("create %v: %s", args, r)
		}
	}
	if r := ms.Machine("ssh", "nosuch", "true"); r.Code == 0 || !strings.Contains(r.Stderr, `Host does not exist: "nosuch"`) {
		t.Errorf("ssh to no machine: %s", r)
	}
	// A host route over docker-machine's 192.168.99.0/24: the store picks
	// the next subnet.
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("bmtest%d", os.Getpid()%100000)}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(dummy) })
	addr, _ := netlink.ParseAddr("192.168.99.250/24")
	if err := netlink.AddrAdd(dummy, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	ms.Create("vm")
	if ip := strings.TrimSpace(ms.MustMachine("ip", "vm")); ip != "192.168.100.100" {
		t.Errorf("machine address beside a 192.168.99.0/24 route: %s", ip)
	}
	if r := ms.Machine("create", "vm"); r.Code == 0 || !strings.Contains(r.Stderr, `Host already exists: "vm"`) {
		t.Errorf("duplicate: %s", r)
	}
	if ms.MustMachine("status", "vm") != "Running\n" {
		t.Error("a refused duplicate disturbed the machine")
	}
	// A failure inside the driver (the node's daemon cannot start: a
	// daemon flag it refuses) removes everything the create made.
	ms.MustMachine("rm", "-f", "-y", "vm")
	r := ms.Machine("create", "--engine-opt", "bip=not-an-address", "broken")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Error creating machine") || !strings.Contains(r.Stderr, "not-an-address") {
		t.Errorf("create of a machine whose daemon cannot start: %s", r)
	}
	if r := ms.Machine("create", "--engine-opt", "data-root=/x", "vm2"); r.Code == 0 || !strings.Contains(r.Stderr, "sets --data-root itself") {
		t.Errorf("--engine-opt of a driver's flag: %s", r)
	}
	if ms.Exists("broken") {
		t.Error("a failed create left its machine directory")
	}
	if left := ms.Leftovers(); len(left) > 0 {
		t.Errorf("a failed create left %q", left)
	}
}
