package system

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/cli/command"
)

func TestPrintInfo(t *testing.T) {
	i := system.Info{
		Containers: 3, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 2, Images: 4, ServerVersion: "9.9",
		Driver: "overlay2", DriverStatus: [][2]string{{"Backing Filesystem", "extfs"}}, LoggingDriver: "json-file",
		CgroupDriver: "systemd", CgroupVersion: "2", SecurityOptions: []string{"name=seccomp,profile=builtin", "name=cgroupns"},
		KernelVersion: "6.1", OperatingSystem: "Debian", OSType: "linux", Architecture: "x86_64", NCPU: 2, MemTotal: 3 << 29,
		Name: "host", ID: "abc", DockerRootDir: "/var/lib/berth", Debug: true, ExperimentalBuild: false, LiveRestoreEnabled: true,
	}
	var b bytes.Buffer
	printInfo(&b, i)
	want := []string{"Client:", " Version:    " + command.Version, "", "Server:",
		" Containers: 3", "  Running: 1", "  Paused: 0", "  Stopped: 2", " Images: 4", " Server Version: 9.9", " Storage Driver: overlay2",
		"  Backing Filesystem: extfs", " Logging Driver: json-file", " Cgroup Driver: systemd", " Cgroup Version: 2",
		" Security Options:", "  seccomp,profile=builtin", "  cgroupns",
		" Kernel Version: 6.1", " Operating System: Debian", " OSType: linux", " Architecture: x86_64", " CPUs: 2", " Total Memory: 1.5GiB",
		" Name: host", " ID: abc", " Docker Root Dir: /var/lib/berth", " Debug Mode: true", " Experimental: false", " Live Restore Enabled: true", "",
	}
	if got := strings.Split(b.String(), "\n"); !slices.Equal(got, want) {
		t.Errorf("info lines:\n%q\nwant:\n%q", got, want)
	}
}
