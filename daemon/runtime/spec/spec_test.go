package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
)

func rootfs(t testing.TB) string {
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nwww:x:33:\nstaff:x:50:web\n"), 0o644)
	return dir
}

func TestGenerate(t *testing.T) {
	root := rootfs(t)
	pids := int64(50)
	tests := []struct {
		name  string
		o     Options
		check func(t *testing.T, o Options)
	}{
		{"default", Options{}, nil},
		{"privileged", Options{Privileged: true}, nil},
		{"readonly tty limits", Options{ReadonlyRootfs: true, Tty: true, Memory: 50 << 20, NanoCPUs: 1e8, PidsLimit: &pids}, nil},
		{"caps", Options{CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"CAP_CHOWN"}}, nil},
		{"host network", Options{NetworkMode: "host"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.ID, o.Hostname, o.Rootfs, o.Args = "abc", "abc", root, []string{"sh"}
			o.CgroupsPath = "berth-test/abc"
			s, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			caps := s.Process.Capabilities.Bounding
			switch tt.name {
			case "default":
				if !slices.Equal(caps, sortedDefault()) {
					t.Errorf("caps = %v", caps)
				}
				if len(s.Linux.MaskedPaths) == 0 || s.Linux.Seccomp == nil {
					t.Error("default security missing")
				}
			case "privileged":
				if !slices.Contains(caps, "CAP_SYS_ADMIN") || len(s.Linux.MaskedPaths) != 0 || s.Linux.Seccomp != nil {
					t.Error("privileged still restricted")
				}
			case "readonly tty limits":
				if !s.Root.Readonly || !s.Process.Terminal || *s.Linux.Resources.Memory.Limit != 50<<20 || *s.Linux.Resources.CPU.Quota != 10000 {
					t.Errorf("limits: %+v", s.Linux.Resources)
				}
			case "caps":
				if !slices.Contains(caps, "CAP_NET_ADMIN") || slices.Contains(caps, "CAP_CHOWN") {
					t.Errorf("caps = %v", caps)
				}
			}
			// libcontainer must accept it.
			if _, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "abc", Spec: s}); err != nil {
				t.Fatalf("specconv: %v", err)
			}
		})
	}
	if _, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, Memory: 1024}); err == nil {
		t.Error("a 1 KB memory limit was accepted")
	}
	if _, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, CapAdd: []string{"NOPE"}}); err == nil {
		t.Error("an unknown capability was accepted")
	}
}

func sortedDefault() []string {
	c := DefaultCapabilities()
	slices.Sort(c)
	return c
}

func TestResolveUser(t *testing.T) {
	root := rootfs(t)
	tests := []struct {
		user     string
		uid, gid uint32
		groups   []uint32
		err      string
	}{
		{"", 0, 0, nil, ""},
		{"web", 33, 33, []uint32{50}, ""},
		{"33", 33, 33, []uint32{50}, ""},
		{"1000", 1000, 0, nil, ""},
		{"1000:1000", 1000, 1000, nil, ""},
		{"web:staff", 33, 50, nil, ""},
		{"nobody", 0, 0, nil, "unable to find user nobody"},
		{"web:nogroup", 0, 0, nil, "unable to find group nogroup"},
	}
	for _, tt := range tests {
		uid, gid, groups, err := ResolveUser(root, tt.user, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v", tt.user, err)
			}
			continue
		}
		if err != nil || uid != tt.uid || gid != tt.gid || !slices.Equal(groups, tt.groups) {
			t.Errorf("%q = %d %d %v %v", tt.user, uid, gid, groups, err)
		}
	}
}

func FuzzResolveUser(f *testing.F) {
	f.Add("web:staff", "root:x:0:0::/:/bin/sh\n", "root:x:0:\n")
	f.Fuzz(func(t *testing.T, user, passwd, group string) {
		dir := t.TempDir()
		_ = os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
		_ = os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644)
		_ = os.WriteFile(filepath.Join(dir, "etc/group"), []byte(group), 0o644)
		_, _, _, _ = ResolveUser(dir, user, []string{"0"})
	})
}
