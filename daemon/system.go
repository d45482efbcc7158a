package daemon

import (
	"context"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/internal/version"
)

// SystemVersion implements backend.Backend.
func (d *Daemon) SystemVersion(ctx context.Context) system.VersionResponse {
	kernel := kernelVersion()
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth Engine"},
		Version:       version.Version,
		APIVersion:    backend.APIVersion,
		MinAPIVersion: backend.MinAPIVersion,
		Os:            goruntime.GOOS,
		Arch:          goruntime.GOARCH,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernel,
		Components: []system.ComponentVersion{{
			Name:    "Engine",
			Version: version.Version,
			Details: map[string]string{
				"ApiVersion":    backend.APIVersion,
				"MinAPIVersion": backend.MinAPIVersion,
				"Os":            goruntime.GOOS,
				"Arch":          goruntime.GOARCH,
				"GoVersion":     goruntime.Version(),
				"KernelVersion": kernel,
			},
		}},
	}
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// SystemInfo implements backend.Backend.
func (d *Daemon) SystemInfo(ctx context.Context) (*system.Info, error) {
	info := &system.Info{
		ID:                 machineID(d.cfg.DataRoot),
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}},
		MemoryLimit:        true,
		SwapLimit:          true,
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		OomKillDisable:     true,
		IPv4Forwarding:     true,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion(),
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName(),
		OSType:             "linux",
		Architecture:       archName(),
		IndexServerAddress: "https://index.docker.io/v1/",
		NCPU:               goruntime.NumCPU(),
		MemTotal:           memTotal(),
		DockerRootDir:      d.cfg.DataRoot,
		ServerVersion:      version.Version,
		DefaultRuntime:     "berth",
		Runtimes:           map[string]system.RuntimeWithStatus{"berth": {Runtime: system.Runtime{Path: "libcontainer"}}},
		Swarm:              d.SwarmInfo(ctx),
		LiveRestoreEnabled: true,
		Isolation:          "",
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
	}
	info.Name, _ = os.Hostname()
	for _, c := range d.containers.List() {
		info.Containers++
		c.Lock()
		st := c.State
		c.Unlock()
		switch {
		case st.Paused:
			info.ContainersPaused++
		case st.Running:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	if imgs, err := d.images.List(ctx); err == nil {
		info.Images = len(imgs)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		info.NFd = len(fds)
	}
	return info, nil
}

// machineID is a stable ID for this engine, kept in the data root.
func machineID(root string) string {
	p := root + "/engine-id"
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b))
	}
	id := strings.ToUpper(randomHex(16))
	_ = os.WriteFile(p, []byte(id+"\n"), 0o600)
	return id
}

func cgroupVersion() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func archName() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
