package image

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
)

// DeriveOptions describe one build step's image: a child of Parent (nil
// for an image built FROM scratch) with Config, and, when Diff is set, a
// new layer made of it. Without a diff the image shares its parent's
// layers and its history entry is marked as an empty layer, as Docker
// records configuration-only steps (ENV, CMD, ...).
type DeriveOptions struct {
	Parent *Image
	Config dockerspec.DockerOCIImage
	Diff   io.Reader
	// SnapshotKey, instead of Diff, names an unmounted active snapshot
	// over the parent's layers whose writable layer becomes the new layer
	// (moved into place, not unpacked again).
	SnapshotKey string
	CreatedBy   string
	Comment     string
}

// Derive creates the image of one build step. The parent's RootFS and
// history are carried over; the config's own RootFS and History are
// replaced.
func (s *Store) Derive(ctx context.Context, o DeriveOptions) (*Image, error) {
	cfg := o.Config
	var parentID, parentChain digest.Digest
	var diffIDs []digest.Digest
	var history []ocispec.History
	if o.Parent != nil {
		parentID, parentChain = o.Parent.ID, o.Parent.ChainID
		diffIDs = append(diffIDs, o.Parent.Config.RootFS.DiffIDs...)
		history = append(history, o.Parent.Config.History...)
	}
	empty := o.Diff == nil && o.SnapshotKey == ""
	switch {
	case o.SnapshotKey != "":
		diffID, err := s.commitSnapshot(ctx, parentChain, o.SnapshotKey)
		if err != nil {
			return nil, fmt.Errorf("store layer: %w", err)
		}
		diffIDs = append(diffIDs, diffID)
	case !empty:
		diffID, _, err := s.addLayer(ctx, parentChain, o.Diff)
		if err != nil {
			return nil, fmt.Errorf("store layer: %w", err)
		}
		diffIDs = append(diffIDs, diffID)
	}
	now := time.Now().UTC()
	cfg.Created = &now
	if cfg.Architecture == "" {
		cfg.Architecture = goruntime.GOARCH
	}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	if diffIDs == nil {
		diffIDs = []digest.Digest{}
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}
	cfg.History = append(history, ocispec.History{Created: &now, CreatedBy: o.CreatedBy, Comment: o.Comment, EmptyLayer: empty})
	return s.create(ctx, &cfg, parentID, "")
}

// commitSnapshot stores the tar of a snapshot's writable layer as a blob
// and makes the layer itself from the snapshot.
func (s *Store) commitSnapshot(ctx context.Context, parentChain digest.Digest, key string) (digest.Digest, error) {
	rc, err := archive.Tar(ctx, s.snaps.UpperDir(key), archive.TarOptions{OverlayWhiteouts: true})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	w, err := s.blobs.writer()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, rc); err != nil {
		w.Abort()
		return "", fmt.Errorf("write layer: %w", err)
	}
	diffID, err := w.Commit("")
	if err != nil {
		return "", err
	}
	chainID := diffID
	if parentChain != "" {
		chainID = ChainIDs([]digest.Digest{parentChain, diffID})[1]
	}
	if err := s.snaps.CommitActive(ctx, key, parentChain, chainID); err != nil {
		return "", err
	}
	return diffID, nil
}

// Exists reports whether an image with this exact ID is stored.
func (s *Store) Exists(ctx context.Context, id digest.Digest) bool {
	img, err := s.Get(ctx, id.String())
	return err == nil && img.ID == id
}
