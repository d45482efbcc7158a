// Package local is the machine driver that makes a node on this host in
// about a second, with no VM: the node is its own network namespace (an
// address on a host bridge shared by the store's machines, with egress
// NAT), UTS namespace (its hostname is its name) and mount namespace (its
// own /var/lib/berth, /run/berth and /home/docker), running its own
// `berth daemon` under a cgroup of its own that --cpus and --memory cap.
// Its Engine API answers on <machine>/run/berth.sock and on
// tcp://IP:2376 with mutual TLS.
package local

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/machine"
)

// Name is the driver's name in `machine create --driver`.
const Name = "local"

// Driver makes local nodes for one store.
type Driver struct {
	store string // the store's root
	self  string // the berth binary, which each node runs
}

// New returns the local driver of the store at root.
func New(root string) (*Driver, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the berth binary: %w", err)
	}
	return &Driver{store: root, self: self}, nil
}

// nodeID names the node's cgroup; hostIf is its veth on the bridge.
func (d *Driver) nodeID(m *machine.Machine) string { return storeID(d.store) + "-" + m.Name }

func (d *Driver) hostIf(m *machine.Machine) string {
	h := sha256.Sum256([]byte(d.store + "\x00" + m.Name))
	return "bm" + hex.EncodeToString(h[:])[:8]
}

// Socket is the node's Engine API socket as the host sees it.
func Socket(m *machine.Machine) string { return filepath.Join(m.Dir(), "run", "berth.sock") }

// Create gives the machine an address on the store's LAN, its TLS files
// and its directories, and starts it.
func (d *Driver) Create(ctx context.Context, m *machine.Machine, progress io.Writer) error {
	l, err := d.loadLAN()
	if err != nil {
		return err
	}
	ip, err := d.freeIP(l, m.Name)
	if err != nil {
		return err
	}
	m.IP = ip.String()
	st, err := machine.OpenStore(d.store)
	if err != nil {
		return err
	}
	if err := st.Save(m); err != nil { // holds the address while the rest is made
		return err
	}
	fmt.Fprintln(progress, "Copying certs to the local machine directory...")
	if err := st.WriteCerts(m); err != nil {
		return err
	}
	// The node's daemon reads its files at /var/lib/berth (the machine's
	// lib directory), which hides the store when the store is under it.
	nodeCerts := filepath.Join(m.Dir(), "lib", "certs")
	if err := os.MkdirAll(nodeCerts, 0o700); err != nil {
		return err
	}
	for _, f := range []string{certs.CAFile, certs.ServerFile, certs.ServerKeyFile} {
		b, err := os.ReadFile(filepath.Join(m.Dir(), f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(nodeCerts, f), b, 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(m.Dir(), "lib", "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return err
	}
	for _, sub := range []string{"run", "home"} {
		if err := os.MkdirAll(filepath.Join(m.Dir(), sub), 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintln(progress, "Starting the machine's namespaces and Docker Engine...")
	return d.Start(ctx, m)
}

// freeIP is the first address from .100 up that no machine of the store
// holds (docker-machine's VirtualBox numbering).
func (d *Driver) freeIP(l *lan, self string) (netip.Addr, error) {
	st, err := machine.OpenStore(d.store)
	if err != nil {
		return netip.Addr{}, err
	}
	ms, err := st.List()
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[string]bool{}
	for _, m := range ms {
		if m.Name != self {
			used[m.IP] = true
		}
	}
	base := l.Subnet.Masked().Addr().As4()
	for n := 100; n < 255; n++ {
		a := netip.AddrFrom4([4]byte{base[0], base[1], base[2], byte(n)})
		if !used[a.String()] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address on the machine network %s", l.Subnet)
}

// daemonArgs is the node's `berth daemon` command line.
func (d *Driver) daemonArgs(m *machine.Machine) []string {
	c := "/var/lib/berth/certs/"
	return append([]string{
		"--data-root", "/var/lib/berth", "--exec-root", "/run/berth",
		"--config-file", "/var/lib/berth/daemon.json",
		"-H", "unix:///run/berth/berth.sock", "-H", fmt.Sprintf("tcp://%s:%d", m.IP, m.Port),
		"--tlsverify", "--tlscacert", c + certs.CAFile, "--tlscert", c + certs.ServerFile, "--tlskey", c + certs.ServerKeyFile,
		"--cgroup-parent", filepath.Join("berth-machines", d.nodeID(m), "berth"),
	}, m.EngineArgs...)
}

// Start starts a stopped machine's node and waits for its daemon.
func (d *Driver) Start(ctx context.Context, m *machine.Machine) error {
	if pid, ok := d.pid(m); ok {
		return fmt.Errorf("Host %q is already running (pid %d)", m.Name, pid)
	}
	l, err := d.loadLAN()
	if err != nil {
		return err
	}
	if err := d.ensureLAN(l); err != nil {
		return err
	}
	ip, err := netip.ParseAddr(m.IP)
	if err != nil {
		return fmt.Errorf("machine %s has no address: %w", m.Name, err)
	}
	logf, err := os.OpenFile(filepath.Join(m.Dir(), "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	defer w.Close()
	_ = os.Remove(Socket(m))
	args := append([]string{"machine-node", m.Dir(), m.Name, "--"}, d.daemonArgs(m)...)
	cmd := exec.Command(d.self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{r}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start machine %s: %w", m.Name, err)
	}
	r.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		_ = killCgroup(d.nodeID(m), 5*time.Second)
		d.unplug(m)
		return fmt.Errorf("start machine %s: %w", m.Name, err)
	}
	pid := cmd.Process.Pid
	if err := nodeCgroup(d.nodeID(m), pid, m.CPUs, m.Memory); err != nil {
		return fail(err)
	}
	if err := plugNode(l, pid, d.hostIf(m), ip); err != nil {
		return fail(err)
	}
	if err := d.writeBin(m, pid); err != nil {
		return fail(err)
	}
	if err := writePID(m, pid); err != nil {
		return fail(err)
	}
	if _, err := w.Write([]byte("G")); err != nil {
		return fail(fmt.Errorf("release the node: %w", err))
	}
	w.Close()
	if err := waitReady(ctx, m, exited); err != nil {
		_ = os.Remove(pidFile(m))
		return fail(err)
	}
	return nil
}

// writeBin links `berth` and `docker` into the node's /run/berth/bin (the
// PATH of `machine ssh`): docker is the docker CLI where this host has
// one, else berth. /proc/PID/exe reaches the binary even where the
// node's mounts hide its path.
func (d *Driver) writeBin(m *machine.Machine, pid int) error {
	bin := filepath.Join(m.Dir(), "run", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	self := fmt.Sprintf("/proc/%d/exe", pid)
	docker := self
	if p, err := exec.LookPath("docker"); err == nil {
		if abs, err := filepath.Abs(p); err == nil && !strings.HasPrefix(abs, "/home/") && !strings.HasPrefix(abs, "/var/lib/berth/") && !strings.HasPrefix(abs, "/run/berth/") {
			docker = abs
		}
	}
	for name, target := range map[string]string{"berth": self, "docker": docker} {
		link := filepath.Join(bin, name)
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls the node's socket until its daemon answers.
func waitReady(ctx context.Context, m *machine.Machine, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", Socket(m))
	}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := c.Get("http://node/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("its daemon exited:\n%s", logTail(m, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("its daemon did not answer within 30s:\n%s", logTail(m, 15))
		}
	}
}

// logTail is the last n lines of the node's daemon log.
func logTail(m *machine.Machine, n int) string {
	f, err := os.Open(filepath.Join(m.Dir(), "daemon.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Stop stops the node's daemon (SIGTERM, as a shutdown does), then kills
// whatever is left in its cgroup: its namespaces go with its processes.
func (d *Driver) Stop(ctx context.Context, m *machine.Machine) error {
	pid, ok := d.pid(m)
	if ok {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(15 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				deadline = time.Now()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	err := killCgroup(d.nodeID(m), 10*time.Second)
	d.unplug(m)
	_ = os.Remove(pidFile(m))
	_ = os.Remove(Socket(m))
	return err
}

// unplug deletes the host end of the node's veth (the kernel deletes it
// with the namespace too, but not at once).
func (d *Driver) unplug(m *machine.Machine) {
	if link, err := netlink.LinkByName(d.hostIf(m)); err == nil {
		_ = netlink.LinkDel(link)
	}
}

// Remove stops the node and, with the store's last machine, removes the
// machine network.
func (d *Driver) Remove(ctx context.Context, m *machine.Machine) error {
	if err := d.Stop(ctx, m); err != nil {
		return err
	}
	st, err := machine.OpenStore(d.store)
	if err != nil {
		return err
	}
	ms, err := st.List()
	if err != nil {
		return err
	}
	for _, o := range ms {
		if o.Name != m.Name && o.Driver == Name {
			return nil
		}
	}
	return d.removeLAN()
}

// State is Running while the node's daemon process lives.
func (d *Driver) State(ctx context.Context, m *machine.Machine) (machine.State, error) {
	if _, ok := d.pid(m); ok {
		return machine.Running, nil
	}
	return machine.Stopped, nil
}

// Run runs cmd in the node's namespaces with the node's docker on PATH
// and in DOCKER_HOST, in /home/docker; an empty cmd is a login shell on
// the caller's terminal.
func (d *Driver) Run(ctx context.Context, m *machine.Machine, cmd string, stdio machine.Stdio) (int, error) {
	pid, ok := d.pid(m)
	if !ok {
		return 1, fmt.Errorf("Error: Cannot run SSH command: Host %q is not running", m.Name)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return 1, fmt.Errorf("machine ssh needs nsenter (util-linux): %w", err)
	}
	// This process (the CLI) joins the node's cgroup first, so that the
	// command starts in it, as on a machine of its own.
	if err := joinCgroup(d.nodeID(m)); err != nil {
		return 1, err
	}
	// nsenter opens --wd before it enters the mount namespace: the shell
	// changes to the node's home instead.
	if cmd == "" {
		sh := "/bin/sh"
		if _, err := os.Stat("/bin/bash"); err == nil {
			sh = "/bin/bash"
		}
		cmd = "exec " + sh + " -l"
	}
	args := []string{"-t", strconv.Itoa(pid), "-n", "-u", "-m", "--", "/bin/sh", "-c", "cd /home/docker 2>/dev/null; " + cmd}
	c := exec.CommandContext(ctx, nsenter, args...)
	c.Stdin, c.Stdout, c.Stderr = stdio.In, stdio.Out, stdio.Err
	c.Env = []string{
		"PATH=/run/berth/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/home/docker", "USER=docker", "LOGNAME=docker",
		"DOCKER_HOST=unix:///run/berth/berth.sock",
	}
	if t := os.Getenv("TERM"); t != "" {
		c.Env = append(c.Env, "TERM="+t)
	}
	err = c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func pidFile(m *machine.Machine) string { return filepath.Join(m.Dir(), "node.pid") }

// writePID records the node's PID and its start time (a PID alone could
// be another process's after a reboot).
func writePID(m *machine.Machine, pid int) error {
	st, err := startTime(pid)
	if err != nil {
		return err
	}
	return os.WriteFile(pidFile(m), []byte(fmt.Sprintf("%d %s\n", pid, st)), 0o600)
}

// pid is the running node's daemon PID.
func (d *Driver) pid(m *machine.Machine) (int, bool) {
	b, err := os.ReadFile(pidFile(m))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, false
	}
	if st, err := startTime(pid); err != nil || st != f[1] || !alive(pid) {
		return 0, false // gone, another process, or a zombie (a killed node not reaped yet)
	}
	return pid, true
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return f[19], nil
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// Leftovers lists what the store's machines hold on this host: their
// cgroups and the processes in them, the store's bridge and its nftables
// table. After the last `machine rm` it is empty (tests check it).
func Leftovers(store string) []string {
	var out []string
	prefix := storeID(store) + "-"
	for _, h := range hierarchies() {
		ents, _ := os.ReadDir(filepath.Join(h, "berth-machines"))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				id := e.Name()
				out = append(out, "cgroup "+filepath.Join(h, "berth-machines", id))
				for _, p := range cgroupPIDs(id) {
					cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
					out = append(out, fmt.Sprintf("process %d %s", p, strings.ReplaceAll(string(cmdline), "\x00", " ")))
				}
			}
		}
	}
	bridge := "bm-" + storeID(store)
	if _, err := netlink.LinkByName(bridge); err == nil {
		out = append(out, "bridge "+bridge)
	}
	if c, err := nftables.New(); err == nil {
		if ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4); err == nil {
			for _, t := range ts {
				if t.Name == bridge {
					out = append(out, "nftables table ip "+bridge)
				}
			}
		}
	}
	return out
}

// NodePIDs lists the processes of a store's machine (its cgroup's).
func NodePIDs(store, name string) []int { return cgroupPIDs(storeID(store) + "-" + name) }
