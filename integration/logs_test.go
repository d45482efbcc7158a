package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

func TestLogsRotationAndVerbs(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")

	// Rotation: 400 lines of ~30 bytes into 1 KiB files, at most 2 kept.
	id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
		"busybox", "sh", "-c", `i=0; while [ $i -lt 400 ]; do echo "line number $i"; i=$((i+1)); done`))
	d.MustDocker("wait", "chatty")
	files, _ := filepath.Glob(filepath.Join(d.DataRoot, "containers", id, id+"-json.log*"))
	if len(files) != 2 {
		t.Errorf("log files = %v, want 2", files)
	}
	if out := d.MustDocker("logs", "--tail", "2", "chatty"); out != "line number 398\nline number 399\n" {
		t.Errorf("logs --tail 2 = %q", out)
	}
	if out := d.MustDocker("logs", "-t", "--tail", "1", "chatty"); !strings.HasSuffix(out, "Z line number 399\n") || !strings.HasPrefix(out, "20") {
		t.Errorf("logs -t = %q", out)
	}
	if out := d.MustDocker("logs", "--until", "2000-01-01T00:00:00Z", "chatty"); out != "" {
		t.Errorf("logs --until in the past = %q", out)
	}
	// stderr is kept apart.
	d.MustDocker("run", "--name", "errs", "busybox", "sh", "-c", "echo out; echo err >&2")
	r := d.Docker("logs", "errs")
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("logs streams: %s", r)
	}

	// follow ends when the container does.
	d.MustDocker("run", "-d", "--name", "slow", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
	start := time.Now()
	if out := d.MustDocker("logs", "-f", "slow"); out != "a\nb\n" {
		t.Errorf("logs -f = %q", out)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("logs -f took %s", el)
	}

	// pause, top, rename, stats, restart.
	d.MustDocker("run", "-d", "--name", "svc", "busybox", "sleep", "1000")
	if out := d.MustDocker("top", "svc"); !strings.Contains(out, "sleep 1000") {
		t.Errorf("top:\n%s", out)
	}
	d.MustDocker("pause", "svc")
	if st := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Status}}", "svc")); st != "paused" {
		t.Errorf("status after pause = %s", st)
	}
	if r := d.Docker("exec", "svc", "true"); r.Code == 0 {
		t.Errorf("exec in a paused container succeeded")
	}
	d.MustDocker("unpause", "svc")
	d.MustDocker("rename", "svc", "svc2")
	if out := d.MustDocker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "svc2"); strings.TrimSpace(out) != "svc2 1" {
		t.Errorf("stats = %q", out)
	}
	pid1 := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Pid}}", "svc2"))
	d.MustDocker("restart", "-t", "0", "svc2")
	pid2 := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Pid}}", "svc2"))
	if pid1 == pid2 || pid2 == "0" {
		t.Errorf("restart: pid %s → %s", pid1, pid2)
	}
	if _, err := os.Stat("/proc/" + pid1); err == nil {
		t.Errorf("old process %s survived the restart", pid1)
	}
	if r := d.Docker("rm", "svc2"); r.Code == 0 || !strings.Contains(r.Stderr, "stop the container before removing or force remove") {
		t.Errorf("rm of a running container: %s", r)
	}
	d.MustDocker("rm", "-f", "svc2")
	// Security defaults from inside.
	out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", "cat /proc/self/status | grep -E '^(CapBnd|Seccomp):'; cat /proc/kcore 2>&1 | head -c 0; (echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo WROTE; true")
	if strings.Contains(out, "WROTE") || !strings.Contains(out, "CapBnd:\t00000000a80425fb") {
		t.Errorf("default security from inside:\n%s", out)
	}
	if priv := d.MustDocker("run", "--rm", "--privileged", "busybox", "grep", "CapBnd", "/proc/self/status"); strings.Contains(priv, "00000000a80425fb") {
		t.Errorf("--privileged kept the default capabilities: %s", priv)
	}
}

// TestVolumeInUseAcrossRestart: a restarted daemon still knows which
// containers use a volume, and an image symlink cannot redirect seeding.
func TestVolumeInUseAcrossRestart(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	d.MustDocker("run", "-d", "--name", "user", "-v", "keep:/data", "busybox", "sleep", "1000")
	d.Restart()
	if r := d.Docker("volume", "rm", "keep"); r.Code == 0 || !strings.Contains(r.Stderr, "volume is in use") {
		t.Fatalf("volume rm of an in-use volume after a restart: %s", r)
	}
	// An image whose /seed is a symlink to the host's /etc.
	d.MustDocker("run", "--name", "mk", "busybox", "ln", "-s", "/etc", "/seed")
	d.MustDocker("commit", "mk", "linky")
	// /seed/ssl resolves to /etc/ssl inside the image; joined naively on the
	// host it is the host's /etc/ssl.
	out := d.MustDocker("run", "--rm", "-v", "seeded:/seed/ssl", "linky", "ls", "/seed/ssl")
	if strings.Contains(out, "certs") || strings.Contains(out, "openssl") {
		t.Fatalf("volume seeded from the host's /etc through an image symlink:\n%s", out)
	}
	d.MustDocker("rm", "-f", "user")
	d.MustDocker("volume", "rm", "keep")
}
