package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// benchStack prints the stack figures on `berth machine` nodes: a stack
// like the guide's second file (6 tasks) deployed on 2 nodes until every
// task runs (images present), and a 100 MB image that only the manager
// has reaching 2 other nodes without a registry (a global service until
// it runs on all 3).
func benchStack(bin string) error {
	store, err := os.MkdirTemp("", "berth-bench-stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	env := append(os.Environ(), "BERTH_MACHINE_STORAGE_PATH="+store)
	machine := func(args ...string) (string, error) {
		c := exec.Command(bin, append([]string{"machine"}, args...)...)
		c.Env = env
		b, err := c.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("berth machine %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return string(b), nil
	}
	onNode := func(node string, stdin []byte, args ...string) error {
		c := exec.Command(bin, append([]string{"-H", "unix://" + filepath.Join(store, node, "run", "berth.sock")}, args...)...)
		c.Stdin = bytes.NewReader(stdin)
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("berth %s on %s: %v: %s", strings.Join(args, " "), node, err, b)
		}
		return nil
	}
	nodes := []string{"bench1", "bench2", "bench3"}
	defer machine(append([]string{"rm", "-f", "-y"}, nodes...)...) //nolint:errcheck // best effort
	var rootfs bytes.Buffer
	if err := testenv.WriteBusyboxRootfs(&rootfs); err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := machine("create", n); err != nil {
			return err
		}
	}
	for _, n := range nodes[:2] {
		if err := onNode(n, rootfs.Bytes(), "import", "-", "busybox"); err != nil {
			return err
		}
	}
	ips := map[string]string{}
	for _, n := range nodes {
		ip, err := machine("ip", n)
		if err != nil {
			return err
		}
		ips[n] = strings.TrimSpace(ip)
	}
	out, err := machine("ssh", "bench1", "docker swarm init --advertise-addr "+ips["bench1"])
	if err != nil {
		return err
	}
	join := regexp.MustCompile(`docker swarm join --token \S+ \S+:2377`).FindString(out)
	if _, err := machine("ssh", "bench2", join); err != nil {
		return err
	}
	// 2 nodes: the stack.
	compose := `version: "3"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    deploy:
      replicas: 5
    stop_grace_period: 1s
    ports: ["80:80"]
    networks: [webnet]
  redis:
    image: busybox
    command: ["sleep", "100000"]
    deploy:
      placement:
        constraints: [node.role == manager]
    stop_grace_period: 1s
    networks: [webnet]
networks:
  webnet:
`
	file := filepath.Join(store, "docker-compose.yml")
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		return err
	}
	if _, err := machine("scp", file, "bench1:~"); err != nil {
		return err
	}
	running := func(want int, service string) (time.Duration, error) {
		start := time.Now()
		for time.Since(start) < 120*time.Second {
			out, err := machine("ssh", "bench1", "docker service ps "+service+" --filter desired-state=running --format '{{.CurrentState}}'")
			if err == nil && strings.Count(out, "Running") == want {
				return time.Since(start), nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return 0, fmt.Errorf("%s did not reach %d running tasks", service, want)
	}
	start := time.Now()
	if _, err := machine("ssh", "bench1", "docker stack deploy -c docker-compose.yml bench"); err != nil {
		return err
	}
	if _, err := running(5, "bench_web"); err != nil {
		return err
	}
	if _, err := running(1, "bench_redis"); err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "stack deploy, 6 tasks on 2 machines, until all run", ms(time.Since(start)), "≤ 3000 ms")
	if _, err := machine("ssh", "bench1", "docker stack rm bench"); err != nil {
		return err
	}
	// 3 nodes: a 100 MB image only the manager has.
	if _, err := machine("ssh", "bench3", join); err != nil {
		return err
	}
	big, err := bigImage(rootfs.Bytes(), 100<<20)
	if err != nil {
		return err
	}
	if err := onNode("bench1", big, "import", "--change", `CMD ["sleep", "100000"]`, "-", "big:latest"); err != nil {
		return err
	}
	start = time.Now()
	if _, err := machine("ssh", "bench1", "docker service create -d --mode global --name big --stop-grace-period 1s big:latest"); err != nil {
		return err
	}
	if _, err := running(3, "big"); err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "a 100 MB image to 2 other nodes, no registry (global service)", ms(time.Since(start)), "≤ 2000 ms")
	_, _ = machine("ssh", "bench1", "docker service rm big")
	return nil
}

// bigImage is the busybox rootfs with a file of n random bytes added.
func bigImage(rootfs []byte, n int) ([]byte, error) {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(rootfs))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	blob := make([]byte, n)
	if _, err := rand.Read(blob); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(blob); err != nil {
		return nil, err
	}
	return out.Bytes(), tw.Close()
}
