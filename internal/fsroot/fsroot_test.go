package fsroot

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// tree makes root/{a/b/f, up -> /, rel -> ../../.., host -> outside} and a
// directory outside the root with a file in it.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	root, outside = t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
	must(os.WriteFile(filepath.Join(root, "a", "b", "f"), []byte("in"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "f"), []byte("OUT"), 0o644))
	must(os.Symlink("/", filepath.Join(root, "up")))
	must(os.Symlink("../../..", filepath.Join(root, "rel")))
	must(os.Symlink(outside, filepath.Join(root, "host")))
	return root, outside
}

func TestResolutionStaysInRoot(t *testing.T) {
	root, outside := tree(t)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tests := []struct {
		path    string
		wantErr error // nil: resolves to root/a/b
	}{
		{"/a/b", nil},
		{"a/b", nil},
		{"/up/a/b", nil},
		{"/rel/a/b", nil},
		{"/../../a/b", nil},
		{"/up/../up/a/../a/b", nil},
		{"/host", unix.ENOENT}, // resolved inside the root, where it does not exist
		{"/a/b/f", unix.ENOTDIR},
	}
	for _, tt := range tests {
		sub, err := d.OpenDir(tt.path)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("OpenDir(%s) = %v, want %v", tt.path, err, tt.wantErr)
			}
			if sub != nil {
				sub.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("OpenDir(%s): %v", tt.path, err)
			continue
		}
		f, err := sub.OpenFile("f")
		if err != nil {
			t.Errorf("OpenDir(%s)/f: %v", tt.path, err)
		} else {
			b, _ := io.ReadAll(f)
			f.Close()
			if string(b) != "in" {
				t.Errorf("OpenDir(%s)/f read %q", tt.path, b)
			}
		}
		sub.Close()
	}
	// MkdirAll through the escaping link never creates outside (the link
	// dangles inside the root, which pathrs refuses to create through).
	if m, err := d.MkdirAll("/host/new", 0o755); err == nil {
		m.Close()
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("MkdirAll wrote outside the root: %v", entries)
	}
	// Through an in-root link it works.
	m, err := d.MkdirAll("/up/a/new/deeper", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := os.Stat(filepath.Join(root, "a", "new", "deeper")); err != nil {
		t.Errorf("MkdirAll through /up: %v", err)
	}
}

func TestLastComponentNeverFollowed(t *testing.T) {
	root, outside := tree(t)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Child("host"); !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("Child(symlink) = %v, want ELOOP", err)
	}
	if _, err := d.OpenFile("host"); err == nil {
		t.Error("OpenFile followed a symlink")
	}
	if _, err := d.Create("host", 0o644); !errors.Is(err, unix.EEXIST) {
		t.Errorf("Create over a symlink = %v, want EEXIST", err)
	}
	if err := d.Chmod("host", 0o700); err != nil {
		t.Errorf("Chmod of a symlink: %v", err)
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() == 0o700 {
		t.Error("Chmod went through the symlink")
	}
	if err := d.Lchown("host", 1234, 1234); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	_ = unix.Stat(outside, &st)
	if st.Uid == 1234 {
		t.Error("Lchown went through the symlink")
	}
	if err := d.RemoveAll("host"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "f")); err != nil {
		t.Errorf("RemoveAll of a symlink removed its target's content: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "x\x00"} {
		if err := d.Mkdir(bad, 0o755); err == nil {
			t.Errorf("Mkdir(%q) accepted a name that is not one entry", bad)
		}
	}
}

func TestWriteAndRemove(t *testing.T) {
	root, _ := tree(t)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile("w", []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("w", []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "w")); string(b) != "two" {
		t.Errorf("WriteFile gave %q", b)
	}
	names, err := d.ReadDirNames()
	if err != nil || len(names) != 5 {
		t.Errorf("ReadDirNames = %v, %v", names, err)
	}
	if err := d.RemoveAll("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveAll left a: %v", err)
	}
	if err := d.RemoveAll("missing"); err != nil {
		t.Errorf("RemoveAll of a missing name: %v", err)
	}
}
