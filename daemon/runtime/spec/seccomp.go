package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// deniedSyscalls are refused with EPERM in unprivileged containers: they
// load code into or reconfigure the host kernel, or reach across the
// container boundary. Everything else is allowed; capabilities gate the
// rest (a denylist of our own, close to Docker's effective behaviour).
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
	"finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "move_pages",
	"name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root",
	"process_vm_readv", "process_vm_writev", "query_module", "quotactl", "quotactl_fd", "reboot",
	"request_key", "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs",
	"syslog", "_sysctl", "umount", "umount2", "mount", "unshare", "uselib", "userfaultfd", "ustat",
	"vm86", "vm86old", "fsconfig", "fsmount", "fsopen", "fspick", "move_mount", "open_tree",
}

// adminSyscalls are allowed again when the container has CAP_SYS_ADMIN
// (--cap-add SYS_ADMIN), as with Docker's profile.
var adminSyscalls = map[string]bool{
	"mount": true, "umount": true, "umount2": true, "unshare": true, "setns": true, "pivot_root": true,
	"fsconfig": true, "fsmount": true, "fsopen": true, "fspick": true, "move_mount": true, "open_tree": true,
	"quotactl": true, "quotactl_fd": true, "name_to_handle_at": true, "open_by_handle_at": true,
}

// seccompFor is the default profile adjusted for the granted capabilities.
func seccompFor(caps []string) *specs.LinuxSeccomp {
	s := DefaultSeccomp()
	for _, c := range caps {
		if c == "CAP_SYS_ADMIN" {
			var keep []string
			for _, n := range deniedSyscalls {
				if !adminSyscalls[n] {
					keep = append(keep, n)
				}
			}
			s.Syscalls[0].Names = keep
		}
	}
	return s
}

// DefaultSeccomp is berth's default seccomp profile.
func DefaultSeccomp() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{
			Names:  deniedSyscalls,
			Action: specs.ActErrno,
		}},
	}
}
