package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	if _, _, err := s.Create(ctx, "existing", "", map[string]string{"v": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, driver string
		opts         map[string]string
		wantCreated  bool
		err          func(error) bool
		message      string
	}{
		{"data", "", nil, true, nil, ""},
		{"data2", "local", nil, true, nil, ""},
		{"existing", "local", nil, false, nil, ""},
		{"", "", nil, true, nil, ""},
		{"a/b", "", nil, false, errdefs.IsInvalidArgument,
			`create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"-x", "", nil, false, errdefs.IsInvalidArgument, ""},
		{"../etc", "", nil, false, errdefs.IsInvalidArgument, ""},
		{"x", "", nil, false, errdefs.IsInvalidArgument, ""},
		{"nfs1", "nfs", nil, false, errdefs.IsNotFound, `error looking up volume plugin nfs: plugin "nfs" not found`},
		{"t1", "", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, true, nil, ""},
		{"t2", "", map[string]string{"foo": "bar"}, false, errdefs.IsInvalidArgument, `create t2: invalid option: "foo"`},
		{"t3", "", map[string]string{"type": "tmpfs"}, false, errdefs.IsInvalidArgument, `create t3: missing required option: "device"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, created, err := s.Create(ctx, tt.name, tt.driver, map[string]string{"k": "v"}, tt.opts)
			if tt.err != nil {
				if !tt.err(err) || (tt.message != "" && err.Error() != tt.message) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || created != tt.wantCreated {
				t.Fatalf("created %v, err %v", created, err)
			}
			if tt.name == "" && (len(v.Name) != 64 || strings.Trim(v.Name, "0123456789abcdef") != "") {
				t.Errorf("anonymous name %q", v.Name)
			}
			if v.Mountpoint != filepath.Join(root, v.Name, "_data") || v.Driver != "local" || v.Scope != "local" {
				t.Errorf("volume %+v", v)
			}
			if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
				t.Errorf("mountpoint: %v", err)
			}
			if tt.name == "existing" && v.Labels["v"] != "1" {
				t.Errorf("an idempotent create changed the labels: %v", v.Labels)
			}
		})
	}
	a := s.ToAPI(mustGet(t, s, "data"))
	if a.Name != "data" || a.Driver != "local" || a.Labels["k"] != "v" || a.UsageData != nil || a.Scope != "local" {
		t.Errorf("ToAPI %+v", a)
	}
	if _, err := time.Parse(time.RFC3339, a.CreatedAt); err != nil {
		t.Errorf("CreatedAt %q: %v", a.CreatedAt, err)
	}
}

func mustGet(t *testing.T, s *Store, name string) *Volume {
	t.Helper()
	v, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	_, _, _ = s.Create(ctx, "keep", "", map[string]string{"app": "x"}, map[string]string{"type": "none", "device": "/tmp", "o": "bind"})
	_ = os.MkdirAll(filepath.Join(root, "stray", "_data"), 0o755) // no metadata
	_ = os.MkdirAll(filepath.Join(root, "bad"), 0o755)
	_ = os.WriteFile(filepath.Join(root, "bad", metaFile), []byte("{"), 0o600)
	s2, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s2.List()); n != 1 {
		t.Fatalf("loaded %d volumes", n)
	}
	v := mustGet(t, s2, "keep")
	if v.Labels["app"] != "x" || v.Options["o"] != "bind" || v.Mountpoint != filepath.Join(root, "keep", "_data") {
		t.Errorf("reloaded %+v", v)
	}
	if _, err := s2.Get("nope"); !errdefs.IsNotFound(err) || err.Error() != "get nope: no such volume" {
		t.Errorf("get missing: %v", err)
	}
}

func TestRefsRemovePrune(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	_, _, _ = s.Create(ctx, "named", "", nil, nil)
	_, _, _ = s.Create(ctx, "named-used", "", nil, nil)
	_, _, _ = s.Create(ctx, "labelled", "", map[string]string{"keep": "no"}, nil)
	anon, _, _ := s.Create(ctx, "", "", map[string]string{AnonymousLabel: ""}, nil)
	anonUsed, _, _ := s.Create(ctx, "", "", map[string]string{AnonymousLabel: ""}, nil)
	_ = os.WriteFile(filepath.Join(anon.Mountpoint, "f"), make([]byte, 1000), 0o644)
	s.Ref("named-used", "c2")
	s.Ref("named-used", "c1")
	s.Ref(anonUsed.Name, "c3")
	if got := s.Refs("named-used"); strings.Join(got, ",") != "c1,c2" {
		t.Errorf("refs %v", got)
	}
	tests := []struct {
		name  string
		force bool
		err   func(error) bool
		msg   string
	}{
		{"named-used", false, errdefs.IsConflict, "remove named-used: volume is in use - [c1, c2]"},
		{"named-used", true, errdefs.IsConflict, ""},
		{"nope", false, errdefs.IsNotFound, "get nope: no such volume"},
		{"nope", true, nil, ""},
	}
	for _, tt := range tests {
		err := s.Remove(ctx, tt.name, tt.force)
		if (tt.err == nil) != (err == nil) || (tt.err != nil && (!tt.err(err) || (tt.msg != "" && err.Error() != tt.msg))) {
			t.Errorf("Remove(%q, %v) = %v", tt.name, tt.force, err)
		}
	}
	rep, err := s.Prune(ctx, false, nil)
	if err != nil || strings.Join(rep.VolumesDeleted, ",") != anon.Name || rep.SpaceReclaimed != 1000 {
		t.Errorf("prune anonymous: %+v %v", rep, err)
	}
	rep, err = s.Prune(ctx, true, func(l map[string]string) bool { return l["keep"] == "no" })
	if err != nil || strings.Join(rep.VolumesDeleted, ",") != "labelled" {
		t.Errorf("prune all by label: %+v %v", rep, err)
	}
	rep, err = s.Prune(ctx, true, nil)
	if err != nil || strings.Join(rep.VolumesDeleted, ",") != "named" {
		t.Errorf("prune all: %+v %v", rep, err)
	}
	s.Unref("named-used", "c1")
	s.Unref("named-used", "c2")
	if err := s.Remove(ctx, "named-used", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "named-used")); !os.IsNotExist(err) {
		t.Errorf("volume directory left: %v", err)
	}
	if names := s.List(); len(names) != 1 || names[0].Name != anonUsed.Name {
		t.Errorf("left %v", names)
	}
}

func TestMountOptions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	s, _ := newStore(t)
	host := t.TempDir()
	_ = os.WriteFile(filepath.Join(host, "from-host"), []byte("h"), 0o644)
	tests := []struct {
		name string
		opts map[string]string
		fs   string
		file string
	}{
		{"plain", nil, "", ""},
		{"tmp", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0755"}, "tmpfs", ""},
		{"bind", map[string]string{"type": "none", "device": host, "o": "bind"}, "", "from-host"},
		{"bindro", map[string]string{"type": "none", "device": host, "o": "bind,ro"}, "", "from-host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, err := s.Create(ctx, tt.name, "", nil, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Mount(ctx, tt.name, "c1")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unix.Unmount(p, unix.MNT_DETACH) })
			if _, err := s.Mount(ctx, tt.name, "c2"); err != nil {
				t.Fatal(err)
			}
			mounted, _ := mountinfo.Mounted(p)
			if p != v.Mountpoint || mounted != (tt.opts != nil) {
				t.Fatalf("path %s mounted %v", p, mounted)
			}
			if tt.fs != "" {
				var st unix.Statfs_t
				_ = unix.Statfs(p, &st)
				if st.Type != unix.TMPFS_MAGIC {
					t.Errorf("fs type %#x", st.Type)
				}
			}
			if tt.file != "" {
				if _, err := os.Stat(filepath.Join(p, tt.file)); err != nil {
					t.Errorf("bind content: %v", err)
				}
			}
			if tt.name == "bindro" {
				if err := os.WriteFile(filepath.Join(p, "x"), nil, 0o644); err == nil {
					t.Error("wrote into a read-only bind volume")
				}
			}
			_ = s.Unmount(ctx, tt.name, "c1")
			if m, _ := mountinfo.Mounted(p); m != (tt.opts != nil) {
				t.Errorf("unmounted while c2 still uses it")
			}
			_ = s.Unmount(ctx, tt.name, "c2")
			if m, _ := mountinfo.Mounted(p); m {
				t.Errorf("still mounted after the last user")
			}
			if err := s.Remove(ctx, tt.name, false); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(host, "from-host")); err != nil {
		t.Errorf("removing a bind volume touched its device: %v", err)
	}
	// A volume still mounted (a user never unmounted) is unmounted, not
	// emptied, by Remove.
	_, _, _ = s.Create(ctx, "left", "", nil, map[string]string{"type": "none", "device": host, "o": "bind"})
	if _, err := s.Mount(ctx, "left", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "left", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "from-host")); err != nil {
		t.Errorf("Remove deleted through a mount: %v", err)
	}
	// Bad options fail at mount, with the volume still usable afterwards.
	_, _, _ = s.Create(ctx, "badfs", "", nil, map[string]string{"type": "nosuchfs", "device": "x"})
	if _, err := s.Mount(ctx, "badfs", "c1"); err == nil {
		t.Error("mounting an unknown filesystem succeeded")
	}
}

func TestCopyUp(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o750))
	must(os.WriteFile(filepath.Join(src, "sub", "f"), []byte("hi"), 0o600))
	must(os.Link(filepath.Join(src, "sub", "f"), filepath.Join(src, "hard")))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("#!"), 0o755))
	must(os.Chmod(filepath.Join(src, "suid"), 0o4755|os.ModeSetuid))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "link")))
	must(os.Symlink("../..", filepath.Join(src, "sub", "up")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	must(os.Lchown(filepath.Join(src, "sub", "f"), 1234, 5678))
	must(os.Chmod(src, 0o711))
	_ = unix.Setxattr(filepath.Join(src, "sub", "f"), "user.test", []byte("val"), 0) // tmpfs may refuse user xattrs
	for _, p := range []string{filepath.Join(src, "sub", "deep"), filepath.Join(src, "sub"), filepath.Join(src, "sub", "f")} {
		must(os.Chtimes(p, old, old))
	}
	must(CopyUp(src, dst))

	tests := []struct {
		path  string
		check func(fi os.FileInfo, st *unix.Stat_t) string
	}{
		{".", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.Mode().Perm() == 0o711, "root mode %v", fi.Mode())
		}},
		{"sub", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.Mode().Perm() == 0o750 && fi.ModTime().Equal(old), "dir mode %v mtime %v", fi.Mode(), fi.ModTime())
		}},
		{"sub/deep", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.IsDir() && fi.ModTime().Equal(old), "deep dir %v", fi.ModTime())
		}},
		{"sub/f", func(fi os.FileInfo, st *unix.Stat_t) string {
			b, _ := os.ReadFile(filepath.Join(dst, "sub/f"))
			return want(string(b) == "hi" && fi.Mode().Perm() == 0o600 && st.Uid == 1234 && st.Gid == 5678 && fi.ModTime().Equal(old),
				"file %q mode %v owner %d:%d mtime %v", b, fi.Mode(), st.Uid, st.Gid, fi.ModTime())
		}},
		{"hard", func(_ os.FileInfo, st *unix.Stat_t) string {
			var f unix.Stat_t
			_ = unix.Lstat(filepath.Join(dst, "sub/f"), &f)
			return want(st.Ino == f.Ino, "hard link not kept")
		}},
		{"suid", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.Mode()&os.ModeSetuid != 0, "setuid lost: %v", fi.Mode())
		}},
		{"link", func(fi os.FileInfo, _ *unix.Stat_t) string {
			l, _ := os.Readlink(filepath.Join(dst, "link"))
			return want(fi.Mode()&os.ModeSymlink != 0 && l == "/etc/passwd", "symlink %v -> %q (must be copied, not followed)", fi.Mode(), l)
		}},
		{"sub/up", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.Mode()&os.ModeSymlink != 0, "relative symlink followed")
		}},
		{"fifo", func(fi os.FileInfo, _ *unix.Stat_t) string {
			return want(fi.Mode()&os.ModeNamedPipe != 0 && fi.Mode().Perm() == 0o640, "fifo %v", fi.Mode())
		}},
	}
	for _, tt := range tests {
		p := filepath.Join(dst, tt.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		var st unix.Stat_t
		_ = unix.Lstat(p, &st)
		if msg := tt.check(fi, &st); msg != "" {
			t.Errorf("%s: %s", tt.path, msg)
		}
	}
	if v, err := unix.Getxattr(filepath.Join(src, "sub", "f"), "user.test", make([]byte, 16)); err == nil && v > 0 {
		buf := make([]byte, 16)
		n, err := unix.Getxattr(filepath.Join(dst, "sub", "f"), "user.test", buf)
		if err != nil || string(buf[:n]) != "val" {
			t.Errorf("xattr not copied: %q %v", buf[:n], err)
		}
	}
	// A symlink as the source is refused.
	ls := filepath.Join(t.TempDir(), "srclink")
	must(os.Symlink(src, ls))
	if err := CopyUp(ls, t.TempDir()); err == nil {
		t.Error("a symlinked source was followed")
	}
	// A destination entry that is a symlink is not written through.
	dst2, outside := t.TempDir(), t.TempDir()
	must(os.Symlink(outside, filepath.Join(dst2, "sub")))
	if err := CopyUp(src, dst2); err == nil {
		t.Error("copied through a symlink in the destination")
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("wrote outside the volume: %v", entries)
	}
}

func want(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}
