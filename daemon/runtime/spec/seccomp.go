package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// gatedSyscalls are refused with EPERM in unprivileged containers: they
// load code into or reconfigure the host kernel, or reach across the
// container boundary. Each is allowed again when the container is granted
// the capability it is keyed by (e.g. --cap-add SYS_ADMIN allows mount),
// as Docker's profile does. Everything else is allowed; capabilities gate
// the rest. This is a denylist of our own, not Docker's allowlist.
var gatedSyscalls = map[string][]string{
	"": { // never allowed unprivileged
		"create_module", "get_kernel_syms", "query_module", "kexec_file_load", "kexec_load",
		"keyctl", "add_key", "request_key", "nfsservctl", "uselib", "userfaultfd", "ustat",
		"sysfs", "_sysctl", "vm86", "vm86old",
	},
	"CAP_SYS_ADMIN": {
		"mount", "umount", "umount2", "unshare", "setns", "pivot_root", "fsconfig", "fsmount",
		"fsopen", "fspick", "move_mount", "open_tree", "quotactl", "quotactl_fd",
		"name_to_handle_at", "lookup_dcookie", "bpf", "perf_event_open", "swapon", "swapoff",
	},
	"CAP_SYS_MODULE":      {"init_module", "finit_module", "delete_module"},
	"CAP_SYS_BOOT":        {"reboot"},
	"CAP_SYS_TIME":        {"settimeofday", "stime", "clock_settime", "clock_adjtime"},
	"CAP_SYS_PACCT":       {"acct"},
	"CAP_SYS_RAWIO":       {"iopl", "ioperm"},
	"CAP_SYS_PTRACE":      {"kcmp", "process_vm_readv", "process_vm_writev"},
	"CAP_SYS_NICE":        {"mbind", "get_mempolicy", "set_mempolicy", "move_pages"},
	"CAP_SYSLOG":          {"syslog"},
	"CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
}

// seccompFor is the default profile adjusted for the granted capabilities.
func seccompFor(caps []string) *specs.LinuxSeccomp {
	var denied []string
	for c, names := range gatedSyscalls {
		if c != "" && slices.Contains(caps, c) {
			continue
		}
		denied = append(denied, names...)
	}
	slices.Sort(denied)
	eperm := uint(unix.EPERM)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{
			Names:    denied,
			Action:   specs.ActErrno,
			ErrnoRet: &eperm,
		}},
	}
}

// DefaultSeccomp is berth's default seccomp profile, for a container with
// the default capability set.
func DefaultSeccomp() *specs.LinuxSeccomp {
	return seccompFor(DefaultCapabilities())
}
