package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// berth's default seccomp profile follows the model of Docker's: an
// allowlist whose default action is ERRNO(EPERM). The tables below are
// berth's own; they are read-only after package initialisation.

// allowedSyscalls are the ordinary syscalls every container may make.
// Names that do not exist on one of the profile's architectures are
// skipped by the runtime when it compiles the filter.
var allowedSyscalls = []string{
	"_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl",
	"bind", "brk", "cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32",
	"clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
	"connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
	"epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir",
	"fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
	"fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
	"futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
	"get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
	"getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
	"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
	"getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage",
	"getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32",
	"getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc",
	"kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr", "listxattrat",
	"llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
	"mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "modify_ldt", "mprotect",
	"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
	"mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget",
	"msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat",
	"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
	"preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "ptrace",
	"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
	"recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
	"removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
	"rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
	"seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
	"sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
	"set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
	"setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
	"setsid", "setsockopt", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
	"shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
	"sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
	"statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
	"tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
	"truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
	"utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
	"write", "writev",
}

// capSyscalls are the syscalls allowed only when the container holds a
// capability (as Docker's profile does: --cap-add SYS_ADMIN allows
// mount). Syscalls in no list, such as io_uring_setup, kexec_load or
// keyctl, are refused with EPERM whatever the capabilities; only
// --privileged or seccomp=unconfined lift them.
var capSyscalls = []struct {
	cap   string
	names []string
}{
	{"CAP_SYS_ADMIN", []string{
		"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
		"mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open",
		"pivot_root", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "swapoff",
		"swapon", "syslog", "umount", "umount2", "unshare",
	}},
	{"CAP_SYS_PTRACE", []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev"}},
	{"CAP_SYS_MODULE", []string{"delete_module", "finit_module", "init_module"}},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_TIME", []string{"clock_settime", "clock_settime64", "settimeofday", "stime"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_RAWIO", []string{"ioperm", "iopl"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "mbind", "migrate_pages", "move_pages", "set_mempolicy", "set_mempolicy_home_node"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// cloneNamespaceFlags are the clone flags that create namespaces
// (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): clone
// without CAP_SYS_ADMIN is allowed only when none is set.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// afVsock is AF_VSOCK, the socket family refused to containers: it reaches
// the hypervisor or host.
const afVsock = 40

// allowedPersonas are the personality(2) arguments allowed: PER_LINUX,
// UNAME26, PER_LINUX32, UNAME26|PER_LINUX32 and the 0xffffffff query.
var allowedPersonas = []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

// defaultArches are the architectures the default profile covers: the
// native one and the 32-bit ABIs an amd64 kernel also runs.
var defaultArches = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}

// capMask is the set of capSyscalls entries whose capability is granted.
type capMask uint32

func maskOf(caps []string) capMask {
	var m capMask
	for i, g := range capSyscalls {
		if slices.Contains(caps, g.cap) {
			m |= 1 << i
		}
	}
	return m
}

func (m capMask) has(c string) bool {
	for i, g := range capSyscalls {
		if g.cap == c {
			return m&(1<<i) != 0
		}
	}
	return false
}

// buildDefaultSeccomp is the default profile for the capabilities in m.
func buildDefaultSeccomp(m capMask) *specs.LinuxSeccomp {
	names := slices.Clone(allowedSyscalls)
	for i, g := range capSyscalls {
		if m&(1<<i) != 0 {
			names = append(names, g.names...)
		}
	}
	admin := m.has("CAP_SYS_ADMIN")
	if admin {
		names = append(names, "clone", "clone3")
	}
	slices.Sort(names)
	names = slices.Compact(names)

	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   slices.Clone(defaultArches),
		Syscalls:        []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
	}
	if !admin {
		s.Syscalls = append(s.Syscalls,
			specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual},
			}},
			// ENOSYS, not EPERM: libc then falls back to clone, whose
			// flags the filter can see (clone3 passes them in memory).
			specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		)
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
		{Index: 0, Value: afVsock, Op: specs.OpNotEqual},
	}})
	for _, p := range allowedPersonas {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: p, Op: specs.OpEqualTo},
		}})
	}
	return s
}
