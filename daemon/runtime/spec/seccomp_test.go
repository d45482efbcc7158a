package spec

import (
	"encoding/json"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rulesFor are the rules of s that name syscall.
func rulesFor(s *specs.LinuxSeccomp, syscall string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range s.Syscalls {
		if slices.Contains(r.Names, syscall) {
			out = append(out, r)
		}
	}
	return out
}

// allowedAlways reports whether a rule allows syscall whatever its arguments.
func allowedAlways(s *specs.LinuxSeccomp, syscall string) bool {
	for _, r := range rulesFor(s, syscall) {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			return true
		}
	}
	return false
}

func withCaps(add ...string) []string {
	return append(DefaultCapabilities(), add...)
}

func TestDefaultSeccompProfile(t *testing.T) {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	g := NewGenerator()
	tests := []struct {
		name  string
		caps  []string
		check func(t *testing.T, s *specs.LinuxSeccomp)
	}{
		{"default caps", DefaultCapabilities(), func(t *testing.T, s *specs.LinuxSeccomp) {
			if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != eperm {
				t.Errorf("default action = %s %v, want ERRNO(EPERM)", s.DefaultAction, s.DefaultErrnoRet)
			}
			if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
				t.Errorf("arches = %v", s.Architectures)
			}
			clone := rulesFor(s, "clone")
			want := []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 0x7E020000, ValueTwo: 0, Op: specs.OpMaskedEqual},
			}}}
			if !reflect.DeepEqual(clone, want) {
				t.Errorf("clone rules = %+v, want %+v", clone, want)
			}
			clone3 := rulesFor(s, "clone3")
			if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || clone3[0].ErrnoRet == nil || *clone3[0].ErrnoRet != enosys {
				t.Errorf("clone3 rules = %+v, want ERRNO(ENOSYS)", clone3)
			}
			for _, n := range []string{
				"io_uring_setup", "io_uring_enter", "io_uring_register", "pidfd_getfd", "process_madvise",
				"migrate_pages", "set_mempolicy_home_node", "mount_setattr", "fanotify_init", "vhangup",
				"unshare", "setns", "mount", "bpf", "perf_event_open", "keyctl", "kexec_load", "init_module",
				"reboot", "open_by_handle_at", "syslog", "ptrace_nope",
			} {
				if r := rulesFor(s, n); len(r) != 0 {
					t.Errorf("%s has rules %+v; want the default EPERM", n, r)
				}
			}
			for _, n := range []string{"read", "write", "execve", "ptrace", "chroot", "fork", "vfork", "wait4", "mkdir", "arch_prctl"} {
				if !allowedAlways(s, n) {
					t.Errorf("%s not allowed", n)
				}
			}
		}},
		{"socket and personality filters", DefaultCapabilities(), func(t *testing.T, s *specs.LinuxSeccomp) {
			sock := rulesFor(s, "socket")
			if len(sock) != 1 || sock[0].Action != specs.ActAllow ||
				!reflect.DeepEqual(sock[0].Args, []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}) {
				t.Errorf("socket rules = %+v", sock)
			}
			var personas []uint64
			for _, r := range rulesFor(s, "personality") {
				if r.Action != specs.ActAllow || len(r.Args) != 1 || r.Args[0].Op != specs.OpEqualTo || r.Args[0].Index != 0 {
					t.Errorf("personality rule = %+v", r)
					continue
				}
				personas = append(personas, r.Args[0].Value)
			}
			if !slices.Equal(personas, []uint64{0, 0x8, 0x20000, 0x20008, 0xffffffff}) {
				t.Errorf("personas = %#x", personas)
			}
		}},
		{"CAP_SYS_ADMIN", withCaps("CAP_SYS_ADMIN"), func(t *testing.T, s *specs.LinuxSeccomp) {
			for _, n := range []string{"clone", "clone3", "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "mount_setattr", "fanotify_init", "syslog"} {
				if !allowedAlways(s, n) {
					t.Errorf("%s not allowed with CAP_SYS_ADMIN", n)
				}
			}
			if r := rulesFor(s, "clone3"); len(r) != 1 {
				t.Errorf("clone3 rules = %+v, want only the allow", r)
			}
			for _, n := range []string{"io_uring_setup", "pidfd_getfd", "vhangup", "init_module", "kexec_load"} {
				if allowedAlways(s, n) {
					t.Errorf("%s allowed by CAP_SYS_ADMIN", n)
				}
			}
		}},
		{"every capability", AllCapabilities(), func(t *testing.T, s *specs.LinuxSeccomp) {
			// Only --privileged or unconfined lift these.
			for _, n := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "keyctl", "add_key", "userfaultfd"} {
				if len(rulesFor(s, n)) != 0 {
					t.Errorf("%s allowed with every capability", n)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := g.seccomp(nil, tt.caps)
			tt.check(t, s)
			if _, err := specconv.SetupSeccomp(s); err != nil {
				t.Fatalf("libcontainer refuses the profile: %v", err)
			}
		})
	}
}

// Each capability-conditional group is allowed exactly when its capability
// is granted.
func TestSeccompCapabilityGroups(t *testing.T) {
	g := NewGenerator()
	none := g.seccomp(nil, nil)
	for _, grp := range capSyscalls {
		t.Run(grp.cap, func(t *testing.T) {
			with := g.seccomp(nil, []string{grp.cap})
			for _, n := range grp.names {
				if !allowedAlways(with, n) {
					t.Errorf("%s not allowed with %s", n, grp.cap)
				}
				if allowedAlways(none, n) {
					t.Errorf("%s allowed without %s", n, grp.cap)
				}
			}
		})
	}
	def := g.seccomp(nil, DefaultCapabilities())
	if !allowedAlways(def, "chroot") {
		t.Error("chroot refused with the default CAP_SYS_CHROOT")
	}
	for _, n := range []string{"kcmp", "process_vm_readv", "acct", "iopl", "settimeofday", "mbind", "delete_module"} {
		if allowedAlways(def, n) {
			t.Errorf("%s allowed with the default capabilities", n)
		}
	}
}

func TestGeneratorBuildsProfilesOnce(t *testing.T) {
	root := testRootfs(t)
	g := NewGenerator()
	gen := func(o Options) *specs.LinuxSeccomp {
		t.Helper()
		o.Rootfs, o.Args = root, []string{"sh"}
		s, err := g.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		return s.Linux.Seccomp
	}
	a, b := gen(Options{}), gen(Options{CapAdd: []string{"NET_ADMIN"}})
	if a != b {
		t.Error("the default profile was built again for a container with the default seccomp-relevant capabilities")
	}
	if len(g.profiles) != 1 {
		t.Errorf("%d profiles cached, want 1", len(g.profiles))
	}
	c, d := gen(Options{CapAdd: []string{"SYS_ADMIN"}}), gen(Options{CapAdd: []string{"SYS_ADMIN", "NET_ADMIN"}})
	if c == a || c != d {
		t.Error("the CAP_SYS_ADMIN variant was not derived once")
	}
	if e := gen(Options{CapDrop: []string{"SYS_CHROOT"}}); e == a || allowedAlways(e, "chroot") {
		t.Error("dropping CAP_SYS_CHROOT kept chroot allowed")
	}
	if gen(Options{SeccompUnconfined: true}) != nil || gen(Options{Privileged: true}) != nil {
		t.Error("unconfined or privileged container has a seccomp profile")
	}
	custom, err := ParseSeccompProfile([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := gen(Options{SeccompProfile: custom})
	if s.DefaultAction != specs.ActAllow || len(s.Syscalls) != 1 || *s.Syscalls[0].ErrnoRet != 13 {
		t.Errorf("custom profile = %+v", s)
	}
}

const testProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 38,
	"archMap": [
		{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
		{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
	],
	"syscalls": [
		{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
		{"name": "openat", "action": "SCMP_ACT_ALLOW", "comment": "single name"},
		{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
		 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
		 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
		{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
		{"names": ["s390_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
		{"names": ["not_s390"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["s390x"]}},
		{"names": ["old_kernel_only"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
		{"names": ["new_kernel"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
		{"names": ["future_kernel"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}}
	]
}`

func TestParseSeccompProfile(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectations are written for amd64")
	}
	p, err := ParseSeccompProfile([]byte(testProfile))
	if err != nil {
		t.Fatal(err)
	}
	names := func(s *specs.LinuxSeccomp) []string {
		var out []string
		for _, r := range s.Syscalls {
			out = append(out, r.Names...)
		}
		return out
	}
	kernel := kernelVersion{6, 1, 0}
	tests := []struct {
		name string
		caps []string
		want []string
	}{
		{"default caps", DefaultCapabilities(), []string{"read", "write", "openat", "mkdir", "clone", "arch_prctl", "not_s390", "new_kernel"}},
		{"sys_admin", withCaps("CAP_SYS_ADMIN"), []string{"read", "write", "openat", "mkdir", "mount", "arch_prctl", "not_s390", "new_kernel"}},
		{"all of the includes", withCaps("CAP_SYS_ADMIN", "CAP_SYS_PTRACE"), []string{"read", "write", "openat", "mkdir", "mount", "kcmp", "arch_prctl", "not_s390", "new_kernel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.resolve(tt.caps, kernel)
			if got := names(s); !slices.Equal(got, tt.want) {
				t.Errorf("syscalls = %v, want %v", got, tt.want)
			}
			if s.DefaultAction != specs.ActErrno || *s.DefaultErrnoRet != 38 {
				t.Errorf("default = %s %v", s.DefaultAction, s.DefaultErrnoRet)
			}
			if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
				t.Errorf("arches = %v", s.Architectures)
			}
			if r := rulesFor(s, "mkdir"); *r[0].ErrnoRet != 13 {
				t.Errorf("mkdir = %+v", r)
			}
			if _, err := specconv.SetupSeccomp(s); err != nil {
				t.Errorf("libcontainer refuses it: %v", err)
			}
		})
	}
	if got := names(p.resolve(DefaultCapabilities(), kernelVersion{4, 4, 0})); !slices.Contains(got, "old_kernel_only") || slices.Contains(got, "new_kernel") {
		t.Errorf("on 4.4: %v", got)
	}
}

func TestParseSeccompProfileErrors(t *testing.T) {
	tests := []struct {
		profile, err string
	}{
		{`{bad`, "Decoding seccomp profile failed: invalid character 'b'"},
		{``, "Decoding seccomp profile failed: EOF"},
		{`{"defaultAction":"SCMP_ACT_ALLOW"} {}`, "Decoding seccomp profile failed: data after the profile"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}`, "Decoding seccomp profile failed: json: cannot unmarshal object"},
		{`{}`, "defaultAction is required"},
		{`{"defaultAction":"SCMP_ACT_NOPE"}`, `unknown defaultAction "SCMP_ACT_NOPE"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`,
			"'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}`, `unknown architecture "SCMP_ARCH_Z80"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["x"]}]}`, `unknown architecture "x"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"]}`, `unknown flag "SECCOMP_FILTER_FLAG_NOPE"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}`,
			"'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}`, "syscalls[0] names no syscall"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}`, `syscalls[0]: unknown action ""`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]}`, "argument index 6 out of range"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"op":"SCMP_CMP_ALMOST"}]}]}`, `unknown operator "SCMP_CMP_ALMOST"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[null]}]}`, "null argument filter"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"four"}}]}`, `invalid kernel version "four"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["re ad"],"action":"SCMP_ACT_ALLOW"}]}`, `invalid syscall name "re ad"`},
		{`{"defaultAction":"SCMP_ACT_NOTIFY"}`, "SCMP_ACT_NOTIFY needs a listenerPath"},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) {
			p, err := ParseSeccompProfile([]byte(tt.profile))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSeccompProfile(%s) = %+v, %v; want %q", tt.profile, p, err, tt.err)
			}
		})
	}
}

func TestParseKernelVersion(t *testing.T) {
	tests := []struct {
		in   string
		want kernelVersion
		ok   bool
	}{
		{"4.8", kernelVersion{4, 8, 0}, true},
		{"5.15.0", kernelVersion{5, 15, 0}, true},
		{"6.18.44-fc-v1045", kernelVersion{6, 18, 44}, true},
		{"6.9.0rc1", kernelVersion{6, 9, 0}, true},
		{"6.9.1.2", kernelVersion{6, 9, 1}, true},
		{"6", kernelVersion{}, false},
		{"a.b", kernelVersion{}, false},
		{"4x.8", kernelVersion{}, false},
		{"", kernelVersion{}, false},
	}
	for _, tt := range tests {
		got, err := parseKernelVersion(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseKernelVersion(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if hostKernel() == (kernelVersion{}) {
		t.Error("the host kernel version could not be read")
	}
}

func FuzzParseSeccompProfile(f *testing.F) {
	f.Add([]byte(testProfile))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/x.sock"}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"flags":["SECCOMP_FILTER_FLAG_LOG"]}`))
	f.Add([]byte(`{bad`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSeccompProfile(data)
		if err != nil {
			if p != nil {
				t.Fatal("a profile with an error")
			}
			return
		}
		// A profile accepted at create must be accepted by the runtime at
		// start, for any capabilities and kernel.
		for _, caps := range [][]string{nil, DefaultCapabilities(), AllCapabilities()} {
			for _, k := range []kernelVersion{{}, {4, 8, 0}, {99, 0, 0}} {
				s := p.resolve(caps, k)
				if _, err := specconv.SetupSeccomp(s); err != nil {
					t.Fatalf("accepted profile %s refused by libcontainer: %v", data, err)
				}
			}
		}
		// It survives a round trip.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseSeccompProfile(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(p.resolve(nil, kernelVersion{6, 0, 0}), q.resolve(nil, kernelVersion{6, 0, 0})) {
			t.Fatalf("round trip changed %s", data)
		}
	})
}
