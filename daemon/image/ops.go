package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
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
	return s.addLayerChecked(ctx, parent, r, expected, nil)
}

// addLayerChecked is addLayerExpect with a last check (check, when set)
// run after the whole stream is read and before anything is committed.
func (s *Store) addLayerChecked(ctx context.Context, parent digest.Digest, r io.Reader, expected digest.Digest, check func() error) (diffID, chainID digest.Digest, err error) {
	dr, err := archive.Decompress(r)
	if err != nil {
		return "", "", err
	}
	defer dr.Close()
	w, err := s.blobs.writer()
	if err != nil {
		return "", "", err
	}
	if expected != "" {
		return s.addLayerConcurrent(ctx, parent, dr, w, expected, check)
	}
	if _, err := io.Copy(w, dr); err != nil {
		w.Abort()
		return "", "", fmt.Errorf("read layer: %w", err)
	}
	if check != nil {
		if err := check(); err != nil {
			w.Abort()
			return "", "", err
		}
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

// addLayerConcurrent stores the blob and unpacks the layer at the same
// time (the diff ID, and so the chain ID, is known in advance): the
// decompressed stream is written to the blob and piped to the unpacker.
// The unpacked layer is renamed into place only after the blob's digest
// matched (and check passed); otherwise both are discarded.
func (s *Store) addLayerConcurrent(ctx context.Context, parent digest.Digest, dr io.Reader, w *blobWriter, expected digest.Digest, check func() error) (diffID, chainID digest.Digest, err error) {
	chainID = expected
	if parent != "" {
		chainID = ChainIDs([]digest.Digest{parent, expected})[1]
	}
	pr, pw := io.Pipe()
	verdict := make(chan error, 1)
	applied := make(chan error, 1)
	go func() {
		_, err := s.snaps.ApplyLayerVerified(ctx, parent, chainID, pr, func() error {
			// Drain what the tar reader left (end-of-archive padding)
			// so the writer side finishes, then wait for the digests.
			_, _ = io.Copy(io.Discard, pr)
			return <-verdict
		})
		_, _ = io.Copy(io.Discard, pr) // after an early unpack error
		applied <- err
	}()
	_, copyErr := io.Copy(io.MultiWriter(w, pw), dr)
	pw.CloseWithError(copyErr)
	var verr error
	switch {
	case copyErr != nil:
		verr = fmt.Errorf("read layer: %w", copyErr)
	case check != nil:
		verr = check()
	}
	if verr == nil {
		diffID, verr = w.Commit(expected)
	} else {
		w.Abort()
	}
	verdict <- verr
	if aerr := <-applied; verr == nil && aerr != nil {
		verr = aerr
	}
	if verr != nil {
		return "", "", verr
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
			return nil, invalidRef(o.Ref, err)
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

// Conflict kinds of an image delete, as Docker's.
const (
	conflictDependentChild = 1 << iota
	conflictRunningContainer
	conflictActiveReference
	conflictStoppedContainer
	conflictHard = conflictDependentChild | conflictRunningContainer
	conflictSoft = conflictActiveReference | conflictStoppedContainer
)

// deleteConflict is why an image cannot be deleted.
type deleteConflict struct {
	id      digest.Digest
	hard    bool
	used    bool // by a container
	message string
}

func (c *deleteConflict) err() error {
	force := "must be forced"
	if c.hard {
		force = "cannot be forced"
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (%s) - %s", shortID(c.id), force, c.message))
}

// InUseFunc says which container uses an image ("" for none), and whether
// it runs; a running user is reported before stopped ones.
type InUseFunc func(id digest.Digest) (containerID string, running bool)

// Delete removes a tag or an image with Docker's rmi semantics: by name it
// untags, deleting the image with its last reference; by ID it deletes the
// image and all its references. Containers using the image, child images
// and references in several repositories are conflicts, some of which
// force overrides. Layers no other image uses are removed with the image,
// and so are the image's dangling parents unless noPrune.
//
// Unlike dockerd, a forced delete of an image that a stopped container
// uses only removes its references: the container still needs the image
// to start.
func (s *Store) Delete(ctx context.Context, refStr string, force, noPrune bool, inUse func(digest.Digest) (string, bool)) ([]apiimage.DeleteResponse, error) {
	img, err := s.Get(ctx, refStr)
	if err != nil {
		return nil, err
	}
	if inUse == nil {
		inUse = func(digest.Digest) (string, bool) { return "", false }
	}
	var out []apiimage.DeleteResponse
	refs := references(img)
	removedRef := false
	byName := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		_, byName = s.isNameRef(tx, refStr)
		return nil
	})
	if byName {
		named, err := reference.ParseNormalizedNamed(refStr)
		if err != nil {
			return nil, invalidRef(refStr, err)
		}
		if _, ok := named.(reference.Canonical); !ok {
			named = reference.TagNameOnly(named)
		}
		if !force && isSingleReference(refs) {
			if cid, _ := inUse(img.ID); cid != "" {
				return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", refStr, shortCID(cid), shortID(img.ID)))
			}
		}
		key := familiar(named)
		if _, err := s.Untag(ctx, key); err != nil {
			return nil, err
		}
		out = append(out, apiimage.DeleteResponse{Untagged: key})
		// With the repository's last tag gone, its digest references go too.
		if _, canonical := named.(reference.Canonical); !canonical {
			tagLeft := false
			for _, r := range refs {
				if _, c := r.(reference.Canonical); !c && r.Name() == named.Name() && familiar(r) != key {
					tagLeft = true
				}
			}
			if !tagLeft {
				for _, r := range refs {
					if _, c := r.(reference.Canonical); c && r.Name() == named.Name() {
						if _, err := s.Untag(ctx, familiar(r)); err == nil {
							out = append(out, apiimage.DeleteResponse{Untagged: familiar(r)})
						}
					}
				}
			}
		}
		if img, err = s.Get(ctx, img.ID.String()); err != nil {
			return out, err
		}
		if len(references(img)) > 0 {
			return out, nil
		}
		removedRef = true
	} else if isSingleReference(refs) {
		mask := conflictHard
		if !force {
			mask |= conflictSoft &^ conflictActiveReference
		}
		if c := s.checkConflict(img, mask, inUse); c != nil {
			return nil, c.err()
		}
		for _, r := range refs {
			if _, err := s.Untag(ctx, familiar(r)); err != nil {
				return out, err
			}
			out = append(out, apiimage.DeleteResponse{Untagged: familiar(r)})
		}
		if img, err = s.Get(ctx, img.ID.String()); err != nil {
			return out, err
		}
	}
	err = s.deleteHelper(ctx, img, &out, force, !noPrune, removedRef, inUse)
	return out, err
}

// deleteHelper deletes an image whose conflicts allow it; quiet ignores
// the conflicts of an image that is still wanted (after an untag).
func (s *Store) deleteHelper(ctx context.Context, img *Image, out *[]apiimage.DeleteResponse, force, prune, quiet bool, inUse InUseFunc) error {
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if c := s.checkConflict(img, mask, inUse); c != nil {
		if quiet && (!s.dangling(img) || c.used) {
			return nil
		}
		return c.err()
	}
	for _, r := range references(img) {
		if _, err := s.Untag(ctx, familiar(r)); err != nil {
			return err
		}
		*out = append(*out, apiimage.DeleteResponse{Untagged: familiar(r)})
	}
	if cid, _ := inUse(img.ID); cid != "" {
		// Forced past a stopped container: keep the image it runs from.
		return nil
	}
	removed, err := s.remove(ctx, img)
	if err != nil {
		return err
	}
	*out = append(*out, apiimage.DeleteResponse{Deleted: img.ID.String()})
	for _, l := range removed {
		*out = append(*out, apiimage.DeleteResponse{Deleted: l.String()})
	}
	if !prune || img.Parent == "" {
		return nil
	}
	parent, err := s.Get(ctx, img.Parent.String())
	if err != nil || len(references(parent)) > 0 {
		return nil
	}
	return s.deleteHelper(ctx, parent, out, false, true, true, inUse)
}

func (s *Store) checkConflict(img *Image, mask int, inUse InUseFunc) *deleteConflict {
	if mask&conflictDependentChild != 0 && s.hasChildren(img.ID) {
		return &deleteConflict{id: img.ID, hard: true, message: "image has dependent child images"}
	}
	cid, running := inUse(img.ID)
	if mask&conflictRunningContainer != 0 && cid != "" && running {
		return &deleteConflict{id: img.ID, hard: true, used: true, message: "image is being used by running container " + shortCID(cid)}
	}
	if mask&conflictActiveReference != 0 && len(references(img)) > 0 {
		return &deleteConflict{id: img.ID, message: "image is referenced in multiple repositories"}
	}
	if mask&conflictStoppedContainer != 0 && cid != "" && !running {
		return &deleteConflict{id: img.ID, used: true, message: "image is being used by stopped container " + shortCID(cid)}
	}
	return nil
}

// dangling: no references and no children.
func (s *Store) dangling(img *Image) bool {
	return len(references(img)) == 0 && !s.hasChildren(img.ID)
}

// references parses an image's tags and digests.
func references(img *Image) []reference.Named {
	var out []reference.Named
	for _, r := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
		if named, err := reference.ParseNormalizedNamed(r); err == nil {
			out = append(out, named)
		}
	}
	return out
}

// isSingleReference reports whether refs are one tag plus, at most,
// digest references of the same repository.
func isSingleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single reference.Named
	canonical := map[string]bool{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = true
		} else if single == nil {
			single = r
		} else {
			return false
		}
	}
	if single == nil {
		single = refs[0]
	}
	return len(canonical) == 1 && canonical[single.Name()]
}

func shortCID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (s *Store) hasChildren(id digest.Digest) bool {
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var rec record
			if json.Unmarshal(v, &rec) == nil && rec.Parent == id {
				found = true
			}
			return nil
		})
	})
	return found
}

// remove deletes the image record, its tags and config, and the layers no
// other image shares; it returns the chain IDs of the layers removed.
func (s *Store) remove(ctx context.Context, img *Image) ([]digest.Digest, error) {
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
		return nil, fmt.Errorf("delete image %s: %w", img.ID, err)
	}
	_ = os.Remove(s.blobs.path(img.ID))
	// Layers still used by another image stay.
	used := map[digest.Digest]bool{}
	others, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		for _, c := range ChainIDs(o.Config.RootFS.DiffIDs) {
			used[c] = true
		}
		for _, d := range o.Config.RootFS.DiffIDs {
			used["blob:"+d] = true
		}
	}
	var removed []digest.Digest
	chains := ChainIDs(img.Config.RootFS.DiffIDs)
	for i := len(chains) - 1; i >= 0; i-- {
		if used[chains[i]] {
			break // its parents are used too
		}
		if err := s.snaps.RemoveLayer(ctx, chains[i]); err != nil {
			s.log.Warn("remove layer", "chain", chains[i], "err", err)
			continue
		}
		removed = append(removed, chains[i])
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		if !used["blob:"+d] {
			_ = os.Remove(s.blobs.path(d))
		}
	}
	return removed, nil
}

// Prune removes dangling images (with all, every image) that no container
// uses and labelFilter accepts.
func (s *Store) Prune(ctx context.Context, all bool, inUse func(digest.Digest) bool, labelFilter func(map[string]string) bool) (*apiimage.PruneReport, error) {
	rep := &apiimage.PruneReport{ImagesDeleted: []apiimage.DeleteResponse{}}
	if labelFilter == nil {
		labelFilter = func(map[string]string) bool { return true }
	}
	// Repeat so that parents left dangling by a pruned child go too.
	for pass := 0; pass < 64; pass++ {
		imgs, err := s.List(ctx)
		if err != nil {
			return nil, err
		}
		progress := false
		for _, img := range imgs {
			if inUse(img.ID) || (!all && len(img.RepoTags) > 0) || !labelFilter(img.Config.Config.Labels) || s.hasChildren(img.ID) {
				continue
			}
			for _, t := range append(img.RepoTags, img.RepoDigests...) {
				rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Untagged: t})
			}
			sizes := map[digest.Digest]int64{}
			for _, c := range ChainIDs(img.Config.RootFS.DiffIDs) {
				sizes[c] = s.snaps.LayerSize(c)
			}
			removed, err := s.remove(ctx, img)
			if err != nil {
				return rep, err
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Deleted: img.ID.String()})
			for _, l := range removed {
				rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Deleted: l.String()})
				rep.SpaceReclaimed += uint64(sizes[l])
			}
			progress = true
		}
		if !progress {
			break
		}
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
		Metadata:     apiimage.Metadata{LastTagTime: img.LastTagTime},
	}
	if dirs, err := s.snaps.LayerDirs(img.ChainID); err == nil && len(dirs) > 0 && img.ChainID != "" {
		r.GraphDriver.Data["UpperDir"] = dirs[0]
		r.GraphDriver.Data["LowerDir"] = strings.Join(dirs[1:], ":")
		if len(dirs) == 1 {
			delete(r.GraphDriver.Data, "LowerDir")
		}
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
	tags, digests := img.RepoTags, img.RepoDigests
	if tags == nil {
		tags = []string{}
	}
	if digests == nil {
		digests = []string{}
	}
	return apiimage.Summary{
		ID:          img.ID.String(),
		ParentID:    parent,
		RepoTags:    tags,
		RepoDigests: digests,
		Created:     img.Created.Unix(),
		Size:        img.Size,
		Labels:      labels,
		Containers:  -1,
		SharedSize:  -1,
	}
}
