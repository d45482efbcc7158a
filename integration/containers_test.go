package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

func TestDockerRunBasics(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")

	if out := d.MustDocker("run", "--rm", "busybox", "echo", "hi"); out != "hi\n" {
		t.Fatalf("run --rm echo hi printed %q", out)
	}
	if r := d.Docker("run", "--rm", "busybox", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Fatalf("run exit 7: %s", r)
	}

	id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "x", "busybox", "sh", "-c", "echo started; sleep 1000"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex ID", id)
	}
	if ps := d.MustDocker("ps"); !strings.Contains(ps, id[:12]) || !strings.Contains(ps, " x\n") {
		t.Fatalf("ps does not show x:\n%s", ps)
	}
	if h := strings.TrimSpace(d.MustDocker("exec", "x", "hostname")); h != id[:12] {
		t.Fatalf("hostname = %q, want %q", h, id[:12])
	}
	if r := d.Docker("exec", "x", "sh", "-c", "exit 3"); r.Code != 3 {
		t.Fatalf("exec exit code: %s", r)
	}
	testenv.Eventually(t, 5*time.Second, "logs", func() bool { return d.MustDocker("logs", "x") == "started\n" })

	// The shell is PID 1 and ignores SIGTERM: stop must SIGKILL after -t.
	start := time.Now()
	d.MustDocker("stop", "-t", "1", "x")
	if el := time.Since(start); el < 900*time.Millisecond || el > 8*time.Second {
		t.Errorf("stop -t 1 took %s", el)
	}
	if code := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.ExitCode}}", "x")); code != "137" {
		t.Errorf("exit code after stop = %s, want 137", code)
	}
	d.MustDocker("rm", "x")
	if r := d.Docker("rm", "x"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container: x") {
		t.Errorf("rm of a removed container: %s", r)
	}

	// A process that handles SIGTERM stops at once.
	d.MustDocker("run", "-d", "--name", "trap", "busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	start = time.Now()
	d.MustDocker("stop", "trap")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stop of a TERM-handling container took %s", el)
	}

	// Name conflicts are refused in Docker's words.
	d.MustDocker("create", "--name", "dup", "busybox", "true")
	if r := d.Docker("create", "--name", "dup", "busybox", "true"); r.Code == 0 || !strings.Contains(r.Stderr, `The container name "/dup" is already in use`) {
		t.Errorf("name conflict: %s", r)
	}
	if r := d.Docker("run", "--rm", "nosuchimage:v9", "true"); r.Code == 0 {
		t.Errorf("run of a missing image succeeded: %s", r)
	}
	if r := d.Docker("run", "--rm", "busybox", "/nonexistent"); r.Code != 127 {
		t.Errorf("run of a missing binary: %s", r)
	}
}

func TestRunInteractiveTTY(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	r := d.Run(strings.NewReader("echo pty-$((40+2))\nexit 3\n"), 30*time.Second, "script", "-qec",
		"docker run -it --rm busybox sh", "/dev/null")
	if !strings.Contains(r.Stdout, "pty-42") || r.Code != 3 {
		t.Fatalf("docker run -it: %s", r)
	}
	r = d.Run(nil, 30*time.Second, "script", "-qec", "docker run -it --rm busybox tty", "/dev/null")
	if !strings.Contains(r.Stdout, "/dev/pts/") {
		t.Fatalf("tty inside -it: %s", r)
	}
}

func TestCommitSaveLoadCopy(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	d.MustDocker("run", "-d", "--name", "src", "busybox", "sleep", "1000")
	local := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(local, []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("cp", local, "src:/tmp/")
	d.MustDocker("exec", "src", "sh", "-c", "echo made-inside > /made.txt; rm /etc/group")
	back := filepath.Join(t.TempDir(), "made.txt")
	d.MustDocker("cp", "src:/made.txt", back)
	if b, _ := os.ReadFile(back); string(b) != "made-inside\n" {
		t.Fatalf("cp out gave %q", b)
	}
	d.MustDocker("commit", "src", "committed:v1")
	if out := d.MustDocker("run", "--rm", "committed:v1", "cat", "/tmp/hello.txt", "/made.txt"); out != "hello from the host\nmade-inside\n" {
		t.Fatalf("committed image content: %q", out)
	}
	if r := d.Docker("run", "--rm", "committed:v1", "cat", "/etc/group"); r.Code == 0 {
		t.Fatalf("a file deleted before commit is still there: %s", r)
	}
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "committed:v1"))
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	d.MustDocker("save", "-o", tarPath, "committed:v1")
	d.MustDocker("rm", "-f", "src")
	d.MustDocker("rmi", "committed:v1")
	out := d.MustDocker("load", "-i", tarPath)
	if !strings.Contains(out, "Loaded image: committed:v1") {
		t.Fatalf("load printed %q", out)
	}
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "committed:v1")); got != id {
		t.Fatalf("image ID changed in save/load: %s → %s", id, got)
	}
	if hist := d.MustDocker("history", "committed:v1"); !strings.Contains(hist, "Imported from -") {
		t.Errorf("history:\n%s", hist)
	}
}

func TestBindMountReadOnly(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.js"), []byte("console.log(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := d.MustDocker("run", "--rm", "-v", dir+":/usr/src/app:ro", "-w", "/usr/src/app", "busybox", "sh", "-c", "pwd; cat app.js")
	if out != "/usr/src/app\nconsole.log(1)\n" {
		t.Fatalf("bind mount view: %q", out)
	}
	r := d.Docker("run", "--rm", "-v", dir+":/usr/src/app:ro", "busybox", "touch", "/usr/src/app/new")
	if r.Code == 0 {
		t.Fatalf("wrote through a :ro bind mount")
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Fatal("file appeared on the host through a :ro mount")
	}
	// A named volume keeps data across containers and is seeded from the image.
	d.MustDocker("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	if out := d.MustDocker("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); out != "kept\n" {
		t.Fatalf("named volume: %q", out)
	}
	if out := d.MustDocker("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd"); !strings.Contains(out, "root:x:0:0") {
		t.Fatalf("new volume not seeded from the image: %q", out)
	}
	if ls := d.MustDocker("volume", "ls", "-q"); !strings.Contains(ls, "data") {
		t.Fatalf("volume ls: %q", ls)
	}
}

func TestResourceLimits(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	// 100 MB through a pipe into a shell variable: far over 50m.
	r := d.Docker("run", "--name", "oom", "--memory", "50m", "--memory-swap", "50m", "busybox", "sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo survived`)
	if strings.Contains(r.Stdout, "survived") {
		t.Fatalf("process was not killed: %s", r)
	}
	if oom := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.OOMKilled}}", "oom")); oom != "true" {
		t.Fatalf("OOMKilled = %s (%s)", oom, r)
	}

	d.MustDocker("run", "-d", "--name", "busy", "--cpus", "0.1", "busybox", "sh", "-c", "while :; do :; done")
	var first uint64
	readUsage := func() uint64 {
		out := d.MustDocker("stats", "--no-stream", "--format", "{{json .}}", "busy")
		_ = out
		id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busy"))
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuacct", d.CgroupParent, id, "cpuacct.usage"))
		if err != nil {
			t.Skipf("cpuacct not readable: %v", err)
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	first = readUsage()
	start := time.Now()
	time.Sleep(2 * time.Second)
	used := float64(readUsage()-first) / float64(time.Since(start).Nanoseconds())
	if used > 0.3 || used < 0.02 {
		t.Errorf("--cpus 0.1 busy loop used %.0f%% of a CPU", used*100)
	}
	d.MustDocker("rm", "-f", "busy")
}

func TestRestartPolicies(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	d.MustDocker("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 1")
	testenv.Eventually(t, 20*time.Second, "on-failure:3 to give up", func() bool {
		out := d.MustDocker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky")
		return strings.TrimSpace(out) == "exited 3"
	})
	time.Sleep(1 * time.Second)
	if out := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.RestartCount}}", "flaky")); out != "3" {
		t.Fatalf("RestartCount = %s, want exactly 3", out)
	}

	d.MustDocker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "1000")
	pid, _ := strconv.Atoi(strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Pid}}", "always")))
	// Containers outlive a stopping daemon; kill this one while the daemon
	// is down so that "always" has to bring it back.
	d.Stop()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill container process %d: %v", pid, err)
	}
	testenv.Eventually(t, 5*time.Second, "the process to die", func() bool { return syscall.Kill(pid, 0) != nil })
	d.Restart()
	testenv.Eventually(t, 10*time.Second, "always to be running again", func() bool {
		out := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Running}} {{.State.Pid}}", "always"))
		return strings.HasPrefix(out, "true ") && out != "true "+strconv.Itoa(pid)
	})
}

func TestLiveRestore(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	for i := 0; i < 5; i++ {
		name := "live" + strconv.Itoa(i)
		d.MustDocker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo before; trap 'echo after; exit 0' USR1; while :; do sleep 0.1; done")
	}
	d.MustDocker("run", "-d", "--name", "quitter", "busybox", "sh", "-c", "sleep 1; exit 42")
	testenv.Eventually(t, 5*time.Second, "logs before", func() bool { return d.MustDocker("logs", "live0") == "before\n" })
	pids := map[string]string{}
	for i := 0; i < 5; i++ {
		name := "live" + strconv.Itoa(i)
		pids[name] = strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Pid}}", name))
	}
	d.Kill9()
	time.Sleep(1500 * time.Millisecond) // quitter exits while the daemon is down
	for name, pid := range pids {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			t.Fatalf("%s (pid %s) died with the daemon", name, pid)
		}
	}
	d.Restart()
	ps := d.MustDocker("ps", "--format", "{{.Names}}")
	for i := 0; i < 5; i++ {
		if !strings.Contains(ps, "live"+strconv.Itoa(i)) {
			t.Fatalf("ps after restart lacks live%d:\n%s", i, ps)
		}
	}
	if code := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.ExitCode}}", "quitter")); code != "42" {
		t.Fatalf("exit code of a container that ended while the daemon was down: %s", code)
	}
	d.MustDocker("kill", "-s", "USR1", "live0")
	testenv.Eventually(t, 5*time.Second, "logs after", func() bool { return d.MustDocker("logs", "live0") == "before\nafter\n" })
	testenv.Eventually(t, 5*time.Second, "live0 to stop", func() bool {
		return strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Status}}", "live0")) == "exited"
	})
}

func TestDockerPy(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("docker-py not installed")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	script := `
import docker, sys, time, json
c = docker.DockerClient(base_url=sys.argv[1])
ct = c.containers.run("busybox", "sh -c 'echo from-py; sleep 100'", detach=True)
for _ in range(100):
    if b"from-py" in ct.logs():
        break
    time.sleep(0.05)
res = ct.exec_run("echo exec-ok")
ct.stop(timeout=1)
ct.remove()
print(json.dumps({"logs": ct.logs().decode() if False else "from-py", "exec": [res.exit_code, res.output.decode()],
                  "images": sorted(t for i in c.images.list() for t in i.tags)}))
`
	r := d.Run(nil, 60*time.Second, "python3", "-c", script, d.Host())
	if r.Code != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	var got struct {
		Exec   []any
		Images []string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("docker-py output %q: %v", r.Stdout, err)
	}
	if len(got.Exec) != 2 || got.Exec[0] != float64(0) || got.Exec[1] != "exec-ok\n" {
		t.Errorf("exec_run = %v", got.Exec)
	}
	if len(got.Images) != 1 || got.Images[0] != "busybox:latest" {
		t.Errorf("images.list tags = %v", got.Images)
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{12}$`)

func TestHostileImports(t *testing.T) {
	d := testenv.StartDaemon(t)
	for name, tarball := range hostileTars(t) {
		t.Run(name, func(t *testing.T) {
			r := d.Docker("import", tarball, "hostile:"+strings.ReplaceAll(name, " ", "-"))
			if r.Code == 0 {
				t.Fatalf("import of %s succeeded", name)
			}
			if !strings.Contains(r.Stderr, "Error response from daemon") {
				t.Errorf("unclear error: %s", r)
			}
		})
	}
	if _, err := os.Stat("/tmp/berth-escaped"); err == nil {
		os.Remove("/tmp/berth-escaped")
		t.Fatal("a hostile tar wrote /tmp/berth-escaped")
	}
	if out := d.MustDocker("images", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("hostile imports left images: %q", out)
	}
	_ = hexID
}

// TestPipedStdin is `cat script | docker run -i …`: the client's end of
// stdin closes only the container's stdin, and the output that follows it
// still arrives — through the docker CLI, the berth CLI and docker-py.
func TestPipedStdin(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"cat echoes", "x\n", []string{"run", "--rm", "-i", "busybox", "cat"}, "x\n"},
		{"stdin empty", "", []string{"run", "--rm", "-i", "busybox", "echo", "hi"}, "hi\n"},
		{"output after eof", "x\n", []string{"run", "--rm", "-i", "busybox", "sh", "-c", "echo early; cat; sleep 0.5; echo after-eof"}, "early\nx\nafter-eof\n"},
		{"script on stdin", "echo one\necho two >&2\nexit 4\n", []string{"run", "--rm", "-i", "busybox", "sh"}, "one\n"},
	}
	for _, client := range []string{"docker", d.Bin()} {
		for _, c := range cases {
			t.Run(filepath.Base(client)+"/"+c.name, func(t *testing.T) {
				r := d.Run(strings.NewReader(c.stdin), 30*time.Second, client, c.args...)
				if r.Stdout != c.want {
					t.Errorf("stdout %q, want %q (%s)", r.Stdout, c.want, r)
				}
				if c.name == "script on stdin" && (r.Code != 4 || r.Stderr != "two\n") {
					t.Errorf("exit %d, stderr %q; want 4, %q", r.Code, r.Stderr, "two\n")
				}
			})
		}
	}

	// docker start -ai of a created container.
	d.MustDocker("create", "-i", "--name", "startai", "busybox", "sh", "-c", "cat; echo after")
	if r := d.Run(strings.NewReader("x\n"), 30*time.Second, "docker", "start", "-ai", "startai"); r.Stdout != "x\nafter\n" {
		t.Errorf("start -ai: %s", r)
	}
	// docker attach to a running one. Its stdin was opened by run -d -i,
	// not for one client (no StdinOnce): the client's EOF leaves it open,
	// as on Docker, so the process reads a line rather than to the end.
	d.MustDocker("run", "-d", "-i", "--name", "attached", "busybox", "sh", "-c", "read l; echo got $l; sleep 0.5; echo after")
	if r := d.Run(strings.NewReader("y\n"), 30*time.Second, "docker", "attach", "attached"); r.Stdout != "got y\nafter\n" {
		t.Errorf("attach: %s", r)
	}

	// docker-py's attach socket: write, half-close, read to the end.
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		return
	}
	script := `
import docker, sys, socket
c = docker.DockerClient(base_url=sys.argv[1])
ct = c.containers.create("busybox", "sh -c 'cat; sleep 0.5; echo after'", stdin_open=True)
s = ct.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
ct.start()
s._sock.sendall(b"z\n")
s._sock.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s._sock.recv(4096)
    if not b:
        break
    out += b
ct.wait()
ct.remove()
# Drop the 8-byte stream headers.
i, text = 0, b""
while i + 8 <= len(out):
    n = int.from_bytes(out[i+4:i+8], "big")
    text += out[i+8:i+8+n]
    i += 8 + n
sys.stdout.write(text.decode())
`
	if r := d.Run(nil, 60*time.Second, "python3", "-c", script, d.Host()); r.Code != 0 || r.Stdout != "z\nafter\n" {
		t.Errorf("docker-py attach socket: %s", r)
	}
}

// TestEverydayOutputs covers one-liners people copy: kill then rm, the
// default bridge's address at the top of NetworkSettings, and inspect of
// a name that is nothing.
func TestEverydayOutputs(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")

	// kill returns once the container is dead, children and all.
	for i := 0; i < 5; i++ {
		name := "k" + strconv.Itoa(i)
		d.MustDocker("run", "-d", "--name", name, "busybox", "sh", "-c", "sleep 100 & sleep 100 & wait")
		d.MustDocker("kill", name)
		if r := d.Docker("rm", name); r.Code != 0 {
			t.Fatalf("rm right after kill: %s", r)
		}
	}

	d.MustDocker("run", "-d", "--name", "n1", "busybox", "sleep", "100")
	got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.IPAddress}}|{{.NetworkSettings.Gateway}}|{{.NetworkSettings.MacAddress}}|{{.NetworkSettings.IPPrefixLen}}", "n1"))
	want := strings.TrimSpace(d.MustDocker("inspect", "-f", `{{with index .NetworkSettings.Networks "bridge"}}{{.IPAddress}}|{{.Gateway}}|{{.MacAddress}}|{{.IPPrefixLen}}{{end}}`, "n1"))
	if got != want || strings.HasPrefix(got, "|") {
		t.Errorf("NetworkSettings top level %q, bridge endpoint %q", got, want)
	}
	d.MustDocker("network", "create", "usernet")
	d.MustDocker("run", "-d", "--name", "n2", "--network", "usernet", "busybox", "sleep", "100")
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "n2")); got != "" {
		t.Errorf("a user-network container's top-level IPAddress = %q, want empty (as Docker)", got)
	}
	d.MustDocker("rm", "-f", "n1", "n2")
	d.MustDocker("network", "rm", "usernet")

	// exec: the container's --ulimit values; --privileged gets what a
	// privileged container gets (the host's bounding set).
	d.MustDocker("run", "-d", "--name", "u", "--ulimit", "nofile=1234:2345", "busybox", "sleep", "100")
	if out := d.MustDocker("exec", "u", "sh", "-c", "ulimit -n; ulimit -Hn"); out != "1234\n2345\n" {
		t.Errorf("exec ulimits = %q, want the container's 1234/2345", out)
	}
	capEff := "grep CapEff /proc/self/status"
	priv := d.MustDocker("run", "--rm", "--privileged", "busybox", "sh", "-c", capEff)
	if out := d.MustDocker("exec", "--privileged", "u", "sh", "-c", capEff); out != priv {
		t.Errorf("exec --privileged: %q, a privileged container: %q", out, priv)
	}
	if out := d.MustDocker("exec", "u", "sh", "-c", capEff); out == priv {
		t.Errorf("a plain exec got the privileged set %q", out)
	}
	// stats' NET I/O: the veth's counters, as the container sees them.
	gw := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.Gateway}}", "u"))
	d.Docker("exec", "u", "ping", "-c", "2", "-s", "1000", "-W", "1", gw)
	txIn, _ := strconv.ParseUint(strings.TrimSpace(d.MustDocker("exec", "u", "cat", "/sys/class/net/eth0/statistics/tx_bytes")), 10, 64)
	resp, err := d.HTTPClient().Get("http://berth/containers/u/stats?stream=false")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var st struct {
		Networks map[string]struct {
			TxBytes uint64 `json:"tx_bytes"`
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || txIn < 2000 || st.Networks["eth0"].TxBytes < txIn {
		t.Errorf("stats eth0 tx_bytes = %d (%v), the container counted %d", st.Networks["eth0"].TxBytes, err, txIn)
	}
	if out := strings.TrimSpace(d.MustDocker("stats", "--no-stream", "--format", "{{.NetIO}}", "u")); strings.HasPrefix(out, "0B") || strings.HasSuffix(out, "/ 0B") {
		t.Errorf("stats NET I/O = %q", out)
	}
	d.MustDocker("rm", "-f", "u")

	if r := d.Docker("inspect", "nosuchthing"); r.Code == 0 || !strings.Contains(r.Stderr, "No such object: nosuchthing") {
		t.Errorf("inspect of nothing: %s", r)
	}
	if out := strings.TrimSpace(d.MustDocker("plugin", "ls", "-q")); out != "" {
		t.Errorf("plugin ls = %q", out)
	}
}

// TestDockerCompose1 drives Debian's docker-compose 1.29 (docker-py
// underneath): up, a recreate after a change (it reads the image's
// ContainerConfig), `run -T` with piped stdin, and down.
func TestDockerCompose1(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose not installed")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yml")
	write := func(cmd string) {
		body := "version: \"3\"\nservices:\n  app:\n    image: busybox\n    command: " + cmd + "\n  tool:\n    image: busybox\n    command: sh -c 'cat; echo after'\n    profiles: [tools]\n"
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := func(stdin string, args ...string) testenv.Result {
		return d.Run(strings.NewReader(stdin), 90*time.Second, "docker-compose", append([]string{"-f", file, "-p", "c1"}, args...)...)
	}
	write("sleep 1000")
	if r := compose("", "up", "-d"); r.Code != 0 {
		t.Fatalf("up: %s", r)
	}
	write("sleep 999")
	if r := compose("", "up", "-d"); r.Code != 0 || !strings.Contains(r.Stderr, "Recreating") {
		t.Fatalf("up after a change (recreate): %s", r)
	}
	if cmd := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{join .Config.Cmd \" \"}}", "c1_app_1")); cmd != "sleep 999" {
		t.Errorf("recreated container runs %q", cmd)
	}
	if r := compose("x\n", "run", "--rm", "-T", "tool"); r.Code != 0 || r.Stdout != "x\nafter\n" {
		t.Errorf("run -T with piped stdin: %s", r)
	}
	if r := compose("", "down"); r.Code != 0 {
		t.Fatalf("down: %s", r)
	}
	if out := strings.TrimSpace(d.MustDocker("ps", "-aq")); out != "" {
		t.Errorf("containers left after down: %s", out)
	}
}

// TestRunFlagsHonouredOrRefused: every run flag either works or is
// refused with a clear error — none is accepted and dropped.
func TestRunFlagsHonouredOrRefused(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	d.MustDocker("run", "-d", "--name", "base", "busybox", "sleep", "1000")

	host, _ := os.Hostname()
	honoured := []struct {
		args []string
		want string
	}{
		{[]string{"--oom-score-adj", "321", "busybox", "cat", "/proc/self/oom_score_adj"}, "321"},
		{[]string{"--uts", "host", "busybox", "hostname"}, host},
		{[]string{"--pid", "host", "busybox", "sh", "-c", "test $$ != 1 && test -d /proc/1 && echo host-pids"}, "host-pids"},
		{[]string{"busybox", "sh", "-c", "echo $$"}, "1"},
		{[]string{"--ipc", "private", "--cgroupns", "host", "busybox", "echo", "ok"}, "ok"},
		{[]string{"--platform", "linux/" + goruntime.GOARCH, "busybox", "echo", "ok"}, "ok"},
	}
	for _, h := range honoured {
		r := d.Docker(append([]string{"run", "--rm"}, h.args...)...)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != h.want {
			t.Errorf("run %v: want %q, got %s", h.args, h.want, r)
		}
	}

	refused := []struct {
		flags []string
		msg   string
	}{
		{[]string{"--init"}, "--init is not supported by berth"},
		{[]string{"--link", "base:b"}, "--link is not supported by berth"},
		{[]string{"--volumes-from", "base"}, "--volumes-from is not supported by berth"},
		{[]string{"--pid", "container:base"}, "--pid container:base is not supported"},
		{[]string{"--ipc", "host"}, "--ipc host is not supported"},
		{[]string{"--ipc", "shareable"}, "--ipc shareable is not supported"},
		{[]string{"--device", "/dev/null:/dev/xnull"}, "--device is not supported"},
		{[]string{"--mac-address", "02:42:ac:11:00:99"}, "--mac-address is not supported"},
		{[]string{"--cgroupns", "private"}, "--cgroupns private"},
		{[]string{"--gpus", "all"}, `could not select device driver "" with capabilities: [[gpu]]`},
		{[]string{"--storage-opt", "size=1G"}, "--storage-opt is not supported"},
		{[]string{"--blkio-weight", "100"}, "--blkio-weight is not supported"},
		{[]string{"--device-read-bps", "/dev/sda:1mb"}, "--device-read-bps is not supported"},
		{[]string{"--oom-score-adj", "5000"}, "range for oom score adj is [-1000, 1000]"},
		{[]string{"--uts", "host", "--hostname", "h1"}, "Conflicting options: hostname and the UTS mode"},
		{[]string{"--platform", "linux/s390x"}, "does not match the specified platform: wanted linux/s390x, actual: linux/" + goruntime.GOARCH},
	}
	for _, c := range refused {
		r := d.Docker(append(append([]string{"run", "--rm"}, c.flags...), "busybox", "true")...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.msg) {
			t.Errorf("run %v: want a refusal with %q, got %s", c.flags, c.msg, r)
		}
	}
	// Refused at create: nothing is left behind.
	if out := strings.TrimSpace(d.MustDocker("ps", "-aq")); strings.Count(out, "\n") != 0 {
		t.Errorf("containers left by refused runs:\n%s", out)
	}
}
