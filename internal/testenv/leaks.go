package testenv

import (
	"os/exec"
	"slices"

	"github.com/google/nftables"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// mountsUnder lists mount points at or below dir.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := strings.ReplaceAll(f[4], `\040`, " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

func unmountUnder(dir string) {
	for _, mp := range mountsUnder(dir) {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}

// processesMentioning lists PIDs whose command line mentions s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), s) {
			out = append(out, pid)
		}
	}
	return out
}

func killProcessesMentioning(s string) {
	for _, pid := range processesMentioning(s) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// cgroupDirs lists the cgroup directories named parent in any hierarchy.
func cgroupDirs(parent string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		p := filepath.Join(r, parent)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// containerCgroups lists container cgroups left under parent.
func containerCgroups(parent string) []string {
	var out []string
	for _, p := range cgroupDirs(parent) {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out
}

func removeCgroups(parent string) {
	for _, p := range containerCgroups(parent) {
		_ = os.Remove(p)
	}
	for _, p := range cgroupDirs(parent) {
		_ = os.Remove(p)
	}
}

// CheckLeaks fails the test if the stopped daemon left mounts, processes
// or container cgroups behind.
func CheckLeaks(t testing.TB, d *Daemon) {
	t.Helper()
	if m := mountsUnder(d.Dir); len(m) > 0 {
		t.Errorf("leaked mounts: %v", m)
		unmountUnder(d.Dir)
	}
	if p := processesMentioning(d.ExecRoot); len(p) > 0 {
		t.Errorf("leaked processes: %v", p)
		killProcessesMentioning(d.ExecRoot)
	}
	if c := containerCgroups(d.CgroupParent); len(c) > 0 {
		t.Errorf("leaked cgroups: %v", c)
	}
}

// checkNetworkLeaks fails the test if a stopped daemon (with no containers
// left) kept its bridges, a veth on them, or its nftables table.
func checkNetworkLeaks(t testing.TB, defaultBridge string, bridges []string) {
	t.Helper()
	for _, b := range bridges {
		if _, err := os.Stat("/sys/class/net/" + b); err == nil {
			ports, _ := filepath.Glob("/sys/class/net/" + b + "/brif/*")
			t.Errorf("leaked bridge %s (ports %v)", b, ports)
			_ = exec.Command("ip", "link", "del", b).Run()
		}
	}
	if tables := NFTables(); slices.Contains(tables, "berth-"+defaultBridge) {
		t.Errorf("leaked nftables table berth-%s", defaultBridge)
		if c, err := nftables.New(); err == nil {
			c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "berth-" + defaultBridge})
			_ = c.Flush()
		}
	}
}

// NFTables lists the names of the host's IPv4 nftables tables.
func NFTables() []string {
	c, err := nftables.New()
	if err != nil {
		return nil
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}
