// Package spec turns a container's Docker-style settings into a complete
// OCI runtime spec with Docker's security defaults: the default capability
// set, masked and read-only /proc paths, a minimal /dev, a seccomp
// allowlist modelled on Docker's (or a custom profile in Docker's format),
// and resource limits. --privileged lifts the restrictions.
package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/rlimit"
)

// Mount is one -v / --mount / --tmpfs mount, resolved to host paths.
type Mount struct {
	Source, Destination string
	Type                string // "bind", "volume" (a host dir) or "tmpfs"
	ReadOnly            bool
	Options             []string
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Options are a container's settings, as the daemon resolved them.
type Options struct {
	ID, Hostname string
	Rootfs       string
	Args, Env    []string
	Cwd          string
	User         string
	GroupAdd     []string
	Tty          bool

	ReadonlyRootfs, Privileged, NoNewPrivileges, SeccompUnconfined bool
	CapAdd, CapDrop                                                []string
	// SeccompProfile replaces the default seccomp profile
	// (--security-opt seccomp=PROFILE.json); nil keeps the default.
	SeccompProfile *SeccompProfile

	Mounts   []Mount
	EtcFiles map[string]string // container path → host file

	NetworkMode string // "host", or anything else for a new namespace
	NetNSPath   string // join this network namespace (bridge networking)

	Memory, MemorySwap, MemoryReservation int64
	NanoCPUs, CPUShares, CPUQuota         int64
	CPUPeriod                             int64
	CpusetCpus, CpusetMems                string
	PidsLimit                             *int64
	OomKillDisable                        bool
	ShmSize                               int64
	Sysctls                               map[string]string
	Ulimits                               []Ulimit
	CgroupsPath                           string
	// OOMScoreAdj is --oom-score-adj (0: the daemon's own).
	OOMScoreAdj int
	// HostPID and HostUTS share the host's PID and UTS namespaces
	// (--pid host, --uts host).
	HostPID, HostUTS bool
}

// DefaultCapabilities is Docker's default capability set.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// AllCapabilities is every capability this kernel generation knows.
func AllCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
		"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
		"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
		"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
	}
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

func normalizeCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" {
		return c
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// capabilities applies --cap-add/--cap-drop to the default set.
func capabilities(add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return hostCapabilities(), nil
	}
	known := map[string]bool{}
	for _, c := range AllCapabilities() {
		known[c] = true
	}
	set := map[string]bool{}
	for _, c := range DefaultCapabilities() {
		set[c] = true
	}
	for _, c := range drop {
		c = normalizeCap(c)
		if c == "ALL" {
			set = map[string]bool{}
			continue
		}
		if !known[c] {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CapDrop: unknown capability: %q", c))
		}
		delete(set, c)
	}
	for _, c := range add {
		c = normalizeCap(c)
		if c == "ALL" {
			for _, k := range hostCapabilities() {
				set[k] = true
			}
			continue
		}
		if !known[c] {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CapAdd: unknown capability: %q", c))
		}
		set[c] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// Generate builds the spec with a fresh Generator, for one-off use; the
// daemon keeps one Generator and calls its Generate.
func Generate(o Options) (*specs.Spec, error) {
	return NewGenerator().Generate(o)
}

// Generate builds the spec.
func (g *Generator) Generate(o Options) (*specs.Spec, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	if err := validate(&o); err != nil {
		return nil, err
	}
	uid, gid, groups, err := ResolveUser(o.Rootfs, o.User, o.GroupAdd)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	caps, err := capabilities(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	hostname := o.Hostname
	if o.HostUTS || (hostname == "" && o.NetworkMode == "host") {
		// --network host shows the host's name, as Docker does.
		hostname, _ = os.Hostname()
	}
	defaults := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if o.Tty {
		defaults = append(defaults, "TERM=xterm")
	}
	env := mergeEnv(defaults, o.Env)
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: o.Rootfs, Readonly: o.ReadonlyRootfs},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal: o.Tty,
			User:     specs.User{UID: uid, GID: gid, AdditionalGids: groups},
			Args:     o.Args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: o.NoNewPrivileges,
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: nofile(), Hard: nofile()},
			},
		},
		Linux: &specs.Linux{
			CgroupsPath: "/" + strings.TrimPrefix(o.CgroupsPath, "/"),
			Sysctl:      o.Sysctls,
			Resources:   &specs.LinuxResources{},
		},
	}
	for _, u := range o.Ulimits {
		name := rlimit.SpecType(u.Name)
		replaced := false
		for i := range s.Process.Rlimits {
			if s.Process.Rlimits[i].Type == name {
				s.Process.Rlimits[i] = specs.POSIXRlimit{Type: name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)}
				replaced = true
			}
		}
		if !replaced {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
		}
	}

	// Namespaces.
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.IPCNamespace}}
	if o.HostUTS {
		s.Hostname = "" // the host's name; a shared namespace cannot be renamed
	} else {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if !o.HostPID {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if o.OOMScoreAdj != 0 {
		adj := o.OOMScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	// The cgroup namespace stays the host's: Docker's behaviour on a
	// cgroup v1 host.
	switch {
	case o.NetworkMode == "host":
		// No network namespace: the host's is shared.
	case o.NetNSPath != "":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNSPath})
	default:
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}

	// Mounts.
	shm := o.ShmSize
	if shm <= 0 {
		shm = 64 << 20
	}
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	cgOpts := []string{"ro", "nosuid", "noexec", "nodev"}
	if o.Privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
		cgOpts = []string{"rw", "nosuid", "noexec", "nodev"}
	}
	s.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shm)}},
	}
	// A user mount on a default destination (/dev/shm, /etc/hosts…)
	// replaces the default, as in Docker.
	userDst := map[string]bool{}
	for _, m := range o.Mounts {
		userDst[filepath.Clean(m.Destination)] = true
	}
	kept := s.Mounts[:0]
	for _, m := range s.Mounts {
		if !userDst[m.Destination] {
			kept = append(kept, m)
		}
	}
	s.Mounts = kept
	etc := make([]string, 0, len(o.EtcFiles))
	for dst := range o.EtcFiles {
		etc = append(etc, dst)
	}
	sort.Strings(etc)
	for _, dst := range etc {
		if userDst[filepath.Clean(dst)] {
			continue
		}
		opts := []string{"rbind", "rprivate"}
		if o.ReadonlyRootfs {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: o.EtcFiles[dst], Options: opts})
	}
	user := append([]Mount{}, o.Mounts...)
	// Parents before children.
	sort.SliceStable(user, func(i, j int) bool {
		return strings.Count(filepath.Clean(user[i].Destination), "/") < strings.Count(filepath.Clean(user[j].Destination), "/")
	})
	for _, m := range user {
		switch m.Type {
		case "tmpfs":
			opts := []string{"nosuid", "nodev", "noexec"}
			opts = append(opts, m.Options...)
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case "bind", "volume":
			opts := []string{"rbind"}
			prop := "rprivate"
			for _, o := range m.Options {
				switch o {
				case "shared", "rshared", "slave", "rslave", "private", "rprivate":
					prop = o
				}
			}
			switch prop {
			case "shared", "rshared":
				s.Linux.RootfsPropagation = "rshared"
			case "slave", "rslave":
				if s.Linux.RootfsPropagation == "" {
					s.Linux.RootfsPropagation = "rslave"
				}
			}
			opts = append(opts, prop)
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount type %q", m.Type))
		}
	}

	// Security.
	if !o.Privileged {
		s.Linux.MaskedPaths = maskedPaths
		s.Linux.ReadonlyPaths = readonlyPaths
		if !o.SeccompUnconfined {
			s.Linux.Seccomp = g.seccomp(o.SeccompProfile, caps)
		}
		s.Linux.Resources.Devices = defaultDeviceRules()
	} else {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		devs, err := hostDevices("/dev")
		if err != nil {
			return nil, fmt.Errorf("list host devices: %w", err)
		}
		s.Linux.Devices = devs
	}

	// Resources.
	r := s.Linux.Resources
	if o.Memory > 0 || o.MemoryReservation > 0 || o.OomKillDisable {
		r.Memory = &specs.LinuxMemory{}
		if o.Memory > 0 {
			r.Memory.Limit = &o.Memory
			swap := o.MemorySwap
			if swap == 0 {
				swap = 2 * o.Memory
			}
			if swap < 0 {
				swap = -1
			}
			r.Memory.Swap = &swap
		}
		if o.MemoryReservation > 0 {
			r.Memory.Reservation = &o.MemoryReservation
		}
		if o.OomKillDisable {
			t := true
			r.Memory.DisableOOMKiller = &t
		}
	}
	if o.NanoCPUs > 0 || o.CPUShares > 0 || o.CPUQuota > 0 || o.CPUPeriod > 0 || o.CpusetCpus != "" || o.CpusetMems != "" {
		r.CPU = &specs.LinuxCPU{Cpus: o.CpusetCpus, Mems: o.CpusetMems}
		if o.CPUShares > 0 {
			sh := uint64(o.CPUShares)
			r.CPU.Shares = &sh
		}
		period := uint64(100000)
		if o.CPUPeriod > 0 {
			period = uint64(o.CPUPeriod)
		}
		if o.NanoCPUs > 0 {
			q := o.NanoCPUs * int64(period) / 1e9
			r.CPU.Quota = &q
			r.CPU.Period = &period
		} else if o.CPUQuota > 0 {
			q := o.CPUQuota
			r.CPU.Quota = &q
		}
		if o.CPUPeriod > 0 {
			r.CPU.Period = &period
		}
	}
	if o.PidsLimit != nil && *o.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: o.PidsLimit}
	}
	return s, nil
}

// DefaultPathEnv is the PATH a container gets when its image sets none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const defaultNofile = 1048576

// nofile is Docker's default open-files limit, capped at what this process
// may grant: a container cannot be given more than the daemon's hard limit.
func nofile() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Max < defaultNofile {
		return rl.Max
	}
	return defaultNofile
}

// mergeEnv overlays env on defaults: a variable already present is replaced
// in place, a new one appended, and a bare "NAME" (no '=') removes it.
func mergeEnv(defaults, env []string) []string {
	out := append([]string{}, defaults...)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	var removed []string
	for _, kv := range env {
		k, _, hasValue := strings.Cut(kv, "=")
		if k == "" {
			continue
		}
		if !hasValue {
			removed = append(removed, k)
			continue
		}
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	if len(removed) == 0 {
		return out
	}
	drop := map[string]bool{}
	for _, k := range removed {
		drop[k] = true
	}
	kept := out[:0]
	for _, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			kept = append(kept, kv)
		}
	}
	return kept
}
