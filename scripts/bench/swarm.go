package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// benchSwarm prints swarm mode's figures: replicas converging on one
// node, the daemon's memory with the swarm active, a 5-daemon cluster
// forming on this host, and a leader failover.
func benchSwarm(bin string, env []string, dir string, pid int) error {
	out := func(args ...string) (string, error) {
		c := exec.Command("docker", args...)
		c.Env = env
		b, err := c.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return string(b), nil
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := out("swarm", "init", "--advertise-addr", addr, "--listen-addr", addr); err != nil {
		return err
	}
	defer out("swarm", "leave", "--force") //nolint:errcheck // best effort
	converge := func(name string, n int) (time.Duration, error) {
		re := regexp.MustCompile(fmt.Sprintf(`%s\s+replicated\s+%d/%d`, name, n, n))
		start := time.Now()
		for time.Since(start) < 120*time.Second {
			ls, err := out("service", "ls")
			if err != nil {
				return 0, err
			}
			if re.MatchString(ls) {
				return time.Since(start), nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return 0, fmt.Errorf("%s did not reach %d replicas", name, n)
	}
	start := time.Now()
	if _, err := out("service", "create", "-d", "--name", "b30", "--replicas", "30", "--stop-grace-period", "1s", "busybox", "sleep", "1000"); err != nil {
		return err
	}
	if _, err := converge("b30", 30); err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "service create --replicas 30: all running (Docker 3.8–7.3 s)", ms(time.Since(start)), "≤ 1000 ms")
	start = time.Now()
	if _, err := out("service", "scale", "-d", "b30=100"); err != nil {
		return err
	}
	if _, err := converge("b30", 100); err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "service scale 30 → 100: all running", ms(time.Since(start)), "(figure)")
	if _, err := out("service", "rm", "b30"); err != nil {
		return err
	}
	for i := 0; i < 300; i++ {
		if ps, _ := out("ps", "-q"); strings.TrimSpace(ps) == "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	fmt.Printf("%-58s %12s %12s\n", "daemon RSS, idle, swarm active", mb(rssKB(pid)), "≤ 60 MB")
	return benchCluster(bin, dir)
}

// benchCluster forms a 5-daemon cluster (init + 2 manager and 2 worker
// joins) and times it, then kills the leader and times the failover.
func benchCluster(bin, dir string) error {
	type node struct {
		host, addr string
		cmd        *exec.Cmd
	}
	var nodes []*node
	defer func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			n := nodes[i]
			if n.cmd.ProcessState != nil {
				// The killed leader: start it again so it leaves and
				// cleans up its bridge, rules and containers.
				sock := strings.TrimPrefix(n.host, "unix://")
				_ = os.Remove(sock)
				re := exec.Command(n.cmd.Path, n.cmd.Args[1:]...)
				re.Stdout, re.Stderr = n.cmd.Stdout, n.cmd.Stderr
				if re.Start() != nil {
					continue
				}
				n.cmd = re
				for j := 0; j < 250; j++ {
					if _, err := os.Stat(sock); err == nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			{
				c := exec.Command("docker", "-H", n.host, "swarm", "leave", "--force")
				_ = c.Run()
				_ = n.cmd.Process.Signal(syscall.SIGTERM)
				_ = n.cmd.Wait()
			}
		}
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth-bench-c*")
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}()
	for i := 0; i < 5; i++ {
		d := filepath.Join(dir, fmt.Sprintf("c%d", i))
		sock := filepath.Join(d, "s.sock")
		port, err := freePort()
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "daemon", "--host", "unix://"+sock, "--data-root", filepath.Join(d, "data"),
			"--exec-root", filepath.Join(d, "exec"), "--cgroup-parent", fmt.Sprintf("berth-bench-c%d", i), "--bridge", fmt.Sprintf("berthbc%d", i),
			"--bip", fmt.Sprintf("172.29.%d.1/24", 200+i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		logf, _ := os.Create(filepath.Join(d, "daemon.log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		nodes = append(nodes, &node{host: "unix://" + sock, addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd})
		for j := 0; j < 250; j++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	dk := func(n *node, args ...string) (string, error) {
		b, err := exec.Command("docker", append([]string{"-H", n.host}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return strings.TrimSpace(string(b)), nil
	}
	start := time.Now()
	if _, err := dk(nodes[0], "swarm", "init", "--advertise-addr", nodes[0].addr, "--listen-addr", nodes[0].addr); err != nil {
		return err
	}
	mgr, err := dk(nodes[0], "swarm", "join-token", "-q", "manager")
	if err != nil {
		return err
	}
	wrk, err := dk(nodes[0], "swarm", "join-token", "-q", "worker")
	if err != nil {
		return err
	}
	for i := 1; i < 5; i++ {
		tok := mgr
		if i >= 3 {
			tok = wrk
		}
		if _, err := dk(nodes[i], "swarm", "join", "--token", tok, "--listen-addr", nodes[i].addr, "--advertise-addr", nodes[i].addr, nodes[0].addr); err != nil {
			return err
		}
	}
	for time.Since(start) < 60*time.Second {
		ls, _ := dk(nodes[0], "node", "ls")
		if strings.Count(ls, " Ready ") == 5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("%-58s %12s %12s\n", "5-daemon cluster formed (init + 4 joins, all Ready)", ms(time.Since(start)), "≤ 5000 ms")
	_ = nodes[0].cmd.Process.Signal(syscall.SIGKILL)
	_ = nodes[0].cmd.Wait() // sets ProcessState: the clean-up restarts it
	start = time.Now()
	for time.Since(start) < 60*time.Second {
		ls, err := dk(nodes[1], "node", "ls")
		if err == nil {
			for _, l := range strings.Split(ls, "\n") {
				if strings.Contains(l, "Leader") && strings.Contains(l, " Ready ") {
					fmt.Printf("%-58s %12s %12s\n", "leader SIGKILLed: a new leader answering node ls", ms(time.Since(start)), "≤ 3000 ms")
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no new leader within 60 s")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
