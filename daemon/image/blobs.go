package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// blobStore keeps content by digest under root/sha256/<hex>. Writes go to
// a temp file, are fsynced, verified and renamed into place.
type blobStore struct {
	root string
}

func newBlobStore(root string) (*blobStore, error) {
	for _, d := range []string{"sha256", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("create blob store: %w", err)
		}
	}
	// Leftovers of interrupted writes and loads.
	if entries, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil {
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
		}
	}
	return &blobStore{root: root}, nil
}

func (b *blobStore) path(d digest.Digest) string {
	return filepath.Join(b.root, d.Algorithm().String(), d.Encoded())
}

func (b *blobStore) has(d digest.Digest) bool {
	_, err := os.Stat(b.path(d))
	return err == nil
}

func (b *blobStore) read(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return os.ReadFile(b.path(d))
}

func (b *blobStore) put(data []byte) (digest.Digest, error) {
	w, err := b.writer()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return "", err
	}
	return w.Commit("")
}

// blobWriter streams one blob to a temp file while digesting it.
type blobWriter struct {
	b    *blobStore
	f    *os.File
	dg   digest.Digester
	n    int64
	err  error
	done bool // committed or aborted
}

func (b *blobStore) writer() (*blobWriter, error) {
	f, err := os.CreateTemp(filepath.Join(b.root, "tmp"), "blob-")
	if err != nil {
		return nil, err
	}
	return &blobWriter{b: b, f: f, dg: digest.Canonical.Digester()}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.dg.Hash().Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Abort discards the temp file; after Commit or Abort it does nothing.
func (w *blobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// Commit fsyncs and moves the blob into place. If expected is set, a
// different digest is an error and nothing is stored.
func (w *blobWriter) Commit(expected digest.Digest) (digest.Digest, error) {
	if w.done {
		return "", fmt.Errorf("blob already committed or aborted")
	}
	d := w.dg.Digest()
	if expected != "" && expected != d {
		w.Abort()
		return "", fmt.Errorf("digest mismatch: expected %s, got %s", expected, d)
	}
	if err := w.f.Sync(); err != nil {
		w.Abort()
		return "", err
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return "", err
	}
	if err := os.Rename(w.f.Name(), w.b.path(d)); err != nil {
		os.Remove(w.f.Name())
		return "", err
	}
	if dir, err := os.Open(filepath.Dir(w.b.path(d))); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return "", fmt.Errorf("sync blob dir: %w", err)
		}
	}
	return d, nil
}

// Digest is the digest of what was written so far.
func (w *blobWriter) Digest() digest.Digest { return w.dg.Digest() }

// reader opens what was written so far, before it is committed.
func (w *blobWriter) reader() (*os.File, error) {
	return os.Open(w.f.Name())
}

var _ io.Writer = (*blobWriter)(nil)
