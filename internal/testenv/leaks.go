package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	bolt "go.etcd.io/bbolt"
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
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i:]), ") Z") {
				continue // a zombie: gone, but not yet reaped
			}
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
// or container cgroups behind, blobs in its data root that no image
// references, or temporary files of pulls, pushes or blob writes.
func CheckLeaks(t testing.TB, d *Daemon) {
	t.Helper()
	if m := mountsUnder(d.Dir); len(m) > 0 {
		t.Errorf("leaked mounts: %v", m)
		unmountUnder(d.Dir)
	}
	// A process killed a moment ago may still be on its way out.
	p := processesMentioning(d.ExecRoot)
	for deadline := time.Now().Add(3 * time.Second); len(p) > 0 && time.Now().Before(deadline); p = processesMentioning(d.ExecRoot) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(p) > 0 {
		t.Errorf("leaked processes: %v", describe(p))
		killProcessesMentioning(d.ExecRoot)
	}
	if c := containerCgroups(d.CgroupParent); len(c) > 0 {
		t.Errorf("leaked cgroups: %v", c)
	}
	blobs, err := unreferencedBlobs(d.DataRoot)
	if err != nil {
		t.Errorf("check blobs: %v", err)
	}
	if len(blobs) > 0 {
		t.Errorf("leaked blobs no image references: %v", blobs)
	}
	if tmp := tempLeftovers(d.DataRoot); len(tmp) > 0 {
		t.Errorf("leaked temporary files: %v", tmp)
	}
}

// unreferencedBlobs lists the blobs under <data-root>/blobs/sha256 that no
// image references. It reads the image store as daemon/image lays it out
// (the daemon must be stopped): the "images" bucket of meta.db is keyed by
// image ID, which is the digest of the image's config blob, and the
// config's rootfs.diff_ids are the digests of its layer blobs. The build
// cache refers to images only, so it keeps no other blob alive.
func unreferencedBlobs(dataRoot string) ([]string, error) {
	blobDir := filepath.Join(dataRoot, "blobs", "sha256")
	entries, err := os.ReadDir(blobDir)
	if err != nil || len(entries) == 0 {
		return nil, nil // no image store (yet), or no blob
	}
	db, err := bolt.Open(filepath.Join(dataRoot, "meta.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s/meta.db: %w", dataRoot, err)
	}
	defer db.Close()
	var ids []string
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("images"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read image records: %w", err)
	}
	used := map[string]bool{}
	for _, id := range ids {
		hex := strings.TrimPrefix(id, "sha256:")
		used[hex] = true
		raw, err := os.ReadFile(filepath.Join(blobDir, hex))
		if err != nil {
			return nil, fmt.Errorf("image %s: config blob: %w", id, err)
		}
		var cfg struct {
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("image %s: config: %w", id, err)
		}
		for _, d := range cfg.RootFS.DiffIDs {
			used[strings.TrimPrefix(d, "sha256:")] = true
		}
	}
	var out []string
	for _, e := range entries {
		if !used[e.Name()] {
			out = append(out, "sha256:"+e.Name())
		}
	}
	return out, nil
}

// tempLeftovers lists what is left in the daemon's temporary dirs: pull
// and push files (<data-root>/tmp) and blob writes and loads
// (<data-root>/blobs/tmp). A stopped daemon with no operation under way
// has nothing there.
func tempLeftovers(dataRoot string) []string {
	var out []string
	for _, dir := range []string{filepath.Join(dataRoot, "tmp"), filepath.Join(dataRoot, "blobs", "tmp")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// checkNetworkLeaks fails the test if a stopped daemon (with no containers
// left) kept its bridges, a veth on them, or its nftables table.
func checkNetworkLeaks(t testing.TB, defaultBridge string, bridges []string) {
	t.Helper()
	for _, b := range bridges {
		if _, err := os.Stat("/sys/class/net/" + b); err == nil {
			ports, _ := filepath.Glob("/sys/class/net/" + b + "/brif/*")
			if strings.HasPrefix(b, "ov-") && len(ports) > 0 {
				continue // a swarm network's bridge another daemon of the swarm on this host still uses
			}
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

// describe names each PID with its command line, for a leak report.
func describe(pids []int) []string {
	out := make([]string, 0, len(pids))
	for _, pid := range pids {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
		out = append(out, fmt.Sprintf("%d %s (in %s)", pid, strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "), cwd))
	}
	return out
}
