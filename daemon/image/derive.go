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
)

// DeriveOptions describe one build step's image: a child of Parent (nil
// for an image built FROM scratch) with Config, and, when Diff is set, a
// new layer made of it. Without a diff the image shares its parent's
// layers and its history entry is marked as an empty layer, as Docker
// records configuration-only steps (ENV, CMD, ...).
type DeriveOptions struct {
	Parent    *Image
	Config    dockerspec.DockerOCIImage
	Diff      io.Reader
	CreatedBy string
	Comment   string
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
	empty := o.Diff == nil
	if !empty {
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

// Exists reports whether an image with this exact ID is stored.
func (s *Store) Exists(ctx context.Context, id digest.Digest) bool {
	img, err := s.Get(ctx, id.String())
	return err == nil && img.ID == id
}
