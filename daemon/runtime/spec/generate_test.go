package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func testRootfs(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n# comment\nweb:x:33:33::/var/www:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
		"etc/group":  "root:x:0:root\nbin:x:1:root,bin\nwww:x:33:\nstaff:x:50:web,bob\nbob:x:1000:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func findMount(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

func hasNS(s *specs.Spec, typ specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == typ {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// denies reports whether the profile refuses name: no rule allows it
// unconditionally (the default action is ERRNO).
func denies(s *specs.Spec, name string) bool {
	if s.Linux.Seccomp == nil {
		return false
	}
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, name) {
			return false
		}
	}
	return true
}

func TestGenerateBehaviour(t *testing.T) {
	root := testRootfs(t)
	etcHost := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(etcHost, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pids := int64(100)
	hostName, _ := os.Hostname()
	tests := []struct {
		name  string
		o     Options
		check func(t *testing.T, s *specs.Spec)
	}{
		{"default", Options{}, func(t *testing.T, s *specs.Spec) {
			p := s.Process
			if !slices.Equal(p.Capabilities.Bounding, sortedDefault()) || !slices.Equal(p.Capabilities.Effective, sortedDefault()) ||
				!slices.Equal(p.Capabilities.Permitted, sortedDefault()) || p.Capabilities.Inheritable != nil || p.Capabilities.Ambient != nil {
				t.Errorf("caps = %+v", p.Capabilities)
			}
			for _, m := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap"} {
				if !slices.Contains(s.Linux.MaskedPaths, m) {
					t.Errorf("%s not masked", m)
				}
			}
			if !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sysrq-trigger") {
				t.Errorf("readonly paths = %v", s.Linux.ReadonlyPaths)
			}
			for _, sc := range []string{"kexec_load", "init_module", "mount", "reboot", "bpf", "keyctl", "open_by_handle_at", "syslog"} {
				if !denies(s, sc) {
					t.Errorf("seccomp allows %s", sc)
				}
			}
			if denies(s, "ptrace") || denies(s, "read") {
				t.Error("seccomp denies an ordinary syscall")
			}
			if d := s.Linux.Resources.Devices; len(d) < 2 || d[0].Allow || d[0].Access != "rwm" {
				t.Errorf("device cgroup = %+v", d)
			}
			for _, typ := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.PIDNamespace, specs.NetworkNamespace} {
				if ns, ok := hasNS(s, typ); !ok || ns.Path != "" {
					t.Errorf("namespace %s = %+v %v", typ, ns, ok)
				}
			}
			if _, ok := hasNS(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace on a v1 host")
			}
			if !slices.Equal(p.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc", "FOO=bar"}) {
				t.Errorf("env = %v", p.Env)
			}
			if p.Cwd != "/" || p.User.UID != 0 || p.User.GID != 0 || !slices.Equal(p.User.AdditionalGids, []uint32{0, 1}) {
				t.Errorf("cwd/user = %q %+v", p.Cwd, p.User)
			}
			if len(p.Rlimits) != 1 || p.Rlimits[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: nofile(), Hard: nofile()}) {
				t.Errorf("rlimits = %+v", p.Rlimits)
			}
			if m := findMount(s, "/dev/shm"); m == nil || !slices.Contains(m.Options, "size=67108864") {
				t.Errorf("shm = %+v", m)
			}
			if m := findMount(s, "/sys"); m == nil || m.Type != "sysfs" || !slices.Contains(m.Options, "ro") {
				t.Errorf("sysfs = %+v", m)
			}
			if m := findMount(s, "/sys/fs/cgroup"); m == nil || !slices.Contains(m.Options, "ro") {
				t.Errorf("cgroup = %+v", m)
			}
			for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/mqueue"} {
				if findMount(s, d) == nil {
					t.Errorf("no %s mount", d)
				}
			}
			if m := findMount(s, "/etc/hosts"); m == nil || m.Source != etcHost || slices.Contains(m.Options, "ro") {
				t.Errorf("/etc/hosts = %+v", m)
			}
			if s.Hostname != "abc" || s.Linux.CgroupsPath != "/berth-test/abc" || p.Terminal || p.NoNewPrivileges {
				t.Errorf("hostname %q cgroups %q", s.Hostname, s.Linux.CgroupsPath)
			}
		}},
		{"privileged", Options{Privileged: true}, func(t *testing.T, s *specs.Spec) {
			if len(s.Process.Capabilities.Bounding) != len(hostCapabilities()) || s.Linux.Seccomp != nil ||
				len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
				t.Error("privileged still restricted")
			}
			if d := s.Linux.Resources.Devices; len(d) != 1 || !d[0].Allow {
				t.Errorf("device cgroup = %+v", d)
			}
			if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" }) {
				t.Error("host devices not added")
			}
			if m := findMount(s, "/sys"); slices.Contains(m.Options, "ro") {
				t.Error("sysfs read-only when privileged")
			}
		}},
		{"seccomp unconfined, no new privileges", Options{SeccompUnconfined: true, NoNewPrivileges: true}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil || !s.Process.NoNewPrivileges || len(s.Linux.MaskedPaths) == 0 {
				t.Error("wrong")
			}
		}},
		{"readonly", Options{ReadonlyRootfs: true}, func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Error("rootfs writable")
			}
			if m := findMount(s, "/etc/hosts"); !slices.Contains(m.Options, "ro") {
				t.Errorf("/etc/hosts = %+v", m)
			}
		}},
		{"tty", Options{Tty: true, Env: []string{"PATH=/bin", "TERM=dumb"}}, func(t *testing.T, s *specs.Spec) {
			if !s.Process.Terminal || !slices.Equal(s.Process.Env, []string{"PATH=/bin", "HOSTNAME=abc", "TERM=dumb"}) {
				t.Errorf("env = %v", s.Process.Env)
			}
		}},
		{"user", Options{User: "web", GroupAdd: []string{"bob"}, Cwd: "/var/www"}, func(t *testing.T, s *specs.Spec) {
			u := s.Process.User
			if u.UID != 33 || u.GID != 33 || !slices.Equal(u.AdditionalGids, []uint32{50, 1000}) || s.Process.Cwd != "/var/www" {
				t.Errorf("user = %+v", u)
			}
		}},
		{"limits", Options{Memory: 64 << 20, MemoryReservation: 32 << 20, NanoCPUs: 1.5e9, CPUShares: 512, CpusetCpus: "0",
			PidsLimit: &pids, OomKillDisable: true, ShmSize: 1 << 20,
			Ulimits: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 10, Hard: 20}}}, func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 || *r.Memory.Reservation != 32<<20 || !*r.Memory.DisableOOMKiller {
				t.Errorf("memory = %+v", r.Memory)
			}
			if *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0" {
				t.Errorf("cpu = %+v", r.CPU)
			}
			if r.Pids == nil || *r.Pids.Limit != 100 {
				t.Errorf("pids = %+v", r.Pids)
			}
			if m := findMount(s, "/dev/shm"); !slices.Contains(m.Options, "size=1048576") {
				t.Errorf("shm = %+v", m)
			}
			want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_NPROC", Soft: 10, Hard: 20}}
			if !slices.Equal(s.Process.Rlimits, want) {
				t.Errorf("rlimits = %+v", s.Process.Rlimits)
			}
		}},
		{"unlimited swap, cfs quota", Options{Memory: 64 << 20, MemorySwap: -1, CPUQuota: 50000, CPUPeriod: 200000}, func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Swap != -1 || *r.CPU.Quota != 50000 || *r.CPU.Period != 200000 {
				t.Errorf("resources = %+v %+v", r.Memory, r.CPU)
			}
		}},
		{"caps", Options{CapAdd: []string{"NET_ADMIN", "cap_sys_admin"}, CapDrop: []string{"CAP_CHOWN"}}, func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			if !slices.Contains(c, "CAP_NET_ADMIN") || !slices.Contains(c, "CAP_SYS_ADMIN") || slices.Contains(c, "CAP_CHOWN") {
				t.Errorf("caps = %v", c)
			}
			if denies(s, "mount") || !denies(s, "kexec_load") {
				t.Error("seccomp not adjusted for CAP_SYS_ADMIN")
			}
		}},
		{"drop all", Options{CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN"}}, func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Bounding, []string{"CAP_CHOWN"}) {
				t.Errorf("caps = %v", s.Process.Capabilities.Bounding)
			}
		}},
		{"host network", Options{NetworkMode: "host", Hostname: "-"}, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.NetworkNamespace); ok {
				t.Error("network namespace with --network host")
			}
			if s.Hostname != hostName {
				t.Errorf("hostname = %q, want %q", s.Hostname, hostName)
			}
		}},
		{"netns path", Options{NetNSPath: "/run/netns/x"}, func(t *testing.T, s *specs.Spec) {
			if ns, _ := hasNS(s, specs.NetworkNamespace); ns.Path != "/run/netns/x" {
				t.Errorf("netns = %+v", ns)
			}
		}},
		{"mounts", Options{Mounts: []Mount{
			{Type: "bind", Source: "/tmp", Destination: "/data/sub", ReadOnly: true},
			{Type: "volume", Source: "/tmp", Destination: "/data", Options: []string{"rshared"}},
			{Type: "tmpfs", Destination: "/dev/shm", Options: []string{"size=1m"}},
			{Type: "bind", Source: etcHost, Destination: "/etc/hosts"},
		}}, func(t *testing.T, s *specs.Spec) {
			var dsts []string
			for _, m := range s.Mounts {
				dsts = append(dsts, m.Destination)
			}
			if i, j := slices.Index(dsts, "/data"), slices.Index(dsts, "/data/sub"); i < 0 || j < i {
				t.Errorf("mount order = %v", dsts)
			}
			shm := 0
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					shm++
					if !slices.Contains(m.Options, "size=1m") {
						t.Errorf("shm = %+v", m)
					}
				}
			}
			hosts := 0
			for _, d := range dsts {
				if d == "/etc/hosts" {
					hosts++
				}
			}
			if shm != 1 || hosts != 1 {
				t.Errorf("user mounts did not replace defaults: %v", dsts)
			}
			if m := findMount(s, "/data/sub"); m.Type != "bind" || !slices.Contains(m.Options, "ro") || !slices.Contains(m.Options, "rbind") {
				t.Errorf("bind = %+v", m)
			}
			if s.Linux.RootfsPropagation != "rshared" {
				t.Errorf("rootfs propagation = %q", s.Linux.RootfsPropagation)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.ID, o.Rootfs, o.Args = "abc", root, []string{"sh", "-c", "true"}
			if o.Hostname == "" {
				o.Hostname = "abc"
			} else if o.Hostname == "-" {
				o.Hostname = ""
			}
			if o.Env == nil {
				o.Env = []string{"FOO=bar"}
			}
			o.CgroupsPath = "berth-test/abc"
			o.EtcFiles = map[string]string{"/etc/hosts": etcHost}
			s, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
			cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "abc", Spec: s})
			if err != nil {
				t.Fatalf("specconv: %v", err)
			}
			if cfg.Rootfs != root || cfg.Cgroups.Path != "/berth-test/abc" {
				t.Errorf("config rootfs %q cgroup %q", cfg.Rootfs, cfg.Cgroups.Path)
			}
			if !o.Privileged && !o.SeccompUnconfined && (cfg.Seccomp == nil || cfg.Seccomp.DefaultAction != configs.Errno) {
				t.Errorf("seccomp = %+v", cfg.Seccomp)
			}
		})
	}
}

func TestGenerateValidation(t *testing.T) {
	root := testRootfs(t)
	tests := []struct {
		o   Options
		msg string
	}{
		{Options{Memory: 1 << 20}, "Minimum memory limit allowed is 6MB"},
		{Options{MemoryReservation: 1 << 20}, "Minimum memory reservation allowed is 6MB"},
		{Options{Memory: 10 << 20, MemoryReservation: 20 << 20}, "Minimum memory limit can not be less than memory reservation limit"},
		{Options{MemorySwap: 10 << 20}, "You should always set the Memory limit when using Memoryswap limit"},
		{Options{Memory: 20 << 20, MemorySwap: 10 << 20}, "Minimum memoryswap limit should be larger than memory limit"},
		{Options{NanoCPUs: 1e15}, "Range of CPUs is from 0.01 to"},
		{Options{NanoCPUs: -1}, "Range of CPUs is from 0.01 to"},
		{Options{NanoCPUs: 1e9, CPUQuota: 5000}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{Options{NanoCPUs: 1e9, CPUPeriod: 5000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{Options{CPUPeriod: 10}, "CPU cfs period can not be less than 1ms"},
		{Options{CPUQuota: 10}, "CPU cfs quota can not be less than 1ms"},
		{Options{CapAdd: []string{"NOPE"}}, "unknown capability"},
		{Options{CapDrop: []string{"CAP_NOPE"}}, "unknown capability"},
		{Options{Ulimits: []Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}}, "invalid ulimit type: bogus"},
		{Options{Ulimits: []Ulimit{{Name: "nofile", Soft: 10, Hard: 1}}}, "ulimit soft limit must be less than or equal to hard limit"},
		{Options{User: "nobody"}, "unable to find user nobody: no matching entries in passwd file"},
		{Options{Mounts: []Mount{{Type: "bind", Source: "/tmp", Destination: "rel"}}}, "mount path must be absolute"},
		{Options{Mounts: []Mount{{Type: "nfs", Source: "/tmp", Destination: "/x"}}}, "invalid mount type"},
		{Options{Args: []string{}}, "no command specified"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			o := tt.o
			o.Rootfs = root
			if o.Args == nil {
				o.Args = []string{"sh"}
			}
			_, err := Generate(o)
			if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want invalid argument %q", err, tt.msg)
			}
		})
	}
}

func TestResolveUserCases(t *testing.T) {
	root := testRootfs(t)
	tests := []struct {
		user     string
		groupAdd []string
		uid, gid uint32
		groups   []uint32
		err      string
	}{
		{"", nil, 0, 0, []uint32{0, 1}, ""},
		{"root", []string{"staff", "7"}, 0, 0, []uint32{0, 1, 50, 7}, ""},
		{"bob", nil, 1000, 1000, []uint32{50}, ""},
		{"1000", nil, 1000, 1000, []uint32{50}, ""},
		{"4242", nil, 4242, 0, nil, ""},
		{"4242:4343", nil, 4242, 4343, nil, ""},
		{"4242:staff", nil, 4242, 50, nil, ""},
		{"bob:0", nil, 1000, 0, nil, ""},
		{"bob", []string{"nogroup"}, 0, 0, nil, "unable to find group nogroup"},
		{"ghost", nil, 0, 0, nil, "unable to find user ghost: no matching entries in passwd file"},
		{"bob:ghosts", nil, 0, 0, nil, "unable to find group ghosts"},
		{"4294967295", nil, 0, 0, nil, "uids and gids must be in range"},
	}
	for _, tt := range tests {
		uid, gid, groups, err := ResolveUser(root, tt.user, tt.groupAdd)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.user, err, tt.err)
			}
			continue
		}
		if err != nil || uid != tt.uid || gid != tt.gid || !slices.Equal(groups, tt.groups) {
			t.Errorf("%q %v = %d %d %v %v, want %d %d %v", tt.user, tt.groupAdd, uid, gid, groups, err, tt.uid, tt.gid, tt.groups)
		}
	}
	// A rootfs without /etc/passwd still takes numeric ids.
	if uid, gid, _, err := ResolveUser(t.TempDir(), "5:6", nil); err != nil || uid != 5 || gid != 6 {
		t.Errorf("no passwd: %d %d %v", uid, gid, err)
	}
}

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		defaults, env, want []string
	}{
		{[]string{"PATH=/a", "HOSTNAME=h"}, nil, []string{"PATH=/a", "HOSTNAME=h"}},
		{[]string{"PATH=/a", "HOSTNAME=h"}, []string{"X=1", "PATH=/b", "X=2"}, []string{"PATH=/b", "HOSTNAME=h", "X=2"}},
		{[]string{"PATH=/a", "HOSTNAME=h"}, []string{"HOSTNAME", "=bad", "Y=a=b"}, []string{"PATH=/a", "Y=a=b"}},
	}
	for _, tt := range tests {
		if got := mergeEnv(tt.defaults, tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("mergeEnv(%v, %v) = %v, want %v", tt.defaults, tt.env, got, tt.want)
		}
	}
}

func TestDefaultSeccomp(t *testing.T) {
	s := DefaultSeccomp()
	if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != 1 || len(s.Architectures) != 3 {
		t.Fatalf("profile = %+v", s)
	}
	if _, err := specconv.SetupSeccomp(s); err != nil {
		t.Fatal(err)
	}
	if got := DefaultCapabilities(); len(got) != 14 || !slices.Contains(got, "CAP_AUDIT_WRITE") {
		t.Errorf("default caps = %v", got)
	}
}
