package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// TestImageShareSwarm: an image imported on the manager only, with no
// registry anywhere, runs on every node of a 3-node swarm: the manager
// pins the service to the image's ID, and the other nodes fetch it from
// the manager over the swarm's mutual TLS, verified by that ID.
func TestImageShareSwarm(t *testing.T) {
	ms := testenv.NewMachines(t)
	nodes := []string{"myvm1", "myvm2", "myvm3"}
	ips := map[string]string{}
	for _, n := range nodes {
		ms.Create(n)
		ips[n] = strings.TrimSpace(ms.MustMachine("ip", n))
	}
	ms.MustDocker("myvm1", "import", testenv.BusyboxRootfsTar(t), "localonly:v1")
	id := strings.TrimSpace(ms.MustDocker("myvm1", "image", "inspect", "--format", "{{.Id}}", "localonly:v1"))
	for _, n := range nodes[1:] {
		if r := ms.Docker(n, "image", "inspect", "localonly:v1"); r.Code == 0 {
			t.Fatalf("%s has the image before the swarm", n)
		}
	}
	out := ms.MustMachine("ssh", "myvm1", "docker swarm init --advertise-addr "+ips["myvm1"])
	join := regexp.MustCompile(`docker swarm join --token \S+ \S+:2377`).FindString(out)
	for _, n := range nodes[1:] {
		ms.MustMachine("ssh", n, join)
	}
	ms.MustMachine("ssh", "myvm1", "docker service create --detach --replicas 6 --stop-grace-period 1s --name web localonly:v1 sleep 1000")
	// `service inspect` shows the image as given; the pin is a label.
	inspect := ms.MustMachine("ssh", "myvm1", "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{index .Spec.TaskTemplate.ContainerSpec.Labels \"com.berth.image.id\"}}' web")
	if got := strings.TrimSpace(inspect); got != "localonly:v1 "+id {
		t.Errorf("service inspect: %q, want the image as given and its pin %s", got, id)
	}
	perNode := func() map[string]int {
		ps := ms.MustMachine("ssh", "myvm1", "docker service ps web --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")
		count := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(ps), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == "Running" {
				count[f[0]]++
			}
		}
		return count
	}
	var count map[string]int
	ok := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(200 * time.Millisecond) {
		count = perNode()
		total := 0
		for _, c := range count {
			total += c
		}
		ok = total == 6 && len(count) == 3
	}
	if !ok {
		t.Log(ms.MustMachine("ssh", "myvm1", "docker service ps --no-trunc web"))
		for _, n := range nodes {
			if b, err := os.ReadFile(filepath.Join(ms.Store, n, "daemon.log")); err == nil {
				var lines []string
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, "image") || strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") {
						lines = append(lines, l)
					}
				}
				t.Logf("%s's daemon log (images, warnings):\n%s", n, strings.Join(lines, "\n"))
			}
		}
		t.Fatalf("tasks per node: %v, want 6 over the 3 nodes", count)
	}
	for _, n := range nodes {
		got := strings.TrimSpace(ms.Docker(n, "image", "inspect", "--format", "{{.Id}}", "localonly:v1").Stdout)
		if got != id {
			t.Errorf("%s: image localonly:v1 is %q, want the manager's %s", n, got, id)
		}
		running := strings.Fields(ms.MustDocker(n, "ps", "-q", "--filter", "label=com.docker.swarm.service.name=web"))
		if len(running) != count[n] || len(running) == 0 {
			t.Errorf("%s runs %d web containers (service ps: %d)", n, len(running), count[n])
		}
	}
}
