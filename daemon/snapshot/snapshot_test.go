package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func layer(t *testing.T, files map[string]string, whiteouts ...string) ([]byte, digest.Digest) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	for _, w := range whiteouts {
		_ = tw.WriteHeader(&tar.Header{Name: filepath.Join(filepath.Dir(w), ".wh."+filepath.Base(w)), Typeflag: tar.TypeReg, Mode: 0o600})
	}
	_ = tw.Close()
	return buf.Bytes(), digest.FromBytes(buf.Bytes())
}

func TestLayersAndContainerMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, baseID := layer(t, map[string]string{"a": "1", "b": "2"})
	if _, err := s.ApplyLayer(ctx, "", baseID, bytes.NewReader(base)); err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	if _, err := s.ApplyLayer(ctx, "", baseID, bytes.NewReader(base)); err != nil {
		t.Fatal(err)
	}
	top, topDiff := layer(t, map[string]string{"c": "3"}, "b")
	topID := digest.FromString(baseID.String() + " " + topDiff.String())
	if _, err := s.ApplyLayer(ctx, baseID, topID, bytes.NewReader(top)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyLayer(ctx, digest.FromString("missing"), digest.FromString("x"), bytes.NewReader(top)); err == nil {
		t.Error("a layer over a missing parent was accepted")
	}
	dirs, err := s.LayerDirs(topID)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("LayerDirs = %v, %v", dirs, err)
	}
	if err := s.Prepare(ctx, "ctr", topID); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "rootfs")
	_ = os.Mkdir(target, 0o755)
	if err := s.Mount(ctx, "ctr", topID, target); err != nil {
		t.Fatal(err)
	}
	defer s.Unmount(ctx, target)
	if b, _ := os.ReadFile(filepath.Join(target, "a")); string(b) != "1" {
		t.Errorf("a = %q", b)
	}
	if _, err := os.Stat(filepath.Join(target, "b")); !os.IsNotExist(err) {
		t.Errorf("whited-out b is visible: %v", err)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.UpperDir("ctr"), "new")); err != nil {
		t.Errorf("write did not land in the upper dir: %v", err)
	}
	if n, _ := s.Usage("ctr"); n != 1 {
		t.Errorf("usage = %d", n)
	}
	if err := s.Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}
	if mounted(target) {
		t.Fatal("still mounted")
	}
	if err := s.Remove(ctx, "ctr"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLayer(ctx, topID); err != nil || s.HasLayer(topID) {
		t.Fatalf("RemoveLayer: %v", err)
	}
	if err := s.Prepare(ctx, "../evil", ""); err == nil {
		t.Error("a key with a path was accepted")
	}
}

func TestMountOneLayerScratchAndManyLayers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	ctx := context.Background()
	// A long root makes the many-layer case overflow one page of mount data.
	root := filepath.Join(t.TempDir(), strings.Repeat("r", 120), strings.Repeat("s", 120))
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	mountAndRead := func(key string, parent digest.Digest, file, want string) {
		t.Helper()
		if err := s.Prepare(ctx, key, parent); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "rootfs")
		_ = os.Mkdir(target, 0o755)
		if err := s.Mount(ctx, key, parent, target); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.Unmount(ctx, target); err != nil || mounted(target) {
				t.Errorf("unmount: %v", err)
			}
			_ = s.Remove(ctx, key)
		}()
		if file == "" {
			if entries, err := os.ReadDir(target); err != nil || len(entries) != 0 {
				t.Errorf("scratch rootfs: %v %v", entries, err)
			}
			return
		}
		if b, err := os.ReadFile(filepath.Join(target, file)); err != nil || string(b) != want {
			t.Errorf("%s: %s = %q, %v", key, file, b, err)
		}
	}
	mountAndRead("scratch", "", "", "")

	var chain digest.Digest
	for i := 0; i < 150; i++ {
		data, diffID := layer(t, map[string]string{fmt.Sprintf("f%03d", i): fmt.Sprint(i)})
		id := diffID
		if chain != "" {
			id = digest.FromString(chain.String() + " " + diffID.String())
		}
		if _, err := s.ApplyLayer(ctx, chain, id, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			mountAndRead("one", id, "f000", "0")
		}
		chain = id
	}
	mountAndRead("many", chain, "f000", "0")
}

// Two mounts of the same layer at once (parallel build stages, a
// service's replicas) each make the layer's short link: neither may fail.
func TestShortLinkConcurrent(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, baseID := layer(t, map[string]string{"a": "1"})
	if _, err := s.ApplyLayer(ctx, "", baseID, bytes.NewReader(base)); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		_ = os.Remove(filepath.Join(s.root, "l", baseID.Encoded()[:12]))
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			go func() {
				_, err := s.shortLink(baseID)
				errs <- err
			}()
		}
		for i := 0; i < 8; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(s.root, "l", "*.tmp*")); len(left) > 0 {
		t.Errorf("temporary links left: %v", left)
	}
}
