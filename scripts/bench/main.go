// Command bench prints berth's performance figures beside their targets.
// It starts a throw-away daemon, measures through the CLI, and cleans up.
// Figures are printed, never asserted: these machines are noisy.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := os.Getenv("BERTH_BINARY")
	if bin == "" {
		bin = "bin/berth"
	}
	dir, err := os.MkdirTemp("/tmp", "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	host := "unix://" + sock
	daemon := exec.Command(bin, "daemon", "--host", host, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--cgroup-parent", "berth-bench", "--bridge", "berthbench0")
	logf, _ := os.Create(filepath.Join(dir, "daemon.log"))
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		return err
	}
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		_, _ = daemon.Process.Wait()
		// The daemon leaves its (empty) cgroup parent; remove it.
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth-bench")
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	env := append(os.Environ(), "BERTH_HOST="+host, "DOCKER_HOST="+host)
	cmd := func(name string, args ...string) error {
		c := exec.Command(name, args...)
		c.Env = env
		var errb bytes.Buffer
		c.Stderr = &errb
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
		}
		return nil
	}
	var tarball bytes.Buffer
	if err := testenv.WriteBusyboxRootfs(&tarball); err != nil {
		return err
	}
	imp := exec.Command("docker", "import", "-", "busybox")
	imp.Env, imp.Stdin = env, &tarball
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v: %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	idleRSS := rssKB(daemon.Process.Pid)

	fmt.Printf("%-58s %12s %12s\n", "figure", "berth", "target")
	// BENCH_ONLY=visualizer,swarm (the groups below) prints only those.
	want := func(group string) bool {
		only := os.Getenv("BENCH_ONLY")
		return only == "" || slices.Contains(strings.Split(only, ","), group)
	}
	median := func(name string, args ...string) (time.Duration, error) {
		var ds []time.Duration
		for i := 0; i < 21; i++ {
			start := time.Now()
			if err := cmd(name, args...); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2], nil
	}
	if want("containers") {
		if d, err := median(bin, "run", "--rm", "--network", "none", "busybox", "true"); err == nil {
			fmt.Printf("%-58s %12s %12s\n", "berth run --rm --network none busybox true (median)", ms(d), "≤ 40 ms")
		} else {
			fmt.Printf("%-58s %12s %12s\n", "berth run --rm --network none busybox true (median)", "error", "≤ 40 ms")
			fmt.Fprintln(os.Stderr, err)
		}
		if d, err := median("docker", "run", "--rm", "--network", "none", "busybox", "true"); err == nil {
			fmt.Printf("%-58s %12s %12s\n", "docker CLI → berth: run --rm --network none busybox true", ms(d), "(reference)")
		}
		if d, err := median(bin, "run", "--rm", "busybox", "true"); err == nil {
			fmt.Printf("%-58s %12s %12s\n", "berth run --rm busybox true, default bridge (median)", ms(d), "≤ 55 ms")
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if want("ports") {
		if err := benchPublishedPorts(bin, env); err != nil {
			fmt.Fprintln(os.Stderr, "published port figures:", err)
		}
	}
	if want("containers") {
		start := time.Now()
		for i := 0; i < 20; i++ {
			if err := cmd(bin, "run", "-d", "--network", "none", "busybox", "sleep", "1000"); err != nil {
				return err
			}
		}
		fmt.Printf("%-58s %12s %12s\n", "20 sequential run -d (total)", ms(time.Since(start)), "≤ 800 ms")
		time.Sleep(500 * time.Millisecond)
		busyRSS := rssKB(daemon.Process.Pid)
		shims := 0
		shimRSS := 0
		for _, pid := range pidsMatching(filepath.Join(dir, "exec")) {
			shims++
			// PSS: the shims share the berth binary's pages; count each
			// process's proportional share rather than every shared page.
			shimRSS += pssKB(pid)
		}
		fmt.Printf("%-58s %12s %12s\n", "daemon RSS, idle", mb(idleRSS), "≤ 40 MB")
		if shims > 0 {
			per := (busyRSS - idleRSS + shimRSS) / 20
			fmt.Printf("%-58s %12s %12s\n", "extra memory per running container (daemon RSS growth + shim PSS)", mb(per), "≤ 3 MB")
		}
	}
	if want("registry") {
		if err := benchRegistry(bin, env, cmd, dir); err != nil {
			fmt.Fprintln(os.Stderr, "registry figures:", err)
		}
	}
	if want("build") {
		if err := benchBuild(cmd, dir); err != nil {
			fmt.Fprintln(os.Stderr, "build bench:", err)
		}
	}
	if want("swarm") {
		if err := benchSwarm(bin, env, dir, daemon.Process.Pid); err != nil {
			fmt.Fprintln(os.Stderr, "swarm figures:", err)
		}
	}
	if want("visualizer") {
		if err := benchVisualizer(bin, env); err != nil {
			fmt.Fprintln(os.Stderr, "visualizer figures:", err)
		}
	}
	if want("machine") {
		if err := benchMachine(bin); err != nil {
			fmt.Fprintln(os.Stderr, "machine figures:", err)
		}
	}
	if want("stack") {
		if err := benchStack(bin); err != nil {
			fmt.Fprintln(os.Stderr, "stack figures:", err)
		}
	}
	out, _ := exec.Command("docker", "-H", host, "ps", "-aq").Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = cmd("docker", append([]string{"rm", "-f"}, ids...)...)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mb(kb int) string          { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func pssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return rssKB(pid)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// pidsMatching lists shim processes (their cmdline names the exec root).
func pidsMatching(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(b), "shim") && strings.Contains(string(b), s) {
			out = append(out, pid)
		}
	}
	return out
}

// benchPublishedPorts compares a published port with the container's own
// address: bulk TCP throughput into a sink, and new HTTP connections per
// second against busybox httpd.
func benchPublishedPorts(bin string, env []string) error {
	out := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		b, err := c.Output()
		return strings.TrimSpace(string(b)), err
	}
	script := `printf '#!/bin/sh\nexec cat >/dev/null\n' >/sink && chmod +x /sink && mkdir -p /www && echo ok >/www/index.html && httpd -p 80 -h /www && exec nc -ll -p 5000 -e /sink`
	if _, err := out("run", "-d", "--name", "netbench", "-p", "127.0.0.1::5000", "-p", "127.0.0.1::80", "busybox", "sh", "-c", script); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer out("rm", "-f", "netbench")
	ip, err := out("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "netbench")
	if err != nil {
		return err
	}
	hostAddr := func(port string) (string, error) {
		s, err := out("port", "netbench", port)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(strings.Split(s, "\n")[0]), nil
	}
	sinkPub, err := hostAddr("5000/tcp")
	if err != nil {
		return err
	}
	webPub, err := hostAddr("80/tcp")
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	const size = 256 << 20
	buf := make([]byte, 1<<20)
	throughput := func(addr string) (float64, error) {
		best := 0.0
		for i := 0; i < 5; i++ {
			start := time.Now()
			c, err := net.Dial("tcp4", addr)
			if err != nil {
				return 0, err
			}
			for n := 0; n < size; n += len(buf) {
				if _, err := c.Write(buf); err != nil {
					c.Close()
					return 0, err
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
			c.Close()
			if mbs := float64(size) / (1 << 20) / time.Since(start).Seconds(); mbs > best {
				best = mbs
			}
		}
		return best, nil
	}
	connRate := func(addr string) (float64, error) {
		n := 0
		start := time.Now()
		for time.Since(start) < 2*time.Second {
			c, err := net.Dial("tcp4", addr)
			if err != nil {
				return 0, err
			}
			_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
			_, _ = io.Copy(io.Discard, c)
			c.Close()
			n++
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	direct, err := throughput(ip + ":5000")
	if err != nil {
		return err
	}
	pub, err := throughput(sinkPub)
	if err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "TCP throughput, container IP (MB/s)", fmt.Sprintf("%.0f", direct), "")
	fmt.Printf("%-58s %12s %12s\n", "TCP throughput, published port (% of direct)", fmt.Sprintf("%.0f %%", 100*pub/direct), "≥ 90 %")
	cd, err := connRate(ip + ":80")
	if err != nil {
		return err
	}
	cp, err := connRate(webPub)
	if err != nil {
		return err
	}
	fmt.Printf("%-58s %12s %12s\n", "new connections/s, container IP", fmt.Sprintf("%.0f", cd), "")
	fmt.Printf("%-58s %12s %12s\n", "new connections/s, published port (% of direct)", fmt.Sprintf("%.0f %%", 100*cp/cd), "≥ 90 %")
	return nil
}
