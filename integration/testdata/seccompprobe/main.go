// Command seccompprobe makes the syscalls named on its command line and
// prints one "name=result" line for each: "ok", or the errno's name
// (EPERM, ENOSYS…). The seccomp integration test runs it in containers.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// addrNoRandomize is the ADDR_NO_RANDOMIZE persona flag, one the default
// profile refuses.
const addrNoRandomize = 0x0040000

func raw(trap uintptr, a ...uintptr) error {
	var args [6]uintptr
	copy(args[:], a)
	_, _, e := unix.Syscall6(trap, args[0], args[1], args[2], args[3], args[4], args[5])
	if e != 0 {
		return e
	}
	return nil
}

// run starts /bin/true through clone with flags (fork/exec).
func run(flags uintptr) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	return cmd.Run()
}

func socket(family int) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

var probes = map[string]func() error{
	"fork_exec":     func() error { return run(0) },
	"clone_newuser": func() error { return run(unix.CLONE_NEWUSER) },
	"clone_newns":   func() error { return run(unix.CLONE_NEWNS) },
	// clone3(NULL, 0): EINVAL from the kernel (size too small), so no
	// child is ever made; ENOSYS means the filter answered.
	"clone3":          func() error { return raw(unix.SYS_CLONE3, 0, 0) },
	"unshare_newuser": func() error { return raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER) },
	"io_uring_setup": func() error {
		var params [120]byte
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if e != 0 {
			return e
		}
		unix.Close(int(fd))
		return nil
	},
	"io_uring_enter":          func() error { return raw(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0, 0, 0, 0) },
	"io_uring_register":       func() error { return raw(unix.SYS_IO_URING_REGISTER, ^uintptr(0), 0, 0, 0) },
	"socket_vsock":            func() error { return socket(unix.AF_VSOCK) },
	"socket_inet":             func() error { return socket(unix.AF_INET) },
	"socket_unix":             func() error { return socket(unix.AF_UNIX) },
	"personality_query":       func() error { return raw(unix.SYS_PERSONALITY, 0xffffffff) },
	"personality_linux":       func() error { return raw(unix.SYS_PERSONALITY, 0) },
	"personality_norandomize": func() error { return raw(unix.SYS_PERSONALITY, addrNoRandomize) },
	"pidfd_getfd":             func() error { return raw(unix.SYS_PIDFD_GETFD, ^uintptr(0), 0, 0) },
	"process_madvise":         func() error { return raw(unix.SYS_PROCESS_MADVISE, ^uintptr(0), 0, 0, 0, 0) },
	"migrate_pages":           func() error { return raw(unix.SYS_MIGRATE_PAGES, 0, 0, 0, 0) },
	"set_mempolicy_home_node": func() error { return raw(unix.SYS_SET_MEMPOLICY_HOME_NODE, 0, 0, 0, 0) },
	"mount_setattr":           func() error { return raw(unix.SYS_MOUNT_SETATTR, ^uintptr(0), 0, 0, 0, 0) },
	"fanotify_init":           func() error { return raw(unix.SYS_FANOTIFY_INIT, 0, 0) },
	"vhangup":                 func() error { return raw(unix.SYS_VHANGUP) },
	"keyctl":                  func() error { return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, ^uintptr(0), 0) },
	"mkdir":                   func() error { return unix.Mkdir("/tmp/seccompprobe-dir", 0o755) },
	"getpid":                  func() error { return raw(unix.SYS_GETPID) },
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: seccompprobe PROBE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		p, ok := probes[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown probe %q\n", name)
			os.Exit(2)
		}
		res := "ok"
		if err := p(); err != nil {
			var errno syscall.Errno
			var ee *exec.ExitError
			switch {
			case errors.As(err, &errno):
				res = unix.ErrnoName(errno)
			case errors.As(err, &ee):
				res = "exit" + fmt.Sprint(ee.ExitCode())
			default:
				res = "error:" + err.Error()
			}
		}
		fmt.Printf("%s=%s\n", name, res)
	}
}
