package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// taskTmpfs lists the tmpfs mounts under the daemon's directory for
// task secrets (<exec-root>/swarm/tasks), as the host sees them.
func taskTmpfs(d *testenv.Daemon) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	root := filepath.Join(d.ExecRoot, "swarm", "tasks") + "/"
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], root) && strings.Contains(l, " - tmpfs ") {
			out = append(out, f[4])
		}
	}
	return out
}

// mountsUnderDir lists every mount point at or below dir.
func mountsUnderDir(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// TestSwarmSecretsAndConfigs: with the docker CLI, a service's secrets
// appear in its container under /run/secrets (owner, mode, read-only), a
// config at its target, a templated config expanded; a secret's value is
// never shown by inspect; a secret in use cannot be removed; each task's
// secrets live on a tmpfs of its own in the exec root, gone with the task
// and when the node leaves the swarm.
func TestSwarmSecretsAndConfigs(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	initSwarm(t, d)

	if r := d.Run(strings.NewReader("s3cret"), time.Minute, "docker", "secret", "create", "pw", "-"); r.Code != 0 || len(strings.TrimSpace(r.Stdout)) != 25 {
		t.Fatalf("secret create: %s", r)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.conf"), "listen=8080\n")
	writeFile(t, filepath.Join(dir, "tpl.conf"), "service={{.Service.Name}} slot={{.Task.Slot}}\n")
	d.MustDocker("config", "create", "cfg", filepath.Join(dir, "app.conf"))
	d.MustDocker("config", "create", "--template-driver", "golang", "tpl", filepath.Join(dir, "tpl.conf"))

	d.MustDocker("service", "create", "-d", "--name", "s",
		"--secret", "pw", "--secret", "source=pw,target=other,mode=0400",
		"--config", "source=cfg,target=/etc/app.conf", "--config", "source=tpl,target=/etc/tpl.conf",
		"--stop-grace-period", "1s", "busybox",
		"sh", "-c", "cat /run/secrets/pw; echo; ls -l /run/secrets/other; cat /etc/app.conf; cat /etc/tpl.conf; exec sleep 1000")
	var logs string
	testenv.Eventually(t, 30*time.Second, "the service's logs showing its secrets and configs", func() bool {
		logs = d.Docker("service", "logs", "--raw", "s").Stdout
		return strings.Contains(logs, "service=s slot=1")
	})
	for _, want := range []string{"s3cret\n", "-r--------    1 root     root             6 ", "/run/secrets/other\n", "listen=8080\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("service logs lack %q:\n%s", want, logs)
		}
	}
	ids := serviceContainers(d, "s")
	if len(ids) != 1 {
		t.Fatalf("containers of s: %v", ids)
	}
	if got := d.MustDocker("exec", ids[0], "stat", "-c", "%a %u:%g", "/run/secrets/pw", "/etc/app.conf"); got != "444 0:0\n444 0:0\n" {
		t.Errorf("modes and owners: %q", got)
	}
	if r := d.Docker("exec", ids[0], "sh", "-c", "echo x > /run/secrets/pw"); r.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("writing a secret in the container: %s", r)
	}
	if m := taskTmpfs(d); len(m) != 1 {
		t.Errorf("task tmpfs mounts while s runs: %v", m)
	}

	if out := d.MustDocker("secret", "inspect", "pw"); strings.Contains(out, "s3cret") || strings.Contains(out, "czNjcmV0") || strings.Contains(out, `"Data"`) {
		t.Errorf("secret inspect shows the data:\n%s", out)
	}
	if r := d.Docker("secret", "rm", "pw"); r.Code == 0 || !strings.Contains(r.Stderr, "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'pw' is in use by the following service: s") {
		t.Errorf("secret rm in use: %s", r)
	}
	if r := d.Docker("config", "rm", "cfg"); r.Code == 0 || !strings.Contains(r.Stderr, "config 'cfg' is in use by the following service: s") {
		t.Errorf("config rm in use: %s", r)
	}

	d.MustDocker("service", "rm", "s")
	testenv.Eventually(t, 30*time.Second, "s's containers and secrets gone", func() bool {
		return d.MustDocker("ps", "-aq", "--filter", "label=com.docker.swarm.service.name=s") == "" && len(taskTmpfs(d)) == 0
	})
	if out := d.MustDocker("secret", "rm", "pw"); out != "pw\n" {
		t.Errorf("secret rm: %q", out)
	}
	d.MustDocker("config", "rm", "cfg", "tpl")

	// A task's container removed by hand takes its secrets with it; the
	// task that replaces it has its own.
	if r := d.Run(strings.NewReader("two"), time.Minute, "docker", "secret", "create", "pw2", "-"); r.Code != 0 {
		t.Fatalf("secret create: %s", r)
	}
	// A task's container that exits takes its secrets with it; it stays.
	d.MustDocker("service", "create", "-d", "--name", "once", "--restart-condition", "none", "--secret", "pw2", "busybox", "cat", "/run/secrets/pw2")
	testenv.Eventually(t, 30*time.Second, "once's task done, its secrets gone", func() bool {
		return strings.Contains(d.Docker("service", "logs", "--raw", "once").Stdout, "two") &&
			strings.Contains(d.MustDocker("ps", "-a", "--format", "{{.Status}}", "--filter", "label=com.docker.swarm.service.name=once"), "Exited (0)") &&
			len(taskTmpfs(d)) == 0
	})
	d.MustDocker("service", "rm", "once")

	d.MustDocker("service", "create", "-d", "--name", "s2", "--secret", "pw2", "--stop-grace-period", "1s", "busybox", "sleep", "1000")
	testenv.Eventually(t, 30*time.Second, "s2 running", func() bool { return len(serviceContainers(d, "s2")) == 1 })
	first := taskTmpfs(d)
	if len(first) != 1 {
		t.Fatalf("task tmpfs mounts of s2: %v", first)
	}
	victim := serviceContainers(d, "s2")[0]
	if got := d.MustDocker("exec", victim, "cat", "/run/secrets/pw2"); got != "two" {
		t.Errorf("pw2 in s2: %q", got)
	}
	d.MustDocker("rm", "-f", victim)
	testenv.Eventually(t, 30*time.Second, "s2's task replaced, with a tmpfs of its own", func() bool {
		ids := serviceContainers(d, "s2")
		m := taskTmpfs(d)
		return len(ids) == 1 && ids[0] != victim && len(m) == 1 && m[0] != first[0]
	})

	if out := d.MustDocker("swarm", "leave", "--force"); out != "Node left the swarm.\n" {
		t.Errorf("leave: %q", out)
	}
	if m := mountsUnderDir(filepath.Join(d.ExecRoot, "swarm")); len(m) > 0 {
		t.Errorf("mounts left after leaving the swarm: %v", m)
	}
	if _, err := os.Stat(filepath.Join(d.ExecRoot, "swarm", "tasks")); !os.IsNotExist(err) {
		t.Errorf("task files left after leaving the swarm: %v", err)
	}
}
