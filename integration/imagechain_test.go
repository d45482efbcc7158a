package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// TestImageChainRmi builds 300 ENV steps over busybox with the classic
// builder, so each step is an image, and checks that rmi of the result
// takes every intermediate image with it, in reasonable time.
func TestImageChainRmi(t *testing.T) {
	const steps = 300
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	var df strings.Builder
	df.WriteString("FROM busybox\n")
	for i := 0; i < steps; i++ {
		fmt.Fprintf(&df, "ENV STEP%d=%d\n", i, i)
	}
	dir := writeContext(t, map[string]string{"Dockerfile": df.String()})
	r := d.Run(nil, 120*time.Second, "env", "DOCKER_BUILDKIT=0", "docker", "build", "-q", "-t", "chain", dir)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Fatalf("docker build: %s", r)
	}
	all := strings.Fields(d.MustDocker("images", "-a", "-q", "--no-trunc"))
	if len(all) != steps+1 {
		t.Fatalf("after the build, images -a lists %d images, want %d", len(all), steps+1)
	}
	busybox := strings.TrimSpace(d.MustDocker("image", "inspect", "-f", "{{.Id}}", "busybox"))
	start := time.Now()
	out := d.MustDocker("rmi", "chain")
	took := time.Since(start)
	t.Logf("rmi of a %d-image chain took %s", steps, took)
	if n := strings.Count(out, "Deleted: "); n != steps {
		t.Errorf("rmi reported %d deletions, want %d:\n%s", n, steps, out)
	}
	left := strings.Fields(d.MustDocker("images", "-a", "-q", "--no-trunc"))
	if len(left) != 1 || left[0] != busybox {
		t.Errorf("after rmi, images -a lists %v, want only busybox %s", left, busybox)
	}
	if r := d.Docker("image", "inspect", all[0]); r.Code == 0 && all[0] != busybox {
		t.Errorf("intermediate image %s still inspectable", all[0])
	}
	// busybox still runs: its layer was not taken with the chain.
	if got := strings.TrimSpace(d.MustDocker("run", "--rm", "busybox", "echo", "ok")); got != "ok" {
		t.Errorf("busybox after rmi: %q", got)
	}
}
