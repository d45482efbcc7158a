package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berth-project/berth/internal/testenv"
)

// sshHost is a stand-in for a real host reached over SSH: Debian's sshd
// in a network namespace of its own (a veth to this host, 10.213.0.0/24)
// and a mount namespace where /var/lib/berth and /run (a tmpfs, so no
// /run/systemd: the driver's non-systemd path) are the test's.
type sshHost struct {
	t      *testing.T
	NS     string
	IP     string
	Key    string // the client's private key, authorized for root
	dir    string
	lib    string // the host's /var/lib/berth
	hostIf string
	sshd   *exec.Cmd
	exited chan struct{}
	made   []string // mount points made on this host, removed at the end
}

// writeKey writes a new ed25519 private key (OpenSSH format) and returns
// its public key.
func writeKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "berth-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func startSSHHost(t *testing.T) *sshHost {
	t.Helper()
	testenv.RequireRoot(t)
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("needs Debian's openssh-server (/usr/sbin/sshd)")
	}
	dir, err := os.MkdirTemp("/tmp", "berth-sshhost-")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	h := &sshHost{t: t, NS: "berth-ssh-" + id, IP: "10.213.0.2", Key: filepath.Join(dir, "id_client"), dir: dir,
		lib: filepath.Join(dir, "lib"), hostIf: "vs" + id}
	t.Cleanup(h.cleanup)
	for _, d := range []string{h.lib, filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeKey(t, filepath.Join(dir, "host_key"))
	pub := writeKey(t, h.Key)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`Port 22
ListenAddress 0.0.0.0
HostKey %[1]s/host_key
AuthorizedKeysFile %[1]s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile none
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", h.NS)
	run("link", "add", h.hostIf, "type", "veth", "peer", "name", "vsi"+id, "netns", h.NS)
	run("addr", "add", "10.213.0.1/24", "dev", h.hostIf)
	run("link", "set", h.hostIf, "up")
	run("-n", h.NS, "addr", "add", h.IP+"/24", "dev", "vsi"+id)
	run("-n", h.NS, "link", "set", "vsi"+id, "up")
	run("-n", h.NS, "link", "set", "lo", "up")
	run("-n", h.NS, "route", "add", "default", "via", "10.213.0.1")
	// The bind needs its mount point on this host.
	if _, err := os.Stat("/var/lib/berth"); os.IsNotExist(err) {
		if err := os.MkdirAll("/var/lib/berth", 0o711); err != nil {
			t.Fatal(err)
		}
		h.made = append(h.made, "/var/lib/berth")
	}
	script := fmt.Sprintf(`set -e
mount --bind %[1]s/lib /var/lib/berth
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/berth /run/sshd
mount --bind %[1]s/run /run/berth
exec /usr/sbin/sshd -D -e -f %[1]s/sshd_config`, dir)
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// nsenter, not `ip netns exec`: that one mounts a new /sys, without
	// the cgroup file systems the host's daemon needs.
	h.sshd = exec.Command("nsenter", "--net=/run/netns/"+h.NS, "--", "unshare", "-m", "--propagation", "private", "sh", "-c", script)
	h.sshd.Stdout, h.sshd.Stderr = logf, logf
	h.sshd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := h.sshd.Start(); err != nil {
		t.Fatal(err)
	}
	h.exited = make(chan struct{})
	go func() { _ = h.sshd.Wait(); close(h.exited) }()
	testenv.Eventually(t, 10*time.Second, "sshd answers on "+h.IP+":22", func() bool {
		c, err := net.DialTimeout("tcp", h.IP+":22", 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return h
}

// pids is the processes in the host's network namespace but sshd's
// listener.
func (h *sshHost) pids() []string {
	out, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
	var left []string
	for _, p := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(p)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		c := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		if strings.Contains(c, "[listener]") || strings.HasPrefix(c, "/usr/sbin/sshd -D") || c == "" {
			continue
		}
		left = append(left, p+" "+c)
	}
	return left
}

func (h *sshHost) cleanup() {
	t := h.t
	if h.sshd != nil && h.sshd.Process != nil {
		_ = syscall.Kill(-h.sshd.Process.Pid, syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-h.sshd.Process.Pid, syscall.SIGKILL)
			<-h.exited
		}
	}
	if left := h.pids(); len(left) > 0 {
		t.Errorf("processes left in the ssh host's namespace:\n%s", strings.Join(left, "\n"))
		out, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
		for _, p := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(p)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = exec.Command("ip", "link", "del", h.hostIf).Run()
	_ = exec.Command("ip", "netns", "del", h.NS).Run()
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), h.NS) {
		t.Errorf("network namespace %s left", h.NS)
	}
	if _, err := net.InterfaceByName(h.hostIf); err == nil {
		t.Errorf("veth %s left", h.hostIf)
	}
	testenv.Eventually(t, 5*time.Second, "no process mentions "+h.dir, func() bool {
		out, _ := exec.Command("pgrep", "-f", h.dir).Output()
		return strings.TrimSpace(string(out)) == ""
	})
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), h.dir) {
		t.Errorf("mounts of %s left", h.dir)
	}
	for _, d := range h.made {
		_ = os.Remove(d)
	}
	_ = os.RemoveAll(h.dir)
}

// TestMachineSSH covers the ssh driver against a real sshd: create (TOFU
// host key, berth and certs copied, daemon started without systemd), ls,
// ssh, env with the docker CLI over TLS, containers, a changed host key,
// a rejected key, stop/start, a swarm with a local machine, and rm.
func TestMachineSSHDriver(t *testing.T) {
	h := startSSHHost(t) // its cleanup runs after the store's (machine rm)
	ms := testenv.NewMachines(t)
	cgroup := "berth-test-ssh-" + h.NS[len("berth-ssh-"):]
	out := ms.MustMachine("create", "--driver", "ssh", "--ssh-host", h.IP, "--ssh-key", h.Key, "--engine-opt", "cgroup-parent="+cgroup, "node1")
	for _, want := range []string{"Detecting operating system of created instance...", "Provisioning with debian...", "Docker is up and running!"} {
		if !strings.Contains(out, want) {
			t.Errorf("create printed no %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"known_hosts", "id_rsa", "ca.pem", "cert.pem", "key.pem", "server.pem", "server-key.pem", "config.json"} {
		if _, err := os.Stat(filepath.Join(ms.Store, "node1", f)); err != nil {
			t.Errorf("machine directory: %v", err)
		}
	}
	for _, f := range []string{"bin/berth", "bin/berth-shim", "certs/ca.pem", "certs/server.pem", "certs/server-key.pem", "machine.sh", "machine.id"} {
		if _, err := os.Stat(filepath.Join(h.lib, f)); err != nil {
			t.Errorf("installed on the host: %v", err)
		}
	}
	url := "tcp://" + h.IP + ":2376"
	if out := ms.MustMachine("ls"); !regexp.MustCompile(`(?m)^node1\s+-\s+ssh\s+Running\s+` + regexp.QuoteMeta(url) + `\s+v`).MatchString(out) {
		t.Errorf("machine ls:\n%s", out)
	}
	if ip := strings.TrimSpace(ms.MustMachine("ip", "node1")); ip != h.IP {
		t.Errorf("machine ip: %q", ip)
	}
	if out := ms.MustMachine("ssh", "node1", "docker", "info", "--format", "'{{.Name}}'"); strings.TrimSpace(out) == "" {
		t.Errorf("machine ssh docker info printed nothing")
	}
	if out := ms.MustMachine("ssh", "node1", "command -v berth; echo $DOCKER_HOST"); out != "/var/lib/berth/bin/berth\nunix:///run/berth/berth.sock\n" {
		t.Errorf("machine ssh environment:\n%s", out)
	}
	if r := ms.Machine("ssh", "node1", "exit 7"); r.Code != 7 {
		t.Errorf("machine ssh exit code: %s", r)
	}
	if r := ms.Run(strings.NewReader("echo from-stdin\n"), nil, "machine", "ssh", "node1", "cat"); r.Stdout != "echo from-stdin\n" {
		t.Errorf("machine ssh stdin: %s", r)
	}

	// The docker CLI over TLS, as after eval $(berth machine env node1).
	env := envOf(t, ms.MustMachine("env", "node1"))
	if r := ms.Exec(nil, env, "docker", "version", "--format", "{{.Server.Version}}"); r.Code != 0 || strings.TrimSpace(r.Stdout) == "" {
		t.Fatalf("docker version over TLS: %s", r)
	}
	if r := ms.Exec(nil, env, "docker", "import", testenv.BusyboxRootfsTar(t), "busybox"); r.Code != 0 {
		t.Fatalf("docker import over TLS: %s", r)
	}
	if r := ms.Exec(nil, env, "docker", "run", "--rm", "busybox", "echo", "hi"); r.Code != 0 || r.Stdout != "hi\n" {
		t.Errorf("docker run on the ssh machine: %s", r)
	}

	// A host key other than the recorded one is refused.
	kh := filepath.Join(ms.Store, "node1", "known_hosts")
	orig, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	other := writeKey(t, filepath.Join(t.TempDir(), "other"))
	if err := os.WriteFile(kh, []byte(h.IP+" "+string(ssh.MarshalAuthorizedKey(other))), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := ms.Machine("ssh", "node1", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "host key of "+h.IP+":22 has changed") {
		t.Errorf("ssh with a changed host key: %s", r)
	}
	if err := os.WriteFile(kh, orig, 0o600); err != nil {
		t.Fatal(err)
	}

	// A key the host does not accept: a clear error, and nothing made.
	bad := filepath.Join(t.TempDir(), "id_bad")
	writeKey(t, bad)
	r := ms.Machine("create", "--driver", "ssh", "--ssh-host", h.IP, "--ssh-key", bad, "node2")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Error creating machine: Error detecting OS: ssh: handshake failed: ssh: unable to authenticate") {
		t.Errorf("create with a rejected key: %s", r)
	}
	if ms.Exists("node2") {
		t.Error("a failed create left its machine directory")
	}
	// A second machine on an installed host is refused, and leaves the
	// first one alone.
	r = ms.Machine("create", "--driver", "generic", "--ssh-host", h.IP, "--ssh-key", h.Key, "node3")
	if r.Code == 0 || !strings.Contains(r.Stderr, "berth is already installed on "+h.IP+" by machine node1") || ms.Exists("node3") {
		t.Errorf("create on a host node1 holds: %s", r)
	}
	if s := ms.MustMachine("status", "node1"); s != "Running\n" {
		t.Errorf("node1 after a refused create: %s", s)
	}

	ms.MustMachine("stop", "node1")
	if s := ms.MustMachine("status", "node1"); s != "Stopped\n" {
		t.Errorf("status after stop: %s", s)
	}
	testenv.Eventually(t, 10*time.Second, "no berth process on the host after stop", func() bool { return len(h.pids()) == 0 })
	ms.MustMachine("start", "node1")
	if s := ms.MustMachine("status", "node1"); s != "Running\n" {
		t.Errorf("status after start: %s", s)
	}
	if r := ms.Exec(nil, env, "docker", "images", "-q", "busybox"); r.Code != 0 || strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("the image after stop and start: %s", r)
	}

	// A swarm across drivers: a local machine's manager, node1 joins; this
	// host routes between the machine network and the ssh host's.
	ms.Create("lnode")
	lip := strings.TrimSpace(ms.MustMachine("ip", "lnode"))
	ms.MustMachine("ssh", "lnode", "docker swarm init --advertise-addr "+lip)
	token := strings.TrimSpace(ms.MustMachine("ssh", "lnode", "docker swarm join-token -q worker"))
	if out := ms.MustMachine("ssh", "node1", "docker swarm join --advertise-addr "+h.IP+" --token "+token+" "+lip+":2377"); strings.TrimSpace(out) != "This node joined a swarm as a worker." {
		t.Errorf("swarm join from the ssh machine: %s", out)
	}
	testenv.Eventually(t, 30*time.Second, "two ready nodes", func() bool {
		out := ms.MustMachine("ssh", "lnode", "docker node ls --format '{{.Status}}'")
		return out == "Ready\nReady\n"
	})
	ms.MustMachine("ssh", "node1", "docker swarm leave")
	ms.MustMachine("ssh", "lnode", "docker swarm leave --force")

	ms.MustMachine("rm", "-f", "-y", "node1")
	if ms.Exists("node1") {
		t.Error("rm left the machine directory")
	}
	testenv.Eventually(t, 10*time.Second, "no berth process on the ssh host", func() bool { return len(h.pids()) == 0 })
	for _, f := range []string{"bin", "certs", "machine.sh", "machine.id", "daemon.log"} {
		if _, err := os.Stat(filepath.Join(h.lib, f)); err == nil {
			t.Errorf("rm left %s on the host", f)
		}
	}
	if _, err := os.Stat(filepath.Join(h.lib, "meta.db")); err != nil {
		t.Errorf("rm took the daemon's data too: %v", err)
	}
	for _, hier := range []string{"/sys/fs/cgroup/" + cgroup, "/sys/fs/cgroup/memory/" + cgroup, "/sys/fs/cgroup/pids/" + cgroup} {
		if _, err := os.Stat(hier); err == nil {
			t.Errorf("rm left the cgroup %s", hier)
		}
	}
}
