//go:build linux

package integration

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// detachKeys is a stdin that waits until the container runs (and the CLI
// has had time to put the terminal in raw mode), then types Ctrl-P Ctrl-Q.
type detachKeys struct {
	ready func() bool
	sent  bool
}

func (k *detachKeys) Read(p []byte) (int, error) {
	if k.sent {
		// Hold stdin open a little: script(1) forwards EOF as ^D.
		time.Sleep(2 * time.Second)
		return 0, io.EOF
	}
	deadline := time.Now().Add(30 * time.Second)
	for !k.ready() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	k.sent = true
	return copy(p, "\x10\x11"), nil
}

func TestRunInteractiveDetach(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	keys := &detachKeys{ready: func() bool {
		r := d.Docker("inspect", "-f", "{{.State.Running}}", "det")
		return r.Code == 0 && strings.TrimSpace(r.Stdout) == "true"
	}}
	r := d.Run(keys, 60*time.Second, "script", "-qec", "docker run -it --name det busybox sh", "/dev/null")
	if r.Code != 0 {
		t.Fatalf("docker run -it then Ctrl-P Ctrl-Q: %s", r)
	}
	if st := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Running}}", "det")); st != "true" {
		t.Fatalf("container not running after detach (%s); run -it: %s", st, r)
	}
	if out := d.MustDocker("exec", "det", "echo", "still-here"); out != "still-here\n" {
		t.Fatalf("exec after detach printed %q", out)
	}
	d.MustDocker("rm", "-f", "det")
}
