package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestVolumeLifecycle(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := s.Create(ctx, "data", "", map[string]string{"app": "x"}, nil)
	if err != nil || !created || v.Mountpoint != filepath.Join(root, "data", "_data") {
		t.Fatalf("create: %+v %v %v", v, created, err)
	}
	if _, created, _ := s.Create(ctx, "data", "local", nil, nil); created {
		t.Error("second create of the same name created again")
	}
	anon, _, err := s.Create(ctx, "", "local", map[string]string{"com.docker.volume.anonymous": ""}, nil)
	if err != nil || len(anon.Name) != 64 {
		t.Fatalf("anonymous volume: %+v %v", anon, err)
	}
	for _, bad := range []string{"a/b", "-x", "../etc"} {
		if _, _, err := s.Create(ctx, bad, "", nil, nil); !errdefs.IsInvalidArgument(err) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, _, err := s.Create(ctx, "x1", "nfs", nil, nil); err == nil {
		t.Error("an unknown driver was accepted")
	}
	s.Ref("data", "c1")
	if err := s.Remove(ctx, "data", false); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use - [c1]") {
		t.Errorf("remove in use: %v", err)
	}
	// Reload from disk.
	s2, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get("data"); err != nil || got.Labels["app"] != "x" {
		t.Fatalf("reloaded: %+v %v", got, err)
	}
	rep, err := s.Prune(ctx, false, func(map[string]string) bool { return true })
	if err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != anon.Name {
		t.Errorf("prune (anonymous only): %+v %v", rep, err)
	}
	s.Unref("data", "c1")
	if err := s.Remove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errdefs.IsNotFound(err) {
		t.Errorf("get after remove: %v", err)
	}
}

func TestCopyUp(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	_ = os.MkdirAll(filepath.Join(src, "sub"), 0o750)
	_ = os.WriteFile(filepath.Join(src, "sub", "f"), []byte("hi"), 0o600)
	_ = os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	if err := CopyUp(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "sub", "f")); string(b) != "hi" {
		t.Errorf("file = %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub")); fi.Mode().Perm() != 0o750 {
		t.Errorf("dir mode = %v", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(dst, "link")); l != "/etc/passwd" {
		t.Errorf("symlink = %q (it must be copied, not followed)", l)
	}
}
