package integration

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// TestBerthCLI runs the main flow through berth's own CLI.
func TestBerthCLI(t *testing.T) {
	d := testenv.StartDaemon(t)
	id := strings.TrimSpace(d.MustBerth("import", testenv.BusyboxRootfsTar(t), "busybox"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	if out := d.MustBerth("images"); !strings.Contains(out, "busybox") || !strings.HasPrefix(out, "REPOSITORY   TAG       IMAGE ID") {
		t.Fatalf("images:\n%s", out)
	}
	if out := d.MustBerth("run", "--rm", "busybox", "echo", "hi"); out != "hi\n" {
		t.Fatalf("run printed %q", out)
	}
	if r := d.Berth("run", "--rm", "busybox", "sh", "-c", "exit 5"); r.Code != 5 {
		t.Fatalf("run exit code: %s", r)
	}
	cid := strings.TrimSpace(d.MustBerth("run", "-d", "--name", "web", "-e", "NAME=World", "busybox", "sh", "-c", "echo hello $NAME; sleep 1000"))
	if h := strings.TrimSpace(d.MustBerth("exec", "web", "hostname")); h != cid[:12] {
		t.Fatalf("hostname %q, want %q", h, cid[:12])
	}
	testenv.Eventually(t, 5e9, "logs", func() bool { return d.MustBerth("logs", "web") == "hello World\n" })
	if out := d.MustBerth("ps", "--format", "{{.Names}} {{.Image}}"); strings.TrimSpace(out) != "web busybox" {
		t.Fatalf("ps --format: %q", out)
	}
	if out := d.MustBerth("inspect", "-f", "{{.Config.Hostname}}", "web"); strings.TrimSpace(out) != cid[:12] {
		t.Fatalf("inspect -f: %q", out)
	}
	d.MustBerth("commit", "web", "web:snap")
	d.MustBerth("rm", "-f", "web")
	if r := d.Berth("rm", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container: web") {
		t.Fatalf("rm of a removed container: %s", r)
	}
	if out := d.MustBerth("images", "-q"); len(strings.Fields(out)) != 2 {
		t.Fatalf("images -q: %q", out)
	}
	d.MustBerth("rmi", "web:snap")
	d.MustBerth("volume", "create", "v1")
	if out := d.MustBerth("volume", "ls", "-q"); strings.TrimSpace(out) != "v1" {
		t.Fatalf("volume ls -q: %q", out)
	}
	d.MustBerth("volume", "rm", "v1")
}
