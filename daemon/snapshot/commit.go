package snapshot

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// CommitActive turns the writable layer of the (unmounted) active
// snapshot key into the layer chainID over parent, by moving its upper
// dir into place: the upper dir already holds the layer's files with
// overlay whiteouts, so nothing is unpacked again. An existing layer is
// kept. The active snapshot stays to be removed by its owner.
func (s *Snapshotter) CommitActive(ctx context.Context, key string, parent, chainID digest.Digest) error {
	if err := chainID.Validate(); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", key, err)
	}
	if s.HasLayer(chainID) {
		return nil
	}
	if parent != "" && !s.HasLayer(parent) {
		return fmt.Errorf("commit snapshot %s: parent layer %s is missing", key, parent)
	}
	upper := s.UpperDir(key)
	var size int64
	err := filepath.WalkDir(upper, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit snapshot %s: %w", key, err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Rename(upper, filepath.Join(tmp, "diff")); err != nil {
		return fmt.Errorf("commit snapshot %s: %w", key, err)
	}
	if parent != "" {
		if err := os.WriteFile(filepath.Join(tmp, "parent"), []byte(parent.String()), 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(fmt.Sprint(size)), 0o600); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.layerDir(chainID)); err != nil {
		if s.HasLayer(chainID) {
			return nil // committed concurrently
		}
		return fmt.Errorf("commit layer %s: %w", chainID, err)
	}
	return nil
}
