package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A node's processes — its daemon, the daemon's shims and containers —
// are all under one cgroup, berth-machines/<id>, in every hierarchy:
// the daemon in <id>/daemon, its containers in <id>/berth (the daemon's
// --cgroup-parent). --cpus and --memory are set on <id>, so they cap the
// node as a whole, and stopping the node kills whatever is left in <id>.

const cgroupRoot = "/sys/fs/cgroup"

// hierarchies lists the cgroup directories to use: the v2 root, or each
// v1 controller's (cpuset needs its cpus and mems copied down before a
// process can join, and the named ones hold no controller: both skipped).
func hierarchies() []string {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []string{cgroupRoot}
	}
	ents, _ := os.ReadDir(cgroupRoot)
	var out []string
	for _, e := range ents {
		switch e.Name() {
		case "cpuset", "systemd", "unified":
			continue
		}
		dir := filepath.Join(cgroupRoot, e.Name())
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue // cpu,cpuacct symlinks
		}
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

// nodeCgroup makes berth-machines/<id> with its limits and puts pid in
// <id>/daemon.
func nodeCgroup(id string, pid int, cpus float64, memory int64) error {
	rel := filepath.Join("berth-machines", id)
	for _, h := range hierarchies() {
		dir := filepath.Join(h, rel)
		if err := os.MkdirAll(filepath.Join(dir, "daemon"), 0o755); err != nil {
			return fmt.Errorf("node cgroup: %w", err)
		}
		if h == cgroupRoot {
			// v2: the controllers must be enabled down to the leaves.
			for _, p := range []string{h, filepath.Join(h, "berth-machines"), dir} {
				_ = os.WriteFile(filepath.Join(p, "cgroup.subtree_control"), []byte("+cpu +memory +pids"), 0o644)
			}
		}
		if err := setLimits(h, dir, cpus, memory); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "daemon", "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("node cgroup %s: %w", dir, err)
		}
	}
	return nil
}

func setLimits(h, dir string, cpus float64, memory int64) error {
	write := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			return fmt.Errorf("node limit %s=%s: %w", file, v, err)
		}
		return nil
	}
	v2 := h == cgroupRoot
	base := filepath.Base(h)
	if cpus > 0 {
		quota := strconv.FormatInt(int64(cpus*100000), 10)
		switch {
		case v2:
			if err := write("cpu.max", quota+" 100000"); err != nil {
				return err
			}
		case base == "cpu" || base == "cpu,cpuacct":
			if err := write("cpu.cfs_period_us", "100000"); err != nil {
				return err
			}
			if err := write("cpu.cfs_quota_us", quota); err != nil {
				return err
			}
		}
	}
	if memory > 0 {
		switch {
		case v2:
			return write("memory.max", strconv.FormatInt(memory, 10))
		case base == "memory":
			return write("memory.limit_in_bytes", strconv.FormatInt(memory, 10))
		}
	}
	return nil
}

// joinCgroup moves the calling process into the node's <id>/ssh cgroup:
// what `machine ssh` runs is capped with the node and ends with it.
func joinCgroup(id string) error {
	for _, h := range hierarchies() {
		dir := filepath.Join(h, "berth-machines", id)
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("node cgroup: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "ssh"), 0o755); err != nil {
			return fmt.Errorf("node cgroup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ssh", "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("join node cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// cgroupPIDs lists the processes anywhere under the node's cgroup.
func cgroupPIDs(id string) []int {
	seen := map[int]bool{}
	for _, h := range hierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, "berth-machines", id), func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					seen[n] = true
				}
			}
			return nil
		})
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// killCgroup kills every process of the node and removes its cgroups.
func killCgroup(id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := cgroupPIDs(id)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node processes %v did not die", pids)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var errs []error
	for _, h := range hierarchies() {
		if err := removeTree(filepath.Join(h, "berth-machines", id)); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(filepath.Join(h, "berth-machines")) // fails while other nodes use it
	}
	return errors.Join(errs...)
}

// removeTree removes a cgroup directory, its children first (cgroup
// directories are removed with rmdir, never by removing their files).
func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	var last error
	for i := 0; i < 50; i++ {
		if last = syscall.Rmdir(dir); last == nil || errors.Is(last, syscall.ENOENT) {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // a killed process leaves its cgroup a moment later
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, last)
}
