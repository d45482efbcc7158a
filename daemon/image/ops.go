package image

import (
	"context"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/internal/archive"
)

// ImportOptions are the options of `import`.
type ImportOptions struct {
	Ref      string
	Changes  []string
	Message  string
	Platform string
}

// addLayer stores a layer tar (maybe compressed) as an uncompressed blob,
// unpacks it over parent and returns its diff ID and chain ID.
func (s *Store) addLayer(ctx context.Context, parent digest.Digest, r io.Reader) (diffID, chainID digest.Digest, err error) {
	return s.addLayerExpect(ctx, parent, r, "")
}

// addLayerExpect is addLayer that refuses a layer whose diff ID is not
// expected (when set); nothing is stored then.
func (s *Store) addLayerExpect(ctx context.Context, parent digest.Digest, r io.Reader, expected digest.Digest) (diffID, chainID digest.Digest, err error) {
	dr, err := archive.Decompress(r)
	if err != nil {
		return "", "", err
	}
	w, err := s.blobs.writer()
	if err != nil {
		return "", "", err
	}
	if _, err := io.Copy(w, dr); err != nil {
		w.Abort()
		return "", "", fmt.Errorf("read layer: %w", err)
	}
	diffID, err = w.Commit(expected)
	if err != nil {
		return "", "", err
	}
	chainID = diffID
	if parent != "" {
		chainID = ChainIDs([]digest.Digest{parent, diffID})[1]
	}
	f, err := os.Open(s.blobs.path(diffID))
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if _, err := s.snaps.ApplyLayer(ctx, parent, chainID, f); err != nil {
		return "", "", err
	}
	return diffID, chainID, nil
}

// Import creates a one-layer image from a rootfs tar.
func (s *Store) Import(ctx context.Context, r io.Reader, o ImportOptions) (*Image, error) {
	if o.Platform != "" && o.Platform != "linux" && !strings.HasPrefix(o.Platform, "linux/"+goruntime.GOARCH) {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("platform %q is not supported on this host", o.Platform))
	}
	if o.Ref != "" {
		if _, err := parseRef(o.Ref); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s", o.Ref))
		}
	}
	cfg := dockerspec.DockerOCIImage{}
	if err := ApplyChanges(&cfg, o.Changes); err != nil {
		return nil, err
	}
	diffID, _, err := s.addLayer(ctx, "", r)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("import: %v", err))
	}
	now := time.Now().UTC()
	cfg.Created = &now
	cfg.Architecture = goruntime.GOARCH
	cfg.OS = "linux"
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}
	comment := o.Message
	if comment == "" {
		comment = "Imported from -"
	}
	cfg.History = []ocispec.History{{Created: &now, Comment: comment}}
	return s.create(ctx, &cfg, "", o.Ref)
}

// CommitOptions describe a new image made of a parent and a diff.
type CommitOptions struct {
	Parent    digest.Digest
	Diff      io.Reader
	Config    dockerspec.DockerOCIImage
	Author    string
	Comment   string
	CreatedBy string
	Ref       string
}

// Commit adds the diff as a new layer over the parent image.
func (s *Store) Commit(ctx context.Context, o CommitOptions) (*Image, error) {
	cfg := o.Config
	var parentChain digest.Digest
	var diffIDs []digest.Digest
	var history []ocispec.History
	if o.Parent != "" {
		p, err := s.Get(ctx, o.Parent.String())
		if err != nil {
			return nil, err
		}
		parentChain = p.ChainID
		diffIDs = append(diffIDs, p.Config.RootFS.DiffIDs...)
		history = append(history, p.Config.History...)
	}
	diffID, _, err := s.addLayer(ctx, parentChain, o.Diff)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	cfg.Created = &now
	cfg.Author = o.Author
	if cfg.Architecture == "" {
		cfg.Architecture = goruntime.GOARCH
	}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: append(diffIDs, diffID)}
	cfg.History = append(history, ocispec.History{Created: &now, Author: o.Author, CreatedBy: o.CreatedBy, Comment: o.Comment})
	return s.create(ctx, &cfg, o.Parent, o.Ref)
}

// Delete removes a tag or an image with Docker's rmi semantics. inUse says
// which container uses an image, and whether it runs.
func (s *Store) Delete(ctx context.Context, refStr string, force, noPrune bool, inUse func(digest.Digest) (string, bool)) ([]apiimage.DeleteResponse, error) {
	img, err := s.Get(ctx, refStr)
	if err != nil {
		return nil, err
	}
	var byName string
	_ = s.db.View(func(tx *bolt.Tx) error {
		byName, _ = s.isNameRef(tx, refStr)
		return nil
	})
	var out []apiimage.DeleteResponse
	if byName != "" && (len(img.RepoTags)+len(img.RepoDigests) > 1) {
		// Other references remain: just untag.
		if _, err := s.Untag(ctx, byName); err != nil {
			return nil, err
		}
		return []apiimage.DeleteResponse{{Untagged: byName}}, nil
	}
	if byName == "" && len(img.RepoTags) > 1 && !force {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(img.ID)))
	}
	if cid, running := inUse(img.ID); cid != "" {
		if running {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", refOrID(byName, img), cid[:12]))
		}
		if !force {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", refOrID(byName, img), cid[:12]))
		}
		// Forced with a stopped user: untag only, keep the image.
		for _, t := range append(img.RepoTags, img.RepoDigests...) {
			if _, err := s.Untag(ctx, t); err == nil {
				out = append(out, apiimage.DeleteResponse{Untagged: t})
			}
		}
		return out, nil
	}
	if s.hasChildren(img.ID) {
		if byName != "" {
			_, _ = s.Untag(ctx, byName)
			return []apiimage.DeleteResponse{{Untagged: byName}}, nil
		}
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image has dependent child images", shortID(img.ID)))
	}
	for _, t := range append(img.RepoTags, img.RepoDigests...) {
		out = append(out, apiimage.DeleteResponse{Untagged: t})
	}
	if err := s.remove(ctx, img); err != nil {
		return out, err
	}
	out = append(out, apiimage.DeleteResponse{Deleted: img.ID.String()})
	return out, nil
}

func refOrID(name string, img *Image) string {
	if name != "" {
		return name
	}
	return shortID(img.ID)
}

func (s *Store) hasChildren(id digest.Digest) bool {
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			if strings.Contains(string(v), `"parent":"`+id.String()+`"`) {
				found = true
			}
			return nil
		})
	})
	return found
}

// remove deletes the image record, its tags, its config and the layers
// no other image shares.
func (s *Store) remove(ctx context.Context, img *Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		tags := tx.Bucket(bucketTags)
		c := tags.Cursor()
		var del [][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if digest.Digest(v) == img.ID {
				del = append(del, append([]byte{}, k...))
			}
		}
		for _, k := range del {
			if err := tags.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketImages).Delete([]byte(img.ID))
	})
	if err != nil {
		return fmt.Errorf("delete image %s: %w", img.ID, err)
	}
	_ = os.Remove(s.blobs.path(img.ID))
	// Layers still used by another image stay.
	used := map[digest.Digest]bool{}
	others, _ := s.List(ctx)
	for _, o := range others {
		for _, c := range ChainIDs(o.Config.RootFS.DiffIDs) {
			used[c] = true
		}
		for _, d := range o.Config.RootFS.DiffIDs {
			used[d] = true
		}
	}
	chains := ChainIDs(img.Config.RootFS.DiffIDs)
	for i := len(chains) - 1; i >= 0; i-- {
		if !used[chains[i]] {
			if err := s.snaps.RemoveLayer(ctx, chains[i]); err != nil {
				s.log.Warn("remove layer", "chain", chains[i], "err", err)
			}
		}
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		if !used[d] {
			_ = os.Remove(s.blobs.path(d))
		}
	}
	return nil
}

// Prune removes dangling images (all unused ones with all) not in use.
func (s *Store) Prune(ctx context.Context, all bool, inUse func(digest.Digest) bool, labelFilter func(map[string]string) bool) (*apiimage.PruneReport, error) {
	rep := &apiimage.PruneReport{ImagesDeleted: []apiimage.DeleteResponse{}}
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		if inUse(img.ID) || (!all && len(img.RepoTags) > 0) || !labelFilter(img.Config.Config.Labels) || s.hasChildren(img.ID) {
			continue
		}
		for _, t := range append(img.RepoTags, img.RepoDigests...) {
			rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Untagged: t})
		}
		if err := s.remove(ctx, img); err != nil {
			return rep, err
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Deleted: img.ID.String()})
		rep.SpaceReclaimed += uint64(img.Size)
	}
	return rep, nil
}

// History lists an image's history, newest first, as `docker history`.
func (s *Store) History(ctx context.Context, refStr string) ([]apiimage.HistoryResponseItem, error) {
	img, err := s.Get(ctx, refStr)
	if err != nil {
		return nil, err
	}
	chains := ChainIDs(img.Config.RootFS.DiffIDs)
	var out []apiimage.HistoryResponseItem
	layer := 0
	for _, h := range img.Config.History {
		item := apiimage.HistoryResponseItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(chains) {
			item.Size = s.snaps.LayerSize(chains[layer])
			layer++
		}
		out = append(out, item)
	}
	// Newest first; the top entry carries the image ID and tags.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		out[0].Tags = img.RepoTags
		if out[0].Tags == nil {
			out[0].Tags = []string{}
		}
	}
	return out, nil
}

// Inspect renders an image as GET /images/{name}/json.
func (s *Store) Inspect(img *Image) *apiimage.InspectResponse {
	cfg := img.Config.Config
	r := &apiimage.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     img.RepoTags,
		RepoDigests:  img.RepoDigests,
		Author:       img.Config.Author,
		Config:       &cfg,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		Size:         img.Size,
		GraphDriver:  &storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		RootFS:       apiimage.RootFS{Type: "layers"},
		Created:      img.Created.Format(time.RFC3339Nano),
	}
	if r.RepoTags == nil {
		r.RepoTags = []string{}
	}
	if r.RepoDigests == nil {
		r.RepoDigests = []string{}
	}
	if n := len(img.Config.History); n > 0 {
		r.Comment = img.Config.History[n-1].Comment
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		r.RootFS.Layers = append(r.RootFS.Layers, d.String())
	}
	return r
}

// Summary renders an image as one row of GET /images/json.
func (s *Store) Summary(img *Image) apiimage.Summary {
	labels := img.Config.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	parent := ""
	if img.Parent != "" {
		parent = img.Parent.String()
	}
	return apiimage.Summary{
		ID:          img.ID.String(),
		ParentID:    parent,
		RepoTags:    img.RepoTags,
		RepoDigests: img.RepoDigests,
		Created:     img.Created.Unix(),
		Size:        img.Size,
		Labels:      labels,
		Containers:  -1,
		SharedSize:  -1,
	}
}
