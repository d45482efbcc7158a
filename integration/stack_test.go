package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/internal/testenv"
)

// stackFile is the guide's second compose file on busybox images: web ×
// replicas with CPU and memory limits behind a published port, a
// "visualizer" and a "redis" pinned to the manager with host binds, plus
// a secret and a config from files; short stop grace periods.
func stackFile(replicas int, webPort, vizPort, redisPort int, dataDir, sockDir string, withViz bool) string {
	viz := ""
	if withViz {
		viz = fmt.Sprintf(`  visualizer:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    ports:
      - "%d:8080"
    volumes:
      - "%s:/var/run/docker.sock"
    deploy:
      placement:
        constraints: [node.role == manager]
    networks:
      - webnet
`, vizPort, sockDir)
	}
	return fmt.Sprintf(`version: "3"
services:
  web:
    image: busybox
    command: sleep 1000
    stop_grace_period: 1s
    deploy:
      replicas: %d
      restart_policy:
        condition: on-failure
      resources:
        limits:
          cpus: "0.1"
          memory: 50M
    ports:
      - "%d:80"
    networks:
      - webnet
%s  redis:
    image: busybox
    ports:
      - "%d:6379"
    volumes:
      - "%s:/data"
    stop_grace_period: 1s
    deploy:
      placement:
        constraints: [node.role == manager]
    command: sh -c "echo redis-server --appendonly yes; exec sleep 1000"
    secrets: [pw]
    configs: [conf]
    networks:
      - webnet
networks:
  webnet:
secrets:
  pw:
    file: ./pw.txt
configs:
  conf:
    file: ./conf.txt
`, replicas, webPort, viz, redisPort, dataDir)
}

// mustRun fails t on a non-zero exit.
func mustRun(t *testing.T, r testenv.Result, what string) string {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: %s", what, r)
	}
	return r.Stdout
}

// sortedLines are out's lines with ns replaced by STACK, sorted (docker
// creates in map order).
func sortedLines(out, ns string) []string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, ns, "STACK")), "\n")
	slices.Sort(lines)
	return lines
}

// TestStack drives `berth stack` on one daemon: refused before swarm
// mode, bad input refused with nothing created, the guide's stack file
// deployed by berth and by docker alike, redeployed 5 → 3, pruned,
// listed, and removed without leftovers.
func TestStack(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	dataDir, sockDir := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	// The guide's visualizer binds /var/run/docker.sock: with no Docker
	// daemon on the host, berth gives the task its own socket there.
	translated := false
	if _, err := os.Lstat("/var/run/docker.sock"); os.IsNotExist(err) {
		sockDir, translated = "/var/run/docker.sock", true
	}
	for _, p := range []string{dataDir, filepath.Join(dir, "sock")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "pw.txt"), "secret\n")
	writeFile(t, filepath.Join(dir, "conf.txt"), "conf\n")
	file := filepath.Join(dir, "docker-compose.yml")
	dockerFile := filepath.Join(dir, "docker-compose.docker.yml")
	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	writeFile(t, file, stackFile(5, ports[0], ports[1], ports[2], dataDir, sockDir, true))
	writeFile(t, dockerFile, stackFile(5, ports[3], ports[4], ports[5], dataDir, sockDir, true))

	t.Run("not a swarm manager", func(t *testing.T) {
		r := d.Berth("stack", "deploy", "-c", file, "berthstk")
		if r.Code == 0 || !strings.Contains(r.Stderr, `this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again`) {
			t.Fatalf("deploy outside swarm mode: %s", r)
		}
	})
	initSwarm(t, d)

	t.Run("bad input", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yml")
		for _, tc := range []struct{ name, file, ns, want string }{
			{"syntax error", "services:\n  web:\n    image: busybox\n   ports: [80\n", "bad", `line \d+, column \d+`},
			{"unknown key", "services:\n  web:\n    image: busybox\n    imagez: x\n", "bad", `services\.web Additional property imagez is not allowed`},
			{"undefined network", "services:\n  web:\n    image: busybox\n    networks: [nope]\nnetworks:\n  other:\n", "bad", `service "web" refers to undefined network nope`},
			{"undefined secret", "services:\n  web:\n    image: busybox\n    secrets: [nope]\n", "bad", `service "web" refers to undefined secret nope`},
			{"external network missing", "services:\n  web:\n    image: busybox\n    networks: [ext]\n    secrets: [s]\nnetworks:\n  ext:\n    external: true\nsecrets:\n  s:\n    file: ./pw.txt\n", "bad", `network "ext" is declared as external, but could not be found`},
			{"invalid stack name", "services:\n  web:\n    image: busybox\n", "bad.name", `invalid stack name: "bad\.name"`},
		} {
			writeFile(t, bad, tc.file)
			r := d.Berth("stack", "deploy", "-c", bad, tc.ns)
			if r.Code == 0 || !regexp.MustCompile(tc.want).MatchString(r.Stderr) {
				t.Errorf("%s: %s", tc.name, r)
			}
		}
		// Nothing was created that a later deploy could trip over.
		if out := mustRun(t, d.Docker("service", "ls", "-q"), "service ls") + mustRun(t, d.Docker("secret", "ls", "-q"), "secret ls") +
			mustRun(t, d.Docker("network", "ls", "-q", "--filter", "label=com.docker.stack.namespace"), "network ls"); out != "" {
			t.Errorf("a failed deploy left:\n%s", out)
		}
	})

	t.Run("deploy matches docker's", func(t *testing.T) {
		br := d.Berth("stack", "deploy", "-c", file, "berthstk")
		mustRun(t, br, "berth stack deploy")
		dr := d.Docker("stack", "deploy", "-c", dockerFile, "dockerstk")
		mustRun(t, dr, "docker stack deploy")
		if b, dk := sortedLines(br.Stdout, "berthstk"), sortedLines(dr.Stdout, "dockerstk"); !slices.Equal(b, dk) {
			t.Errorf("deploy output\nberth:\n%s\ndocker:\n%s", strings.Join(b, "\n"), strings.Join(dk, "\n"))
		}
		if b, dk := sortedLines(br.Stderr, "berthstk"), sortedLines(dr.Stderr, "dockerstk"); !slices.Equal(b, dk) {
			t.Errorf("deploy warnings\nberth:\n%s\ndocker:\n%s", strings.Join(b, "\n"), strings.Join(dk, "\n"))
		}
		for _, svc := range []string{"web", "visualizer", "redis"} {
			b, dk := serviceSpec(t, d, "berthstk", svc), serviceSpec(t, d, "dockerstk", svc)
			if diff := cmp.Diff(dk, b); diff != "" {
				t.Errorf("%s spec (-docker +berth):\n%s", svc, diff)
			}
		}
		for _, ns := range []string{"berthstk", "dockerstk"} {
			testenv.Eventually(t, 40*time.Second, ns+" tasks running", func() bool {
				return len(serviceContainers(d, ns+"_web")) == 5 && len(serviceContainers(d, ns+"_redis")) == 1 && len(serviceContainers(d, ns+"_visualizer")) == 1
			})
		}
		if translated {
			viz := serviceContainers(d, "berthstk_visualizer")[0]
			if got := mustRun(t, d.Docker("inspect", "--format", "{{range .Mounts}}{{.Source}}{{end}}", viz), "inspect visualizer"); got != d.Socket+"\n" {
				t.Errorf("visualizer's /var/run/docker.sock is %q, want berth's socket %s", got, d.Socket)
			}
			mustRun(t, d.Docker("exec", viz, "test", "-S", "/var/run/docker.sock"), "the socket in the visualizer's task")
		}
		if got := mustRun(t, d.Docker("network", "inspect", "--format", "{{.Driver}} {{.Scope}} {{index .Labels \"com.docker.stack.namespace\"}}", "berthstk_webnet"), "network inspect"); got != "overlay swarm berthstk\n" {
			t.Errorf("berthstk_webnet: %q", got)
		}
	})

	t.Run("ls, services and ps", func(t *testing.T) {
		if b, dk := mustRun(t, d.Berth("stack", "ls"), "berth stack ls"), mustRun(t, d.Docker("stack", "ls"), "docker stack ls"); b != dk ||
			!regexp.MustCompile(`(?m)^NAME\s+SERVICES\nberthstk\s+3\ndockerstk\s+3\n$`).MatchString(b) {
			t.Errorf("stack ls\nberth:\n%s\ndocker:\n%s", b, dk)
		}
		format := "{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}} {{.Ports}}"
		b := mustRun(t, d.Berth("stack", "services", "--format", format, "berthstk"), "berth stack services")
		dk := mustRun(t, d.Docker("stack", "services", "--format", format, "berthstk"), "docker stack services")
		if b != dk || !strings.Contains(b, "berthstk_web replicated 5/5 busybox:latest") {
			t.Errorf("stack services\nberth:\n%s\ndocker:\n%s", b, dk)
		}
		if b, dk := mustRun(t, d.Berth("stack", "services", "-q", "berthstk"), "services -q"), mustRun(t, d.Docker("stack", "services", "-q", "berthstk"), "services -q"); b != dk {
			t.Errorf("services -q\nberth:\n%s\ndocker:\n%s", b, dk)
		}
		format = "{{.Name}} {{.Image}} {{.DesiredState}}"
		b = mustRun(t, d.Berth("stack", "ps", "--format", format, "-f", "desired-state=running", "berthstk"), "berth stack ps")
		dk = mustRun(t, d.Docker("stack", "ps", "--format", format, "-f", "desired-state=running", "berthstk"), "docker stack ps")
		if b != dk || strings.Count(b, "\n") != 7 {
			t.Errorf("stack ps\nberth:\n%s\ndocker:\n%s", b, dk)
		}
		if r := d.Berth("stack", "ps", "nosuch"); r.Code == 0 || !strings.Contains(r.Stderr, "nothing found in stack: nosuch") {
			t.Errorf("ps of no stack: %s", r)
		}
		if r := d.Berth("stack", "services", "nosuch"); r.Code != 0 || r.Stdout != "" || r.Stderr != "Nothing found in stack: nosuch\n" {
			t.Errorf("services of no stack: %s", r)
		}
	})

	t.Run("redeploy 5 to 3 and prune", func(t *testing.T) {
		redisBefore := serviceContainers(d, "berthstk_redis")
		writeFile(t, file, stackFile(3, ports[0], ports[1], ports[2], dataDir, sockDir, true))
		// --detach=false waits for every service to converge.
		out := mustRun(t, d.Berth("stack", "deploy", "--detach=false", "-q", "-c", file, "berthstk"), "redeploy")
		if !regexp.MustCompile(`(?m)^Updating service berthstk_web \(id: [a-z0-9]{25}\)$`).MatchString(out) || strings.Contains(out, "Creating") {
			t.Errorf("redeploy printed:\n%s", out)
		}
		if n := len(serviceContainers(d, "berthstk_web")); n != 3 {
			t.Errorf("%d web containers once the deploy converged, want 3", n)
		}
		// Only what changed rolled: redis keeps its task.
		if after := serviceContainers(d, "berthstk_redis"); !slices.Equal(after, redisBefore) {
			t.Errorf("redis tasks changed on a redeploy that did not touch it: %v → %v", redisBefore, after)
		}

		writeFile(t, file, stackFile(3, ports[0], ports[1], ports[2], dataDir, sockDir, false))
		out = mustRun(t, d.Berth("stack", "deploy", "--prune", "-c", file, "berthstk"), "deploy --prune")
		if !strings.HasPrefix(out, "Removing service berthstk_visualizer\n") {
			t.Errorf("deploy --prune printed:\n%s", out)
		}
		if r := d.Docker("service", "inspect", "berthstk_visualizer"); r.Code == 0 {
			t.Errorf("visualizer still there after --prune")
		}
	})

	t.Run("rm leaves nothing", func(t *testing.T) {
		b := mustRun(t, d.Berth("stack", "rm", "berthstk"), "berth stack rm")
		want := "Removing service berthstk_redis\nRemoving service berthstk_web\nRemoving secret berthstk_pw\nRemoving config berthstk_conf\nRemoving network berthstk_webnet\n"
		if b != want {
			t.Errorf("stack rm printed:\n%s\nwant:\n%s", b, want)
		}
		dk := mustRun(t, d.Docker("stack", "rm", "dockerstk"), "docker stack rm")
		if !slices.Equal(sortedLines(dk, "dockerstk"), sortedLines(strings.Replace(want, "Removing service berthstk_web\n", "Removing service berthstk_visualizer\nRemoving service berthstk_web\n", 1), "berthstk")) {
			t.Errorf("docker stack rm printed:\n%s", dk)
		}
		testenv.Eventually(t, 40*time.Second, "no service, network, secret, config or container left", func() bool {
			return d.MustDocker("service", "ls", "-q") == "" && d.MustDocker("secret", "ls", "-q") == "" && d.MustDocker("config", "ls", "-q") == "" &&
				d.MustDocker("network", "ls", "-q", "--filter", "label=com.docker.stack.namespace") == "" && d.MustDocker("ps", "-aq") == ""
		})
		if r := d.Berth("stack", "rm", "berthstk"); r.Code != 0 || r.Stderr != "Nothing found in stack: berthstk\n" {
			t.Errorf("second rm: %s", r)
		}
	})
	d.MustDocker("swarm", "leave", "--force")
}

// serviceSpec is the spec of <ns>_<svc> with the stack's name, network
// IDs and published ports (which differ between the two deploys) made
// comparable.
func serviceSpec(t *testing.T, d *testenv.Daemon, ns, svc string) swarm.ServiceSpec {
	t.Helper()
	raw := mustRun(t, d.Docker("service", "inspect", "--format", "{{json .Spec}}", ns+"_"+svc), "service inspect")
	var spec swarm.ServiceSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	swap := func(s string) string { return strings.ReplaceAll(s, ns, "STACK") }
	spec.Name = swap(spec.Name)
	for k, v := range spec.Labels {
		spec.Labels[k] = swap(v)
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		for k, v := range cs.Labels {
			cs.Labels[k] = swap(v)
		}
		for _, s := range cs.Secrets {
			s.SecretID, s.SecretName = "", swap(s.SecretName)
		}
		for _, c := range cs.Configs {
			c.ConfigID, c.ConfigName = "", swap(c.ConfigName)
		}
	}
	for i, n := range spec.TaskTemplate.Networks {
		name := strings.TrimSpace(mustRun(t, d.Docker("network", "inspect", "--format", "{{.Name}}", n.Target), "network inspect"))
		spec.TaskTemplate.Networks[i].Target = swap(name)
	}
	if spec.EndpointSpec != nil {
		for i := range spec.EndpointSpec.Ports {
			spec.EndpointSpec.Ports[i].PublishedPort = 0
		}
	}
	return spec
}
