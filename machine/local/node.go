package local

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// NodeMain is the node's first process (`berth machine-node DIR HOSTNAME
// -- DAEMON ARGS…`), started by the driver in new network, UTS and mount
// namespaces. It waits on fd 3 until the driver has plugged its network
// and cgroup, gives the node its hostname and its own /var/lib/berth,
// /run/berth and /home (/home/docker is the machine's home), and becomes
// the node's berth daemon.
func NodeMain(args []string) int {
	if len(args) < 3 || args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: berth machine-node DIR HOSTNAME -- DAEMON-ARGS...")
		return 2
	}
	dir, hostname, daemonArgs := args[0], args[1], args[3:]
	sync := os.NewFile(3, "sync")
	var b [1]byte
	if n, _ := sync.Read(b[:]); n != 1 || b[0] != 'G' {
		fmt.Fprintln(os.Stderr, "machine-node: the driver gave up before the node was ready")
		return 1
	}
	sync.Close()
	if err := nodeMounts(dir); err != nil {
		fmt.Fprintln(os.Stderr, "machine-node:", err)
		return 1
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		fmt.Fprintln(os.Stderr, "machine-node: set hostname:", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "machine-node:", err)
		return 1
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
	err = syscall.Exec(self, append([]string{self, "daemon"}, daemonArgs...), env)
	fmt.Fprintln(os.Stderr, "machine-node: exec daemon:", err)
	return 1
}

// nodeMounts gives the node its own directories (the mount namespace is
// the node's: nothing here is seen by the host). The sources are opened
// first: a store under /var/lib/berth or /home is hidden by the mounts.
func nodeMounts(dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	binds := [][2]string{{"lib", "/var/lib/berth"}, {"run", "/run/berth"}, {"home", "/home/docker"}}
	src := make([]*os.File, len(binds))
	for i, b := range binds {
		p := filepath.Join(dir, b[0])
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		src[i] = f
	}
	if err := os.MkdirAll("/home", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/home", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m"); err != nil {
		return fmt.Errorf("mount /home: %w", err)
	}
	for i, b := range binds {
		if err := os.MkdirAll(b[1], 0o755); err != nil {
			return err
		}
		from := fmt.Sprintf("/proc/self/fd/%d", src[i].Fd())
		if err := unix.Mount(from, b[1], "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", filepath.Join(dir, b[0]), b[1], err)
		}
	}
	return nil
}
