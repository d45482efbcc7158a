// Package testenv gives tests what they need to drive a real berth: the
// busybox test image (a rootfs made from Debian's busybox-static), the
// berth binary, throw-away daemons on temporary --data-root, --exec-root
// and sockets, and a leak check run when each test ends (mounts, cgroups,
// processes).
package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BusyboxPath is Debian's static busybox (package busybox-static).
const BusyboxPath = "/bin/busybox"

// WriteBusyboxRootfs writes a rootfs tar: /bin/busybox with a symlink per
// applet, /etc/passwd and /etc/group (root, nobody, user 1000), /tmp, /root.
func WriteBusyboxRootfs(w io.Writer) error {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("read %s (apt-get install busybox-static): %w", BusyboxPath, err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	mtime := time.Unix(1700000000, 0)
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin", 0o755}, {"etc", 0o755}, {"tmp", 0o1777}, {"root", 0o700}, {"home", 0o755}, {"usr", 0o755}, {"var", 0o755}} {
		if err := dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return err
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group := "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return err
	}
	return tw.Close()
}

// BusyboxRootfsTar writes the rootfs tar to a temp file and returns its path.
func BusyboxRootfsTar(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteBusyboxRootfs(f); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// Binary returns the berth binary: $BERTH_BINARY, or one built once per
// test process.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BERTH_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "berth-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "berth")
		cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", builtPath, "./cmd/berth")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build berth: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// RequireRoot skips a test that needs root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, mounts, cgroups)")
	}
}

// Daemon is a throw-away berth daemon.
type Daemon struct {
	t            testing.TB
	bin          string
	Dir          string // holds everything: data, exec, socket, log
	DataRoot     string
	ExecRoot     string
	Socket       string
	CgroupParent string
	// Bridge is the daemon's default bridge (--bridge), unique per daemon.
	Bridge  string
	LogPath string
	// Args are extra daemon flags, used by every (re)start.
	Args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StartDaemon starts a daemon on temporary dirs; it is stopped, its
// containers removed and leaks checked when the test ends.
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	return StartDaemonArgs(t)
}

// StartDaemonArgs is StartDaemon with extra `berth daemon` flags.
func StartDaemonArgs(t testing.TB, args ...string) *Daemon {
	t.Helper()
	RequireRoot(t)
	bin := Binary(t)
	dir, err := os.MkdirTemp("/tmp", "berth-test-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		t: t, bin: bin, Dir: dir,
		DataRoot: filepath.Join(dir, "data"), ExecRoot: filepath.Join(dir, "exec"),
		Socket: filepath.Join(dir, "s.sock"), CgroupParent: "berth-test-" + randHex(4),
		Bridge:  "bt" + randHex(5),
		LogPath: filepath.Join(dir, "daemon.log"),
		Args:    args,
	}
	t.Cleanup(d.cleanup)
	d.start()
	return d
}

func (d *Daemon) start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	args := append([]string{"daemon", "--host", d.Host(), "--data-root", d.DataRoot,
		"--exec-root", d.ExecRoot, "--cgroup-parent", d.CgroupParent, "--bridge", d.Bridge, "--debug"}, d.Args...)
	d.cmd = exec.Command(d.bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	logf.Close()
	d.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { _ = cmd.Wait(); close(ch) }(d.cmd, d.exited)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if d.ping() {
			// The API gives root on the host: never world-accessible.
			if fi, err := os.Stat(d.Socket); err != nil || fi.Mode().Perm()&0o007 != 0 {
				d.t.Fatalf("daemon socket %s: mode %v (%v), want no access for others", d.Socket, fi.Mode(), err)
			}
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("daemon exited at start:\n%s", d.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.t.Fatalf("daemon did not answer /_ping:\n%s", d.Log())
}

func (d *Daemon) ping() bool {
	c := d.HTTPClient()
	resp, err := c.Get("http://berth/_ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// HTTPClient talks to the daemon's socket.
func (d *Daemon) HTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Socket)
		},
	}}
}

// Bin is the berth binary under test.
func (d *Daemon) Bin() string { return d.bin }

// Host is the daemon address for DOCKER_HOST / BERTH_HOST.
func (d *Daemon) Host() string { return "unix://" + d.Socket }

// Log returns the daemon's log.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.LogPath)
	return string(b)
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
}

// Run runs a command with a timeout and the daemon's address in its env.
func (d *Daemon) Run(stdin io.Reader, timeout time.Duration, name string, args ...string) Result {
	return d.RunEnv(nil, stdin, timeout, name, args...)
}

// RunEnv is Run with env (KEY=VALUE) added last, so it can override the
// daemon's address (DOCKER_HOST=tcp://…, DOCKER_TLS_VERIFY…).
func (d *Daemon) RunEnv(env []string, stdin io.Reader, timeout time.Duration, name string, args ...string) Result {
	base := []string{"DOCKER_HOST=" + d.Host(), "BERTH_HOST=" + d.Host(), "DOCKER_CONFIG=" + filepath.Join(d.Dir, "docker-config")}
	return runCommand(append(base, env...), stdin, timeout, name, args...)
}

// runCommand runs a program with env on top of the test's environment
// and collects its outputs and exit code.
func runCommand(env []string, stdin io.Reader, timeout time.Duration, name string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, stdin
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		r.Code = -1
		r.Stderr += err.Error()
	}
	if ctx.Err() != nil {
		r.Stderr += fmt.Sprintf("\n(timed out after %s)", timeout)
	}
	return r
}

// Docker runs the real docker CLI against the daemon.
func (d *Daemon) Docker(args ...string) Result {
	return d.Run(nil, 60*time.Second, "docker", args...)
}

// Berth runs the berth CLI against the daemon.
func (d *Daemon) Berth(args ...string) Result {
	return d.Run(nil, 60*time.Second, d.bin, args...)
}

// MustDocker runs docker and fails the test on a non-zero exit.
func (d *Daemon) MustDocker(args ...string) string {
	d.t.Helper()
	r := d.Docker(args...)
	if r.Code != 0 {
		d.t.Fatalf("docker %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// MustBerth runs berth and fails the test on a non-zero exit.
func (d *Daemon) MustBerth(args ...string) string {
	d.t.Helper()
	r := d.Berth(args...)
	if r.Code != 0 {
		d.t.Fatalf("berth %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// ImportBusybox imports the busybox rootfs as ref.
func (d *Daemon) ImportBusybox(ref string) {
	d.t.Helper()
	d.MustDocker("import", BusyboxRootfsTar(d.t), ref)
}

// Kill9 SIGKILLs the daemon (containers keep running).
func (d *Daemon) Kill9() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// Stop stops the daemon with SIGTERM.
func (d *Daemon) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
	}
}

// Restart starts a new daemon on the same dirs.
func (d *Daemon) Restart() {
	d.t.Helper()
	select {
	case <-d.exited:
	default:
		d.Stop()
	}
	d.start()
}

// bridges lists the bridge links of the daemon's networks.
func (d *Daemon) bridges() []string {
	out := []string{d.Bridge}
	ids := strings.Fields(d.Docker("network", "ls", "-q", "--no-trunc", "--filter", "type=custom").Stdout)
	for _, id := range ids {
		r := d.Docker("network", "inspect", "-f", `{{.Driver}} {{index .Options "com.docker.network.bridge.name"}}`, id)
		driver, name, _ := strings.Cut(strings.TrimSpace(r.Stdout), " ")
		if driver == "overlay" {
			name = "ov-" + id[:12] // a swarm network realised here
		} else if name == "" || strings.Contains(name, "no value") {
			name = "br-" + id[:12]
		}
		out = append(out, name)
	}
	return out
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func (d *Daemon) cleanup() {
	failed := d.t.Failed()
	if failed {
		if stacks := d.DumpStacks(); stacks != "" {
			d.t.Logf("daemon goroutines in berth code:\n%s", stacks)
		}
		d.t.Logf("daemon log (%s), without api request lines:\n%s", d.LogPath, tail(withoutRequests(d.Log()), 80))
	}
	select {
	case <-d.exited:
		if d.ping() {
			break
		}
		// Start one to clean up after a killed daemon's containers.
		d.start()
	default:
	}
	// The links of every network, swarm ones included, must be gone
	// once the daemon has stopped.
	bridges := d.bridges()
	// Leave a swarm first, or its tasks would be replaced while being
	// removed.
	d.Docker("swarm", "leave", "--force")
	if ids := strings.Fields(d.Docker("ps", "-aq").Stdout); len(ids) > 0 {
		d.Docker(append([]string{"rm", "-f"}, ids...)...)
	}
	bridges = append(bridges, d.bridges()...)
	d.Stop()
	checkNetworkLeaks(d.t, d.Bridge, bridges)
	// Check first, then clean up whatever was left: a leak is reported,
	// never hidden.
	CheckLeaks(d.t, d)
	if !failed && d.t.Failed() {
		d.t.Logf("daemon log (%s):\n%s", d.LogPath, tail(d.Log(), 60))
	}
	killProcessesMentioning(d.ExecRoot)
	unmountUnder(d.Dir)
	_ = os.RemoveAll(d.Dir)
	removeCgroups(d.CgroupParent)
}

// DumpStacks asks a running daemon for its goroutine stacks (SIGUSR1)
// and returns those that run berth code, or "" if it cannot.
func (d *Daemon) DumpStacks() string {
	select {
	case <-d.exited:
		return ""
	default:
	}
	before, _ := filepath.Glob(filepath.Join(d.ExecRoot, "goroutine-stacks-*.log"))
	if d.cmd == nil || d.cmd.Process.Signal(syscall.SIGUSR1) != nil {
		return ""
	}
	for i := 0; i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		after, _ := filepath.Glob(filepath.Join(d.ExecRoot, "goroutine-stacks-*.log"))
		if len(after) > len(before) {
			b, _ := os.ReadFile(after[len(after)-1])
			var keep []string
			for _, g := range strings.Split(string(b), "\n\n") {
				if strings.Contains(g, "berth-project/berth/") {
					keep = append(keep, g)
				}
			}
			return strings.Join(keep, "\n\n")
		}
	}
	return ""
}

// withoutRequests drops the per-request debug lines that polling fills a
// log with.
func withoutRequests(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="api request"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
