package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// The methods in this file are what a registry pull needs: layers arrive
// one by one (each verified against the config's diff ID), then the
// config that ties them together is registered as the image.

// HasLayer reports whether the layer with this chain ID is stored and
// unpacked, so a pull can skip it.
func (s *Store) HasLayer(chainID digest.Digest) bool {
	return s.snaps.HasLayer(chainID)
}

// AddLayer stores a layer tar (gzip, zstd or plain) over the layer with
// chain ID parent, refusing it unless its uncompressed digest is diffID.
// It returns the new chain ID.
func (s *Store) AddLayer(ctx context.Context, parent digest.Digest, r io.Reader, diffID digest.Digest) (digest.Digest, error) {
	_, chainID, err := s.addLayerExpect(ctx, parent, r, diffID)
	return chainID, err
}

// AddLayerStream is AddLayer for a layer read straight from the network:
// check runs once the stream has been read and before the layer is
// committed (the caller verifies the compressed digest there).
func (s *Store) AddLayerStream(ctx context.Context, parent digest.Digest, r io.Reader, diffID digest.Digest, check func() error) (digest.Digest, error) {
	_, chainID, err := s.addLayerChecked(ctx, parent, r, diffID, check)
	return chainID, err
}

// CreateFromConfig registers the image whose config is cfg (its ID is the
// config's digest, so it is the same on every host). All its layers must
// be stored already.
func (s *Store) CreateFromConfig(ctx context.Context, cfg []byte) (*Image, error) {
	var c dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid image config: %v", err))
	}
	if ids := ChainIDs(c.RootFS.DiffIDs); len(ids) > 0 && !s.snaps.HasLayer(ids[len(ids)-1]) {
		return nil, fmt.Errorf("image config refers to layers that are not stored")
	}
	id, err := s.blobs.put(cfg)
	if err != nil {
		return nil, err
	}
	return s.register(ctx, id, "")
}

// SetRepoDigest records a digest reference (name@sha256:…) for the image,
// as `images --digests` and RepoDigests show it.
func (s *Store) SetRepoDigest(ctx context.Context, id digest.Digest, ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return invalidRef(ref, err)
	}
	if _, ok := named.(reference.Canonical); !ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s is not a digest reference", ref))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix.images[id] == nil {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such image: %s", id))
	}
	key := familiar(named)
	var old digest.Digest
	err = s.db.Update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketTags).Get([]byte(key)); v != nil && digest.Digest(v) != id {
			old = digest.Digest(v)
		}
		return tx.Bucket(bucketTags).Put([]byte(key), []byte(id))
	})
	if err != nil {
		return fmt.Errorf("set digest reference %s: %w", key, err)
	}
	if old != "" {
		s.ix.dropRef(key, old)
	}
	s.ix.setRef(key, id)
	return nil
}

// RawConfig returns an image's config exactly as stored (what a push
// sends, so the image ID survives the round trip).
func (s *Store) RawConfig(id digest.Digest) ([]byte, error) {
	return s.blobs.read(id)
}

// LayerPath is the uncompressed layer blob of a diff ID.
func (s *Store) LayerPath(diffID digest.Digest) (string, error) {
	p := s.blobs.path(diffID)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("layer %s: %w", diffID, err)
	}
	return p, nil
}
