package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/snapshot"
)

// TestBlobAndTempLeakCheck: the leak check reads the image store as
// daemon/image writes it: an image's config and layer blobs are
// referenced, a stray blob and files left in the temp dirs are leaks.
func TestBlobAndTempLeakCheck(t *testing.T) {
	root := t.TempDir()
	db, err := bolt.Open(filepath.Join(root, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.New(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := image.New(root, db, snaps, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	_ = tw.WriteHeader(&tar.Header{Name: "hello", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	_, _ = tw.Write([]byte("world"))
	_ = tw.Close()
	if _, err := st.Import(context.Background(), &layer, image.ImportOptions{Ref: "x:1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := unreferencedBlobs(root)
	if err != nil || len(got) != 0 {
		t.Fatalf("an image's own blobs reported: %v, %v", got, err)
	}
	stray := digest.FromString("stray")
	if err := os.WriteFile(filepath.Join(root, "blobs", "sha256", stray.Encoded()), []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err = unreferencedBlobs(root); err != nil || !slices.Equal(got, []string{stray.String()}) {
		t.Errorf("unreferencedBlobs = %v, %v; want [%s]", got, err, stray)
	}

	if tmp := tempLeftovers(root); len(tmp) != 0 {
		t.Errorf("temp leftovers in a clean store: %v", tmp)
	}
	for _, p := range []string{filepath.Join(root, "tmp", "berth-pull-1"), filepath.Join(root, "blobs", "tmp", "blob-2")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if tmp := tempLeftovers(root); len(tmp) != 2 {
		t.Errorf("tempLeftovers = %v, want the pull and blob files", tmp)
	}
}
