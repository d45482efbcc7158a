package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/rlimit"
)

const minMemory = 6 * 1024 * 1024

func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// validate checks the resource settings the way dockerd does, with its
// wording, before anything reaches the runtime.
func validate(o *Options) error {
	if o.Memory != 0 && o.Memory < minMemory {
		return invalid("Minimum memory limit allowed is 6MB")
	}
	if o.MemoryReservation != 0 && o.MemoryReservation < minMemory {
		return invalid("Minimum memory reservation allowed is 6MB")
	}
	if o.Memory > 0 && o.MemoryReservation > 0 && o.Memory < o.MemoryReservation {
		return invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if o.MemorySwap > 0 && o.Memory <= 0 {
		return invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if o.Memory > 0 && o.MemorySwap > 0 && o.MemorySwap < o.Memory {
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if ncpu := int64(goruntime.NumCPU()); o.NanoCPUs < 0 || o.NanoCPUs > ncpu*1e9 {
		return invalid("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	}
	if o.NanoCPUs > 0 && o.CPUPeriod > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if o.NanoCPUs > 0 && o.CPUQuota > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if o.CPUPeriod != 0 && (o.CPUPeriod < 1000 || o.CPUPeriod > 1000000) {
		return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if o.CPUQuota > 0 && o.CPUQuota < 1000 {
		return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if o.CPUShares < 0 {
		return invalid("invalid CPU shares: %d", o.CPUShares)
	}
	if o.ShmSize < 0 {
		return invalid("SHM size can not be less than 0")
	}
	for _, u := range o.Ulimits {
		if !rlimit.Known(strings.ToLower(u.Name)) {
			return invalid("invalid ulimit type: %s", u.Name)
		}
		if u.Hard >= 0 && (u.Soft < 0 || u.Soft > u.Hard) {
			return invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
		}
	}
	for _, m := range o.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return invalid("invalid mount config: mount path must be absolute: %q", m.Destination)
		}
		if filepath.Clean(m.Destination) == "/" {
			return invalid("invalid specification: destination can't be '/'")
		}
	}
	return nil
}

func devRule(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

// defaultDeviceRules is the device cgroup of an unprivileged container:
// deny everything, then allow mknod and the standard character devices.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		devRule("c", -1, -1, "m"),    // mknod any char device
		devRule("b", -1, -1, "m"),    // mknod any block device
		devRule("c", 1, 3, "rwm"),    // /dev/null
		devRule("c", 1, 5, "rwm"),    // /dev/zero
		devRule("c", 1, 7, "rwm"),    // /dev/full
		devRule("c", 1, 8, "rwm"),    // /dev/random
		devRule("c", 1, 9, "rwm"),    // /dev/urandom
		devRule("c", 5, 0, "rwm"),    // /dev/tty
		devRule("c", 5, 1, "rwm"),    // /dev/console
		devRule("c", 5, 2, "rwm"),    // /dev/ptmx
		devRule("c", 136, -1, "rwm"), // /dev/pts/*
		devRule("c", 10, 200, "rwm"), // /dev/net/tun
	}
}

// hostDevices lists the device nodes under dir for a privileged container,
// leaving out the per-container pseudo filesystems and the console.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && (os.IsNotExist(err) || os.IsPermission(err)) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				if path != dir {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if path == filepath.Join(dir, "console") {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil // vanished meanwhile
		}
		var typ string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil
		}
		mode := fs.FileMode(st.Mode & 0o7777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path:     path,
			Type:     typ,
			Major:    int64(unix.Major(st.Rdev)),
			Minor:    int64(unix.Minor(st.Rdev)),
			FileMode: &mode,
			UID:      &uid,
			GID:      &gid,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HostCapabilities is every capability this host lets a process hold:
// what a privileged container or `exec --privileged` gets.
func HostCapabilities() []string { return hostCapabilities() }

// hostCapabilities is every capability in this process' bounding set: what
// a privileged container (or --cap-add ALL) may actually be given. The
// AllCapabilities list is in kernel bit order.
func hostCapabilities() []string {
	var out []string
	for bit, name := range AllCapabilities() {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(bit), 0, 0, 0); err == nil && ok == 1 {
			out = append(out, name)
		}
	}
	return out
}
