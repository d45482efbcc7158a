package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// probeImage builds testdata/seccompprobe statically and puts it in an
// image on busybox as /probe.
func probeImage(t *testing.T, d *testenv.Daemon, ref string) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), "./testdata/seccompprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build seccompprobe: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY probe /probe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("build", "-q", "-t", ref, dir)
}

// probe runs /probe with the checks in a container started with runArgs
// and returns each check's result ("ok", "EPERM"…).
func probe(t *testing.T, d *testenv.Daemon, runArgs []string, checks ...string) map[string]string {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, runArgs...), "seccompprobe", "/probe")
	out := d.MustDocker(append(args, checks...)...)
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("probe output %q", out)
		}
		res[k] = v
	}
	return res
}

var allProbes = []string{
	"fork_exec", "clone_newuser", "clone_newns", "clone3", "unshare_newuser", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "socket_vsock", "socket_inet", "socket_unix",
	"personality_query", "personality_linux", "personality_norandomize", "pidfd_getfd",
	"process_madvise", "migrate_pages", "set_mempolicy_home_node", "mount_setattr",
	"fanotify_init", "vhangup", "keyctl", "getpid",
}

// notEPERM stands for any result but EPERM: what the kernel answers when
// the filter lets the call through varies with its arguments and config.
const notEPERM = "!EPERM"

func TestSeccompDefaultProfile(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	probeImage(t, d, "seccompprobe")
	ioUring := "ok"
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil && strings.TrimSpace(string(b)) != "0" {
		ioUring = "" // the host refuses io_uring itself: no expectation
	}

	tests := []struct {
		name    string
		runArgs []string
		want    map[string]string
	}{
		{"default", nil, map[string]string{
			"fork_exec": "ok", "socket_inet": "ok", "socket_unix": "ok", "personality_query": "ok",
			"personality_linux": "ok", "getpid": "ok",
			"clone_newuser": "EPERM", "clone_newns": "EPERM", "clone3": "ENOSYS", "unshare_newuser": "EPERM",
			"io_uring_setup": "EPERM", "io_uring_enter": "EPERM", "io_uring_register": "EPERM",
			"socket_vsock": "EPERM", "personality_norandomize": "EPERM", "pidfd_getfd": "EPERM",
			"process_madvise": "EPERM", "migrate_pages": "EPERM", "set_mempolicy_home_node": "EPERM",
			"mount_setattr": "EPERM", "fanotify_init": "EPERM", "vhangup": "EPERM", "keyctl": "EPERM",
		}},
		// The same calls without the filter: what the default run refused
		// with EPERM, the kernel itself would have let through (or failed
		// on the arguments).
		{"unconfined", []string{"--security-opt", "seccomp=unconfined"}, map[string]string{
			"fork_exec": "ok", "clone_newuser": "ok", "clone3": "EINVAL", "unshare_newuser": "EINVAL",
			"io_uring_setup": ioUring, "io_uring_enter": notEPERM, "io_uring_register": notEPERM,
			"socket_vsock": notEPERM, "personality_norandomize": "ok", "pidfd_getfd": "EBADF",
			"process_madvise": "EBADF", "migrate_pages": notEPERM, "set_mempolicy_home_node": notEPERM,
			"mount_setattr": notEPERM, "keyctl": notEPERM,
		}},
		// CAP_SYS_ADMIN lifts the namespace restrictions, nothing else.
		{"cap-add SYS_ADMIN", []string{"--cap-add", "SYS_ADMIN"}, map[string]string{
			"fork_exec": "ok", "clone_newuser": "ok", "clone_newns": "ok", "clone3": "EINVAL",
			"unshare_newuser": "EINVAL", "fanotify_init": "ok", "mount_setattr": notEPERM,
			"io_uring_setup": "EPERM", "pidfd_getfd": "EPERM", "vhangup": "EPERM", "keyctl": "EPERM",
			"personality_norandomize": "EPERM",
		}},
		{"cap-add SYS_PTRACE SYS_NICE SYS_TTY_CONFIG", []string{"--cap-add", "SYS_PTRACE", "--cap-add", "SYS_NICE", "--cap-add", "SYS_TTY_CONFIG"}, map[string]string{
			"pidfd_getfd": "EBADF", "process_madvise": "EBADF", "migrate_pages": notEPERM,
			"set_mempolicy_home_node": notEPERM, "vhangup": "ok", "clone_newuser": "EPERM", "clone3": "ENOSYS",
		}},
		{"privileged", []string{"--privileged"}, map[string]string{
			"fork_exec": "ok", "clone_newuser": "ok", "clone3": "EINVAL", "io_uring_setup": ioUring,
			"fanotify_init": "ok", "vhangup": "ok", "personality_norandomize": "ok",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := probe(t, d, tt.runArgs, allProbes...)
			for k, want := range tt.want {
				switch {
				case want == "":
				case want == notEPERM && (got[k] == "EPERM" || got[k] == ""):
					t.Errorf("%s = %q, want anything but EPERM", k, got[k])
				case want != notEPERM && got[k] != want:
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

func TestSeccompDefaultKeepsBasicsWorking(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	if out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", "echo ok"); out != "ok\n" {
		t.Errorf("echo = %q", out)
	}
	// A subshell, a pipe, ps over /proc, a local HTTP round trip and
	// ordinary file operations.
	script := `set -e
httpd -p 127.0.0.1:8080 -h /etc
out=$(wget -q -O- http://127.0.0.1:8080/hostname)
[ "$out" = "$(hostname)" ]
ps | grep -q httpd
mkdir -p /tmp/a/b && touch /tmp/a/b/c && ln -s c /tmp/a/b/d && mv /tmp/a /tmp/e && rm -r /tmp/e
date >/dev/null && sleep 0.1 && echo done`
	if out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", script); out != "done\n" {
		t.Errorf("basics = %q", out)
	}
	d.MustDocker("run", "-d", "--name", "long", "busybox", "sleep", "60")
	if out := d.MustDocker("exec", "long", "sh", "-c", "ps -o pid,comm | grep -c sleep"); strings.TrimSpace(out) != "1" {
		t.Errorf("exec ps = %q", out)
	}
	d.MustDocker("rm", "-f", "long")
}

func TestSeccompCustomProfile(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	profile := filepath.Join(dir, "nomkdir.json")
	err := os.WriteFile(profile, []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
	"syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
	]
}`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, cli := range []func(...string) testenv.Result{d.Docker, d.Berth} {
		r := cli("run", "--rm", "--security-opt", "seccomp="+profile, "busybox", "mkdir", "/tmp/x")
		if r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied") {
			t.Errorf("mkdir under a profile refusing it: %s", r)
		}
		// Default allow: what the default profile refuses goes through.
		r = cli("run", "--rm", "--security-opt", "seccomp="+profile, "busybox", "sh", "-c", "mkdir /tmp/x; touch /tmp/y && echo touched")
		if r.Code != 0 || r.Stdout != "touched\n" {
			t.Errorf("touch under the custom profile: %s", r)
		}
		// excludes.caps: the rmdir rule is dropped for CAP_SYS_ADMIN.
		r = cli("run", "--rm", "--security-opt", "seccomp="+profile, "busybox", "rmdir", "/etc")
		if r.Code == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("rmdir without CAP_SYS_ADMIN: %s", r)
		}
		r = cli("run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp="+profile, "busybox", "rmdir", "/etc")
		if r.Code == 0 || strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("rmdir /etc with CAP_SYS_ADMIN should fail on the kernel's ENOTEMPTY/EBUSY, not the filter: %s", r)
		}

		missing := filepath.Join(dir, "missing.json")
		r = cli("run", "--rm", "--security-opt", "seccomp="+missing, "busybox", "true")
		want := "opening seccomp profile (" + missing + ") failed: open " + missing + ": no such file or directory"
		if r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("missing profile: %s\nwant %q", r, want)
		}
	}

	// The daemon refuses a bad profile at create with a 400.
	for _, tt := range []struct{ opt, msg string }{
		{"seccomp={bad", "Decoding seccomp profile failed: invalid character 'b'"},
		{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOPE"}]}`, `unknown action "SCMP_ACT_NOPE"`},
	} {
		body, _ := json.Marshal(map[string]any{
			"Image": "busybox", "Cmd": []string{"true"},
			"HostConfig": map[string]any{"SecurityOpt": []string{tt.opt}},
		})
		resp, err := d.HTTPClient().Post("http://berth/containers/create", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var msg struct{ Message string }
		_ = json.Unmarshal(raw, &msg)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg.Message, tt.msg) {
			t.Errorf("create with %s: %d %s, want 400 %q", tt.opt, resp.StatusCode, raw, tt.msg)
		}
	}
	if out := d.MustDocker("ps", "-aq"); out != "" {
		t.Errorf("containers left by refused creates: %q", out)
	}
}
