package testenv

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/machine/local"
)

// Machines is a temporary `berth machine` store. Its cleanup removes
// every machine in it and fails the test if any cgroup, process, bridge
// or nftables table of the store is left on the host.
type Machines struct {
	t     testing.TB
	bin   string
	Store string
}

// NewMachines makes an empty machine store for the test.
func NewMachines(t testing.TB) *Machines {
	t.Helper()
	RequireRoot(t)
	ms := &Machines{t: t, bin: Binary(t), Store: t.TempDir()}
	t.Cleanup(ms.cleanup)
	return ms
}

// Run runs `berth ARGS…` with the store in BERTH_MACHINE_STORAGE_PATH and
// extra environment (KEY=VALUE) on top of the test's.
func (ms *Machines) Run(stdin io.Reader, env []string, args ...string) Result {
	return ms.Exec(stdin, env, ms.bin, args...)
}

// Exec runs a program with the store's environment (Run's) and env.
func (ms *Machines) Exec(stdin io.Reader, env []string, name string, args ...string) Result {
	base := []string{"BERTH_MACHINE_STORAGE_PATH=" + ms.Store, "DOCKER_CONFIG=" + filepath.Join(ms.Store, "docker-config")}
	return runCommand(append(base, env...), stdin, 90*time.Second, name, args...)
}

// Machine runs `berth machine ARGS…`.
func (ms *Machines) Machine(args ...string) Result {
	return ms.Run(nil, nil, append([]string{"machine"}, args...)...)
}

// MustMachine runs `berth machine ARGS…` and fails the test on a non-zero
// exit; it returns stdout.
func (ms *Machines) MustMachine(args ...string) string {
	ms.t.Helper()
	r := ms.Machine(args...)
	if r.Code != 0 {
		ms.t.Fatalf("berth machine %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// Create makes a local machine.
func (ms *Machines) Create(name string, args ...string) {
	ms.t.Helper()
	ms.MustMachine(append(append([]string{"create"}, args...), name)...)
}

// Socket is a local machine's Engine API socket on the host.
func (ms *Machines) Socket(name string) string {
	return filepath.Join(ms.Store, name, "run", "berth.sock")
}

// Docker runs the docker CLI against a local machine's socket.
func (ms *Machines) Docker(name string, args ...string) Result { return ms.docker(name, args...) }

// MustDocker runs the docker CLI against a machine and fails the test on
// a non-zero exit.
func (ms *Machines) MustDocker(name string, args ...string) string {
	ms.t.Helper()
	r := ms.docker(name, args...)
	if r.Code != 0 {
		ms.t.Fatalf("docker %s on %s: %s", strings.Join(args, " "), name, r)
	}
	return r.Stdout
}

func (ms *Machines) docker(name string, args ...string) Result {
	return ms.Exec(nil, []string{"DOCKER_HOST=unix://" + ms.Socket(name)}, "docker", args...)
}

// ImportBusybox imports the busybox rootfs into a machine as ref.
func (ms *Machines) ImportBusybox(name, ref string) {
	ms.t.Helper()
	ms.MustDocker(name, "import", BusyboxRootfsTar(ms.t), ref)
}

// Leftovers is what the store's machines hold on the host.
func (ms *Machines) Leftovers() []string { return local.Leftovers(ms.Store) }

func (ms *Machines) cleanup() {
	names := strings.Fields(ms.Machine("ls", "-q").Stdout)
	if len(names) > 0 {
		if r := ms.Machine(append([]string{"rm", "-f", "-y"}, names...)...); r.Code != 0 {
			ms.t.Errorf("cleanup: machine rm: %s", r)
		}
	}
	if left := ms.Leftovers(); len(left) > 0 {
		ms.t.Errorf("machines left behind:\n%s", strings.Join(left, "\n"))
		for _, n := range names {
			b, _ := os.ReadFile(filepath.Join(ms.Store, n, "daemon.log"))
			ms.t.Logf("%s daemon.log:\n%s", n, tail(string(b), 40))
		}
	}
}

// String names the store, for messages.
func (ms *Machines) String() string { return fmt.Sprintf("machine store %s", ms.Store) }

// Exists reports whether the store has a directory for the machine.
func (ms *Machines) Exists(name string) bool {
	_, err := os.Stat(filepath.Join(ms.Store, name))
	return err == nil
}

// T is the test the store belongs to.
func (ms *Machines) T() testing.TB { return ms.t }

// KillNode SIGKILLs every process of a local machine, as if its host
// died; the machine is then Stopped.
func (ms *Machines) KillNode(name string) {
	ms.t.Helper()
	pids := local.NodePIDs(ms.Store, name)
	if len(pids) == 0 {
		ms.t.Fatalf("machine %s has no processes", name)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}
