package image

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
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
	defer w.Abort() // unless committed
	if _, err := io.Copy(w, dr); err != nil {
		return "", "", fmt.Errorf("read layer: %w", err)
	}
	if check != nil {
		if err := check(); err != nil {
			return "", "", err
		}
	}
	diffID = w.Digest()
	chainID = diffID
	if parent != "" {
		chainID = ChainIDs([]digest.Digest{parent, diffID})[1]
	}
	// Unpack from the uncommitted blob; the blob is committed only once
	// the layer unpacked, so a layer the unpacker rejects (a hostile tar)
	// leaves no blob behind.
	f, err := w.reader()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if _, err := s.snaps.ApplyLayerVerified(ctx, parent, chainID, f, func() error {
		_, err := w.Commit(diffID)
		return err
	}); err != nil {
		return "", "", err
	}
	return diffID, chainID, nil
}

// addLayerConcurrent stores the blob and unpacks the layer at the same
// time (the diff ID, and so the chain ID, is known in advance): the
// decompressed stream is written to the blob and piped to the unpacker.
// The blob is committed once the layer unpacked and its digest matched
// (and check passed), and only then is the layer renamed into place;
// otherwise both are discarded.
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
			// so the writer side finishes, then wait for the stream's
			// verdict. The blob is committed (its digest checked) only
			// now that the layer unpacked: a rejected layer leaves none.
			_, _ = io.Copy(io.Discard, pr)
			if err := <-verdict; err != nil {
				return err
			}
			_, err := w.Commit(expected)
			return err
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
	verdict <- verr
	aerr := <-applied
	w.Abort() // unless committed
	if verr != nil {
		return "", "", verr
	}
	if aerr != nil {
		return "", "", aerr
	}
	return expected, chainID, nil
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
// the conflicts of an image that is still wanted (after an untag). With
// prune, the parents the image leaves dangling go too, in the same
// metadata transaction; their layers and blobs are deleted after it,
// without the store lock.
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
	if cid, _ := inUse(img.ID); cid != "" {
		// Forced past a stopped container: keep the image it runs from.
		for _, r := range references(img) {
			if _, err := s.Untag(ctx, familiar(r)); err != nil {
				return err
			}
			*out = append(*out, apiimage.DeleteResponse{Untagged: familiar(r)})
		}
		return nil
	}
	ids := []digest.Digest{img.ID}
	if prune {
		// The parents that would be left dangling: untagged, with this
		// chain as their only child and no container.
		s.mu.RLock()
		for cur := s.ix.images[img.ID]; cur != nil && cur.rec.Parent != ""; {
			p := s.ix.images[cur.rec.Parent]
			if p == nil || len(p.refs) > 0 || len(s.ix.children[p.id]) != 1 {
				break
			}
			ids = append(ids, p.id)
			cur = p
		}
		s.mu.RUnlock()
		for i := 1; i < len(ids); i++ {
			if i%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if cid, _ := inUse(ids[i]); cid != "" {
				ids = ids[:i]
				break
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	removed, w, err := s.removeImages(ids, false)
	if len(removed) > 0 {
		s.run(ctx, w)
	}
	for _, r := range removed {
		for _, t := range r.untagged {
			*out = append(*out, apiimage.DeleteResponse{Untagged: t})
		}
		*out = append(*out, apiimage.DeleteResponse{Deleted: r.id.String()})
		for _, l := range r.layers {
			*out = append(*out, apiimage.DeleteResponse{Deleted: l.String()})
		}
	}
	return err
}

// removedImage is one image removeImages took out.
type removedImage struct {
	id       digest.Digest
	untagged []string        // its references, as removed
	layers   []digest.Digest // chain IDs of the layers only it used
	size     int64           // their size
}

// removeImages deletes, in one metadata transaction, ids[0] and then each
// next ID while it is the untagged, unique parent of the one before; it
// stops at the first that no longer is (a concurrent tag or build).
// ids[0]'s references are removed with it, unless keepTagged and one is a
// tag (then nothing is). ids[0] having a child is a conflict. The returned sweep,
// already marked, deletes the layers and blobs they alone used.
func (s *Store) removeImages(ids []digest.Digest, keepTagged bool) ([]removedImage, sweep, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []removedImage
	var w sweep
	for i, id := range ids {
		e := s.ix.images[id]
		if e == nil {
			if i == 0 {
				return nil, w, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such image: %s", id))
			}
			break
		}
		if i == 0 && s.ix.hasChildren(id) {
			c := &deleteConflict{id: id, hard: true, message: "image has dependent child images"}
			return nil, w, c.err()
		}
		if i > 0 && (s.ix.hasChildren(id) || len(e.refs) > 0) {
			break
		}
		if i == 0 && keepTagged && slices.ContainsFunc(e.refs, func(r string) bool { return !strings.Contains(r, "@") }) {
			break
		}
		r := removedImage{id: id, untagged: append([]string(nil), e.refs...)}
		var blobs []digest.Digest
		r.layers, blobs, r.size = s.ix.removeImage(id)
		w.layers = append(w.layers, r.layers...)
		w.blobs = append(append(w.blobs, id), blobs...)
		out = append(out, r)
		if i+1 < len(ids) && e.rec.Parent != ids[i+1] {
			break
		}
	}
	if len(out) == 0 {
		return nil, w, nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range out {
			for _, k := range r.untagged {
				if err := tx.Bucket(bucketTags).Delete([]byte(k)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketImages).Delete([]byte(r.id)); err != nil {
				return err
			}
			for _, l := range r.layers {
				if err := tx.Bucket(bucketLayers).Delete([]byte(l)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		// The index went ahead of bbolt: read it again.
		if ix, lerr := s.loadIndex(context.Background()); lerr == nil {
			ix.dyingLayers, ix.dyingBlobs = s.ix.dyingLayers, s.ix.dyingBlobs
			s.ix = ix
		} else {
			s.log.Error("reload image index", "err", lerr)
		}
		return nil, sweep{}, fmt.Errorf("delete image %s: %w", ids[0], err)
	}
	s.mark(w)
	return out, w, nil
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.hasChildren(id)
}

// addedLayer is a layer a multi-layer operation stored, and what of it
// was new (the blob, the unpacked chain).
type addedLayer struct {
	diffID, chainID   digest.Digest
	newBlob, newChain bool
}

// discardUnreferenced removes, after an operation failed half-way, the
// new layers (unpacked chains and blobs) it stored that no image uses.
func (s *Store) discardUnreferenced(ctx context.Context, added []addedLayer) {
	var w sweep
	s.mu.Lock()
	for i := len(added) - 1; i >= 0; i-- {
		l := added[i]
		if l.newChain && s.ix.layers[l.chainID] == nil && s.ix.dyingLayers[l.chainID] == nil {
			w.layers = append(w.layers, l.chainID)
		}
		if l.newBlob && s.ix.diffRefs[l.diffID] == 0 && s.ix.dyingBlobs[l.diffID] == nil {
			w.blobs = append(w.blobs, l.diffID)
		}
	}
	s.mark(w)
	s.mu.Unlock()
	if len(w.layers)+len(w.blobs) > 0 {
		s.run(ctx, w)
	}
}

// Prune removes dangling images (with all, every image) that no container
// uses and labelFilter accepts; parents left dangling by a pruned child go
// too.
func (s *Store) Prune(ctx context.Context, all bool, inUse func(digest.Digest) bool, labelFilter func(map[string]string) bool) (*apiimage.PruneReport, error) {
	rep := &apiimage.PruneReport{ImagesDeleted: []apiimage.DeleteResponse{}}
	if labelFilter == nil {
		labelFilter = func(map[string]string) bool { return true }
	}
	// candidate reports an image that may go now, with its labels.
	candidate := func(id digest.Digest) (map[string]string, bool) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		e := s.ix.images[id]
		if e == nil || s.ix.hasChildren(id) {
			return nil, false
		}
		if !all {
			for _, r := range e.refs {
				if !strings.Contains(r, "@") {
					return nil, false
				}
			}
		}
		return e.rec.Labels, true
	}
	s.mu.RLock()
	var queue []digest.Digest
	for id := range s.ix.images {
		if !s.ix.hasChildren(id) {
			queue = append(queue, id)
		}
	}
	s.mu.RUnlock()
	var w sweep
	defer func() { s.run(ctx, w) }()
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		labels, ok := candidate(id)
		if !ok || inUse(id) || !labelFilter(labels) {
			continue
		}
		var parent digest.Digest
		s.mu.RLock()
		if e := s.ix.images[id]; e != nil {
			parent = e.rec.Parent
		}
		s.mu.RUnlock()
		removed, sw, err := s.removeImages([]digest.Digest{id}, !all)
		w.add(sw)
		if err != nil {
			if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
				continue // a child or a tag came meanwhile
			}
			return rep, err
		}
		for _, r := range removed {
			for _, t := range r.untagged {
				rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Untagged: t})
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Deleted: r.id.String()})
			for _, l := range r.layers {
				rep.ImagesDeleted = append(rep.ImagesDeleted, apiimage.DeleteResponse{Deleted: l.String()})
			}
			rep.SpaceReclaimed += uint64(r.size)
		}
		if len(removed) > 0 && parent != "" {
			queue = append(queue, parent)
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
