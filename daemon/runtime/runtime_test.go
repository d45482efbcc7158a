package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/shim"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	if h := os.Getenv("BERTH_RT_HELPER"); h != "" {
		os.Exit(daemonHelper(h))
	}
	os.Exit(m.Run())
}

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("needs /bin/busybox")
	}
}

// makeRootfs builds a busybox rootfs in a temp dir.
func makeRootfs(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, a := range []string{"sh", "echo", "sleep", "cat", "true", "false", "id", "hostname", "ls", "tty", "stty", "head", "tr"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

var idSeq struct {
	sync.Mutex
	n int
}

func newID() string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("rt%d%016x", idSeq.n, time.Now().UnixNano())
}

func minimalSpec(rootfs, id string, tty bool, args ...string) *specs.Spec {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"}
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{
			Terminal: tty,
			Args:     args,
			Env:      []string{"PATH=/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "box",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: "berth-test/" + id,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
}

type env struct {
	root   string
	rootfs string
	logs   string
	rt     *runtime.Runtime
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	requireRoot(tb)
	e := &env{root: tb.TempDir(), rootfs: makeRootfs(tb), logs: tb.TempDir()}
	e.rt = e.open(tb)
	return e
}

func (e *env) open(tb testing.TB) *runtime.Runtime {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := runtime.New(e.root, slog.New(slog.NewTextHandler(io.Discard, nil)), runtime.WithExecutable(exe))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rt.Close)
	return rt
}

func (e *env) start(tb testing.TB, o runtime.StartOptions, tty bool, args ...string) *runtime.Task {
	tb.Helper()
	if o.ID == "" {
		o.ID = newID()
	}
	if o.Spec == nil {
		o.Spec = minimalSpec(e.rootfs, o.ID, tty, args...)
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Join(e.logs, o.ID+"-json.log")
	}
	task, err := e.rt.Start(context.Background(), o)
	if err != nil {
		tb.Fatalf("start %v: %v", args, err)
	}
	tb.Cleanup(func() { cleanupTask(tb, task, o.Spec.Linux.CgroupsPath) })
	return task
}

// cleanupTask kills and deletes the task and checks nothing is left.
func cleanupTask(tb testing.TB, task *runtime.Task, cgPath string) {
	_ = task.Signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = task.Wait(ctx)
	if err := task.Delete(ctx); err != nil {
		tb.Errorf("delete: %v", err)
	}
	for _, sub := range []string{"memory", "pids", "freezer", "cpu"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", sub, cgPath)); err == nil {
			tb.Errorf("cgroup %s/%s left behind", sub, cgPath)
		}
	}
	if pid := task.Pid(); pid > 0 {
		if err := syscall.Kill(pid, 0); err == nil {
			tb.Errorf("process %d still alive", pid)
		}
	}
	for _, sub := range []string{"memory", "pids", "freezer", "cpu", "cpuacct", "cpuset", "devices", "blkio", "systemd"} {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", sub, "berth-test"))
	}
}

func wait(tb testing.TB, task *runtime.Task) runtime.ExitStatus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := task.Wait(ctx)
	if err != nil {
		tb.Fatalf("wait: %v", err)
	}
	return st
}

func TestRunEchoLog(t *testing.T) {
	e := newEnv(t)
	id := newID()
	task := e.start(t, runtime.StartOptions{ID: id}, false, "sh", "-c", "echo hi; echo oops >&2")
	st := wait(t, task)
	if st.Code != 0 || st.ExitedAt.IsZero() {
		t.Fatalf("status = %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(e.logs, id+"-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"log":"hi\n","stream":"stdout"`) || !strings.Contains(string(b), `"log":"oops\n","stream":"stderr"`) {
		t.Fatalf("log = %s", b)
	}
	ids, err := e.rt.List()
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("List = %v, %v", ids, err)
	}
}

func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		sig  syscall.Signal
		want int
	}{
		{[]string{"sh", "-c", "exit 3"}, 0, 3},
		{[]string{"false"}, 0, 1},
		// PID 1 ignores signals it has no handler for (as in Docker), so
		// SIGTERM goes to a child and the shell reports 128+15.
		{[]string{"sh", "-c", "sleep 100; exit $?"}, syscall.SIGTERM, 143},
		{[]string{"sleep", "100"}, syscall.SIGKILL, 137},
	} {
		t.Run(fmt.Sprint(tc.args, tc.sig), func(t *testing.T) {
			task := e.start(t, runtime.StartOptions{}, false, tc.args...)
			if tc.sig == syscall.SIGTERM {
				var pids []int
				eventually(t, "child", func() bool { pids, _ = task.Processes(); return len(pids) == 2 })
				for _, pid := range pids {
					if pid != task.Pid() {
						if err := syscall.Kill(pid, tc.sig); err != nil {
							t.Fatal(err)
						}
					}
				}
			} else if tc.sig != 0 {
				if err := task.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			if st := wait(t, task); st.Code != tc.want {
				t.Fatalf("code = %d, want %d", st.Code, tc.want)
			}
		})
	}
}

func TestStartNotFound(t *testing.T) {
	e := newEnv(t)
	id := newID()
	_, err := e.rt.Start(context.Background(), runtime.StartOptions{ID: id, Spec: minimalSpec(e.rootfs, id, false, "nope"), LogPath: filepath.Join(e.logs, "x.log")})
	if err == nil || !strings.Contains(err.Error(), `exec: "nope": executable file not found in $PATH`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		t.Fatalf("runtime dir left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/berth-test", id)); err == nil {
		t.Fatal("cgroup left behind")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAttachOutput(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{}, false, "sh", "-c", "sleep 0.5; echo out; echo err >&2")
	var out, errb syncBuf
	if err := task.Attach(context.Background(), runtime.AttachStreams{Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out\n" || errb.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	if st := wait(t, task); st.Code != 0 {
		t.Fatal(st)
	}
}

func TestStdinCat(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{OpenStdin: true, StdinOnce: true}, false, "cat")
	pr, pw := io.Pipe()
	var out syncBuf
	done := make(chan error, 1)
	go func() { done <- task.Attach(context.Background(), runtime.AttachStreams{Stdin: pr, Stdout: &out}) }()
	if _, err := pw.Write([]byte("hello cat\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "echo", func() bool { return out.String() == "hello cat\n" })
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := wait(t, task); st.Code != 0 {
		t.Fatal(st)
	}
}

func TestTTY(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{OpenStdin: true, ConsoleSize: &[2]uint{24, 80}}, true, "sh")
	pr, pw := io.Pipe()
	var out syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- task.Attach(ctx, runtime.AttachStreams{Stdin: pr, Stdout: &out}) }()
	fmt.Fprint(pw, "tty; stty size\n")
	eventually(t, "tty output", func() bool {
		s := out.String()
		return strings.Contains(s, "/dev/pts/0") && strings.Contains(s, "24 80")
	})
	if err := task.Resize(40, 120); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(pw, "stty size; exit 7\n")
	eventually(t, "resized", func() bool { return strings.Contains(out.String(), "40 120") })
	if st := wait(t, task); st.Code != 7 {
		t.Fatalf("code %d", st.Code)
	}
	pw.Close()
	<-done
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{}, false, "sleep", "100")
	var out, errb syncBuf
	p, err := task.Exec(context.Background(), runtime.ExecOptions{Args: []string{"sh", "-c", "echo hi; echo e >&2; hostname; exit 5"}, Env: []string{"PATH=/bin"}, Cwd: "/", Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 {
		t.Fatal("no pid")
	}
	code, err := p.Wait()
	if err != nil || code != 5 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	if out.String() != "hi\nbox\n" || errb.String() != "e\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	// stdin through exec
	var out2 syncBuf
	p, err = task.Exec(context.Background(), runtime.ExecOptions{Args: []string{"cat"}, Env: []string{"PATH=/bin"}, Cwd: "/", Stdin: strings.NewReader("piped\n"), Stdout: &out2})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 || out2.String() != "piped\n" {
		t.Fatalf("exec cat = %d %v %q", code, err, out2.String())
	}
	_, err = task.Exec(context.Background(), runtime.ExecOptions{Args: []string{"nope"}, Env: []string{"PATH=/bin"}, Cwd: "/"})
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("exec nope: %v", err)
	}
	pids, err := task.Processes()
	if err != nil || len(pids) != 1 || pids[0] != task.Pid() {
		t.Fatalf("Processes = %v, %v (pid %d)", pids, err, task.Pid())
	}
}

func TestRestore(t *testing.T) {
	e := newEnv(t)
	running := e.start(t, runtime.StartOptions{}, false, "sh", "-c", "while true; do echo tick; sleep 0.1; done")
	exiting := e.start(t, runtime.StartOptions{}, false, "sh", "-c", "sleep 0.3; exit 42")

	// A new Runtime over the same root is a restarted daemon.
	rt2 := e.open(t)
	ids, err := rt2.List()
	if err != nil || len(ids) != 2 {
		t.Fatalf("List = %v, %v", ids, err)
	}
	time.Sleep(600 * time.Millisecond) // exiting ends while "the daemon is down"
	t2, err := rt2.Restore(context.Background(), exiting.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st := wait(t, t2); st.Code != 42 {
		t.Fatalf("restored code %d", st.Code)
	}
	r2, err := rt2.Restore(context.Background(), running.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r2.Pid() != running.Pid() {
		t.Fatalf("pid %d != %d", r2.Pid(), running.Pid())
	}
	var out syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r2.Attach(ctx, runtime.AttachStreams{Stdout: &out}) }()
	eventually(t, "ticks", func() bool { return strings.Contains(out.String(), "tick\n") })
	cancel()
	<-done
	if err := r2.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, r2); st.Code != 137 {
		t.Fatalf("code %d", st.Code)
	}

	// Shim gone entirely (e.g. host crash after exit): recorded status.
	if _, err := rt2.Restore(context.Background(), "nosuch"); err == nil {
		t.Fatal("restore of unknown id succeeded")
	}
}

func TestPauseStats(t *testing.T) {
	e := newEnv(t)
	id := newID()
	spec := minimalSpec(e.rootfs, id, false, "sh", "-c", "while true; do echo x >/dev/null; done")
	limit := int64(64 << 20)
	spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	task := e.start(t, runtime.StartOptions{ID: id, Spec: spec}, false)
	if err := task.Pause(); err != nil {
		t.Fatal(err)
	}
	state, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer/berth-test", id, "freezer.state"))
	if strings.TrimSpace(string(state)) != "FROZEN" {
		t.Fatalf("freezer state %q", state)
	}
	if err := task.Resume(); err != nil {
		t.Fatal(err)
	}
	st, err := task.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryStats.Usage.Usage == 0 || st.MemoryStats.Usage.Limit != uint64(limit) {
		t.Fatalf("memory stats %+v", st.MemoryStats.Usage)
	}
	if st.PidsStats.Current == 0 {
		t.Fatalf("pids stats %+v", st.PidsStats)
	}
}

// TestSurvivesDaemonKill starts a container from a helper process (the
// "daemon"), SIGKILLs the helper, and restores the still-running task.
func TestSurvivesDaemonKill(t *testing.T) {
	e := newEnv(t)
	id := newID()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run", "^$")
	cmd.Env = append(os.Environ(), "BERTH_RT_HELPER="+e.root+":"+e.rootfs+":"+e.logs+":"+id)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 64)
	n, _ := out.Read(line)
	if !strings.HasPrefix(string(line[:n]), "started") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q", line[:n])
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	task, err := e.rt.Restore(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupTask(t, task, "berth-test/"+id) })
	if err := syscall.Kill(task.Pid(), 0); err != nil {
		t.Fatalf("container died with its daemon: %v", err)
	}
	if err := task.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, task); st.Code != 137 {
		t.Fatalf("code %d", st.Code)
	}
}

// daemonHelper is the "daemon" of TestSurvivesDaemonKill.
func daemonHelper(arg string) int {
	f := strings.Split(arg, ":")
	rt, err := runtime.New(f[0], slog.Default())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = rt.Start(context.Background(), runtime.StartOptions{ID: f[3], Spec: minimalSpec(f[1], f[3], false, "sleep", "100"), LogPath: filepath.Join(f[2], f[3]+".log")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started")
	time.Sleep(time.Minute)
	return 0
}

func BenchmarkRunTrue(b *testing.B) {
	e := newEnv(b)
	for b.Loop() {
		id := newID()
		task, err := e.rt.Start(context.Background(), runtime.StartOptions{ID: id, Spec: minimalSpec(e.rootfs, id, false, "true"), LogPath: filepath.Join(e.logs, id+".log")})
		if err != nil {
			b.Fatal(err)
		}
		if st := wait(b, task); st.Code != 0 {
			b.Fatal(st)
		}
		if err := task.Delete(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	for _, sub := range []string{"memory", "pids", "freezer", "cpu", "cpuacct", "cpuset", "devices", "blkio", "systemd"} {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", sub, "berth-test"))
	}
}

func TestDeleteRunningRefused(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{}, false, "sleep", "100")
	err := task.Delete(context.Background())
	if !errdefs.IsConflict(err) {
		t.Fatalf("delete of running task: %v", err)
	}
	if err := syscall.Kill(task.Pid(), 0); err != nil {
		t.Fatal("delete killed the running task")
	}
}

func TestOOMKilled(t *testing.T) {
	e := newEnv(t)
	id := newID()
	spec := minimalSpec(e.rootfs, id, false, "sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived`)
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/dev/zero", Type: "bind", Source: "/dev/zero", Options: []string{"bind"}})
	limit := int64(48 << 20)
	spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	task := e.start(t, runtime.StartOptions{ID: id, Spec: spec}, false)
	st := wait(t, task)
	if !st.OOMKilled {
		t.Fatalf("status %+v, want OOMKilled", st)
	}
}

// TestAttachBeforeStart: an attach wired in through StartOptions sees
// output written the moment the process starts.
func TestAttachBeforeStart(t *testing.T) {
	e := newEnv(t)
	var out, errb syncBuf
	done := make(chan error, 1)
	task := e.start(t, runtime.StartOptions{Attach: &runtime.AttachStreams{Stdout: &out, Stderr: &errb, Done: done}}, false, "sh", "-c", "echo early; echo bad >&2; exit 2")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach session did not end")
	}
	if out.String() != "early\n" || errb.String() != "bad\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	if st := wait(t, task); st.Code != 2 {
		t.Fatalf("code %d", st.Code)
	}
}

// shimsUnder lists the live processes (shims) whose command line names
// root; zombies, gone but not yet reaped, are not counted.
func shimsUnder(root string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), root) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i:]), ") Z") {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// requireNoShims fails unless every shim under the runtime's root exits
// within a few seconds (the standby is stopped first).
func (e *env) requireNoShims(t *testing.T, why string) {
	t.Helper()
	e.rt.Close()
	deadline := time.Now().Add(5 * time.Second)
	p := shimsUnder(e.root)
	for ; len(p) > 0 && time.Now().Before(deadline); p = shimsUnder(e.root) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(p) > 0 {
		for _, pid := range p {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Fatalf("%s: shim processes %v still running", why, p)
	}
}

// TestStartFailureEndsShim: when Start gives up after the shim created the
// container (here: its context is cancelled), the shim is not left behind
// serving a container no one knows of.
func TestStartFailureEndsShim(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beforeStart bool // cancel ctx before Start, else when output arrives
	}{
		{name: "cancelled before start", beforeStart: true},
		{name: "cancelled while running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := newID()
			spec := minimalSpec(e.rootfs, id, false, "sh", "-c", "echo started; sleep 60")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.beforeStart {
				cancel()
			}
			out := &cancelOnWrite{cancel: cancel}
			task, err := e.rt.Start(ctx, runtime.StartOptions{ID: id, Spec: spec, LogPath: filepath.Join(e.logs, id+"-json.log"),
				Attach: &runtime.AttachStreams{Stdout: out, Stderr: io.Discard}})
			if err == nil {
				// The start reply beat the cancellation: an ordinary task.
				cleanupTask(t, task, spec.Linux.CgroupsPath)
			} else if tc.beforeStart && !errors.Is(err, context.Canceled) {
				t.Fatalf("start: %v, want context canceled", err)
			}
			e.requireNoShims(t, "after a failed start")
			if _, err := libcontainer.Load(filepath.Join(e.root, "lc"), id); err == nil {
				t.Fatal("libcontainer state left behind")
			}
			for _, sub := range []string{"memory", "pids"} {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", sub, spec.Linux.CgroupsPath)); err == nil {
					t.Errorf("cgroup %s/%s left behind", sub, spec.Linux.CgroupsPath)
				}
			}
		})
	}
}

type cancelOnWrite struct{ cancel func() }

func (c *cancelOnWrite) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }

// TestShimExitsOnceForgotten: a shim whose container the runtime forgot
// without a delete reaching it (a lost Delete, a removal after one was
// refused) exits once its container has, and destroys what the runtime
// could not while the process was alive.
func TestShimExitsOnceForgotten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		exited bool // wait for the exit before forgetting
	}{
		{name: "exited", args: []string{"true"}, exited: true},
		{name: "running", args: []string{"sleep", "100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := newID()
			spec := minimalSpec(e.rootfs, id, false, tc.args...)
			task := e.start(t, runtime.StartOptions{ID: id, Spec: spec}, false)
			if tc.exited {
				wait(t, task)
			}
			e.rt.Forget(id)
			e.requireNoShims(t, "after Forget")
			if _, err := libcontainer.Load(filepath.Join(e.root, "lc"), id); err == nil {
				t.Fatal("libcontainer state left behind")
			}
			if err := syscall.Kill(task.Pid(), 0); err == nil {
				t.Fatalf("container process %d still alive", task.Pid())
			}
		})
	}
}

// TestShimWithSocketStays: a shim whose container exited while no one
// asked keeps running for a (restarted) daemon to collect the status.
func TestShimWithSocketStays(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, runtime.StartOptions{}, false, "true")
	wait(t, task)
	e.rt.Close()
	time.Sleep(time.Second)
	if len(shimsUnder(e.root)) == 0 {
		t.Fatal("the shim of an exited, undeleted container went away")
	}
}
