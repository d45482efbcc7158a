package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device cgroup manager
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // runc init's namespace setup
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init() // does not return
	}
	os.Exit(m.Run())
}

// busyboxRootfs builds a minimal rootfs from the host's static busybox.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("needs /bin/busybox")
	}
	dir := testRootfs(t)
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "id", "mount", "echo", "ls", "hostname"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run starts the spec under libcontainer and returns the process' output.
func run(t *testing.T, o Options) string {
	t.Helper()
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if !seccomp.Enabled {
		s.Linux.Seccomp = nil // built without -tags seccomp
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: o.ID, Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	c, err := libcontainer.Create(t.TempDir(), o.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("destroy: %v", err)
		}
	}()
	var out bytes.Buffer
	p := &libcontainer.Process{
		Args: s.Process.Args, Env: s.Process.Env, Cwd: s.Process.Cwd,
		UID: int(s.Process.User.UID), GID: int(s.Process.User.GID),
		Stdout: &out, Stderr: &out, Init: true,
	}
	for _, g := range s.Process.User.AdditionalGids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	if err := c.Run(p); err != nil {
		t.Fatalf("run: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Wait(); done <- err }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.Signal(os.Kill)
		<-done
		t.Fatal("container did not exit")
	}
	return out.String()
}

// TestRunsUnderLibcontainer starts real containers from generated specs
// and checks the security defaults from inside.
func TestRunsUnderLibcontainer(t *testing.T) {
	root := busyboxRootfs(t)
	script := `echo uid=$(id -u); ` +
		`mount -t tmpfs x /tmp 2>/dev/null && echo mount=ok || echo mount=denied; ` +
		`echo 1 2>/dev/null >/proc/sys/kernel/domainname && echo procsys=rw || echo procsys=ro; ` +
		`echo kcore=$(cat /proc/kcore 2>/dev/null | head -c 1 | wc -c); ` +
		`echo x >/dev/null && echo devnull=ok; ` +
		`echo host=$(hostname); echo nofile=$(ulimit -n); ` +
		`echo seccomp=$(while read k v; do [ "$k" = Seccomp: ] && echo $v; done </proc/self/status)`
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"default", Options{}, []string{"uid=0", "mount=denied", "procsys=ro", "kcore=0", "devnull=ok", "host=e2e"}},
		{"privileged", Options{Privileged: true}, []string{"uid=0", "mount=ok", "procsys=rw", "devnull=ok"}},
		{"cap sys_admin", Options{CapAdd: []string{"SYS_ADMIN"}}, []string{"uid=0", "mount=ok", "procsys=ro"}},
		{"user", Options{User: "web", ReadonlyRootfs: true, Memory: 64 << 20, PidsLimit: new(int64(50))}, []string{"uid=33", "mount=denied", "devnull=ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.ID = fmt.Sprintf("spec-e2e-%d", time.Now().UnixNano())
			o.Hostname, o.Rootfs, o.CgroupsPath = "e2e", root, "berth-spec-test/"+o.ID
			o.Args = []string{"sh", "-c", script}
			out := run(t, o)
			mode := "seccomp=0"
			if seccomp.Enabled && !o.Privileged {
				mode = "seccomp=2"
			}
			tc.want = append(tc.want, mode, fmt.Sprintf("nofile=%d", nofile()))
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth-spec-test")
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}
