// Package image owns images: the content-addressed blob store (configs and
// uncompressed layer tars by digest), the image, tag and layer-tree
// metadata in bbolt with its in-memory index (children, references and
// layer use, so that deleting or listing costs no scan of every record),
// and the image operations built on them — import, tag, delete, prune,
// history, commit, save and load. Layers are unpacked through
// daemon/snapshot, keyed by chain ID. A delete decides under the store
// lock and removes layers and blobs after releasing it.
package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/daemon/snapshot"
)

var (
	bucketImages = []byte("images") // image ID → record JSON
	bucketTags   = []byte("tags")   // normalized reference → image ID
)

// record is what bbolt keeps per image besides its config blob.
type record struct {
	Parent  digest.Digest `json:"parent,omitempty"`
	Added   time.Time     `json:"added"`
	LastTag time.Time     `json:"lastTag,omitzero"`
	// A copy of the config fields List shows, so that listing and opening
	// the store read no config; Summarized is false in records written
	// before it was kept (they are filled when the store opens).
	Summarized bool              `json:"summarized,omitempty"`
	Created    *time.Time        `json:"created,omitempty"`
	ChainID    digest.Digest     `json:"chainID,omitempty"`
	Arch       string            `json:"arch,omitempty"`
	OS         string            `json:"os,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Image is one image: its config and where it is referenced.
type Image struct {
	ID          digest.Digest
	Config      dockerspec.DockerOCIImage
	RepoTags    []string
	RepoDigests []string
	Size        int64
	ChainID     digest.Digest // "" when the image has no layers
	Parent      digest.Digest
	Created     time.Time
	// LastTagTime is when a tag was last added to the image locally.
	LastTagTime time.Time
}

// Store is the image store.
type Store struct {
	root  string
	db    *bolt.DB
	snaps *snapshot.Snapshotter
	log   *slog.Logger
	blobs *blobStore
	// mu guards ix and serialises the bbolt writes that change it. It is
	// never held across layer or blob deletion (see sweep) or config reads.
	mu sync.RWMutex
	ix *index
	// beforeSweep, when set (by tests), runs before a sweep deletes.
	beforeSweep func()
}

// New opens the image store: blobs under root/blobs, metadata in db.
func New(root string, db *bolt.DB, snaps *snapshot.Snapshotter, logger *slog.Logger) (*Store, error) {
	bs, err := newBlobStore(filepath.Join(root, "blobs"))
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketTags, bucketLayers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("init image metadata: %w", err)
	}
	s := &Store{root: root, db: db, snaps: snaps, log: logger, blobs: bs}
	if s.ix, err = s.loadIndex(context.Background()); err != nil {
		return nil, fmt.Errorf("load image metadata: %w", err)
	}
	return s, nil
}

// ChainIDs computes the chain IDs of a list of diff IDs.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// load reads one image by ID: its index entry (under s.mu) and then its
// config (without the lock).
func (s *Store) load(id digest.Digest) (*Image, error) {
	s.mu.RLock()
	e := s.ix.images[id]
	var img *Image
	if e != nil {
		img = s.ix.image(e)
	}
	s.mu.RUnlock()
	if img == nil {
		return nil, errdefs.ErrNotFound
	}
	cfgBytes, err := s.blobs.read(id)
	if errors.Is(err, os.ErrNotExist) {
		s.mu.RLock()
		gone := s.ix.images[id] == nil || s.ix.dyingBlobs[id] != nil
		s.mu.RUnlock()
		if gone {
			return nil, errdefs.ErrNotFound // deleted meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", id, err)
	}
	if err := json.Unmarshal(cfgBytes, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s config: %w", id, err)
	}
	return img, nil
}

// familiar turns a normalized reference into the form Docker shows
// ("busybox:latest", "localhost:5000/a:b").
func familiar(ref reference.Named) string {
	return reference.FamiliarString(ref)
}

// parseRef normalizes a user reference, adding ":latest" when it has
// neither tag nor digest.
func parseRef(s string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, err
	}
	return reference.TagNameOnly(ref), nil
}

// invalidRef is the API error for a reference that does not parse, in
// the reference library's (and so Docker's) words.
func invalidRef(ref string, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "invalid reference format") {
		msg = fmt.Sprintf("invalid reference format: %s", msg)
	}
	return errdefs.ErrInvalidArgument.WithMessage(msg)
}

// Get resolves a reference: name[:tag], name@digest, a full or short image
// ID ("sha256:" optional).
func (s *Store) Get(ctx context.Context, refStr string) (*Image, error) {
	notFound := errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such image: %s", refStr))
	var id digest.Digest
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		id, err = s.resolve(tx, refStr)
		return err
	})
	var img *Image
	if err == nil {
		img, err = s.load(id)
	}
	if errdefs.IsNotFound(err) {
		return nil, notFound
	}
	return img, err
}

func (s *Store) resolve(tx *bolt.Tx, refStr string) (digest.Digest, error) {
	if refStr == "" {
		return "", errdefs.ErrNotFound
	}
	// A full ID.
	if d, err := digest.Parse(refStr); err == nil {
		if tx.Bucket(bucketImages).Get([]byte(d)) != nil {
			return d, nil
		}
	}
	// A name.
	if ref, err := parseRef(refStr); err == nil {
		if v := tx.Bucket(bucketTags).Get([]byte(familiar(ref))); v != nil {
			return digest.Digest(v), nil
		}
	}
	// A (short) ID.
	hex := strings.TrimPrefix(refStr, "sha256:")
	if hex == "" || strings.Trim(hex, "0123456789abcdef") != "" || len(hex) > 64 {
		return "", errdefs.ErrNotFound
	}
	var match digest.Digest
	c := tx.Bucket(bucketImages).Cursor()
	prefix := []byte("sha256:" + hex)
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
		if match != "" {
			return "", errdefs.ErrNotFound
		}
		match = digest.Digest(k)
	}
	if match == "" {
		return "", errdefs.ErrNotFound
	}
	return match, nil
}

// List returns every image, from the index: an image's Config carries
// only its creation time, platform and labels (Get has the whole config).
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Image, 0, len(s.ix.images))
	for _, e := range s.ix.images {
		out = append(out, s.ix.image(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, ctx.Err()
}

// create stores a config blob and registers the image; ref, if given, is
// tagged to it. The layers must already be unpacked.
func (s *Store) create(ctx context.Context, cfg *dockerspec.DockerOCIImage, parent digest.Digest, ref string) (*Image, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	id, err := s.blobs.put(b)
	if err != nil {
		return nil, fmt.Errorf("store image config: %w", err)
	}
	return s.registerRef(ctx, id, b, parent, ref)
}

// register records an image whose config blob is stored.
func (s *Store) register(ctx context.Context, id digest.Digest, parent digest.Digest) (*Image, error) {
	return s.registerRef(ctx, id, nil, parent, "")
}

// registerRef records the image id whose config (raw, read from its blob
// when nil) is stored, with its layers in the layer tree, and tags ref to
// it. A layer or blob whose deletion is under way is waited for: then the
// config blob is written again, and a layer or layer blob that is gone
// is an error rather than an image that cannot run.
func (s *Store) registerRef(ctx context.Context, id digest.Digest, raw []byte, parent digest.Digest, ref string) (*Image, error) {
	var err error
	var named reference.Named
	if ref != "" {
		if named, err = parseRef(ref); err != nil {
			return nil, invalidRef(ref, err)
		}
	}
	if raw == nil {
		if raw, err = s.blobs.read(id); err != nil {
			return nil, fmt.Errorf("register image %s: %w", id, err)
		}
	}
	var cfg configSummary
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("register image %s: %w", id, err)
	}
	rec := record{Parent: parent, Added: time.Now().UTC()}
	rec.summarize(&cfg)
	chains, lrecs := layerRecords(cfg.RootFS.DiffIDs)
	for {
		wait, err := s.registerLocked(id, rec, chains, lrecs, named)
		if err != nil {
			return nil, err
		}
		if wait == nil {
			break
		}
		if err := waitDying(ctx, wait); err != nil {
			return nil, err
		}
		if !s.blobs.has(id) {
			if _, err := s.blobs.put(raw); err != nil {
				return nil, fmt.Errorf("store image config: %w", err)
			}
		}
	}
	return s.Get(ctx, id.String())
}

// registerLocked is one attempt of registerRef under the lock; it returns
// the channel to wait on when something it needs is being deleted.
func (s *Store) registerLocked(id digest.Digest, rec record, chains []digest.Digest, lrecs []layerRecord, named reference.Named) (<-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.ix.dyingBlobs[id]; ch != nil {
		return ch, nil
	}
	// The layers not in the tree yet (top first, down to a known one).
	var fresh []int
	for i, c := range chains {
		if s.ix.layers[c] != nil {
			break
		}
		if ch := s.ix.dyingLayers[c]; ch != nil {
			return ch, nil
		}
		if ch := s.ix.dyingBlobs[lrecs[i].DiffID]; ch != nil {
			return ch, nil
		}
		if !s.snaps.HasLayer(c) || !s.blobs.has(lrecs[i].DiffID) {
			return nil, fmt.Errorf("register image %s: layer %s is missing (deleted meanwhile?)", id, c)
		}
		fresh = append(fresh, i)
	}
	e := s.ix.images[id]
	var old digest.Digest
	now := time.Now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if e == nil {
			if err := putJSON(tx.Bucket(bucketImages), id, rec); err != nil {
				return err
			}
			for _, i := range fresh {
				lrecs[i].Size = s.snaps.LayerSize(chains[i])
				if err := putJSON(tx.Bucket(bucketLayers), chains[i], lrecs[i]); err != nil {
					return err
				}
			}
		}
		if named != nil {
			var err error
			old, err = s.putTag(tx, id, familiar(named), now)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register image: %w", err)
	}
	if e == nil {
		for j := len(fresh) - 1; j >= 0; j-- {
			i := fresh[j]
			s.ix.addLayer(chains[i], lrecs[i])
		}
		s.ix.addImage(&entry{id: id, rec: rec})
	}
	if named != nil {
		s.ix.tagged(familiar(named), id, old, now)
	}
	return nil, nil
}

// putTag points key at id and records the tag time on the image; it
// returns the image key pointed at before ("" if none or the same). The
// caller updates the index (tagged) once tx is committed.
func (s *Store) putTag(tx *bolt.Tx, id digest.Digest, key string, now time.Time) (digest.Digest, error) {
	var old digest.Digest
	if v := tx.Bucket(bucketTags).Get([]byte(key)); v != nil && digest.Digest(v) != id {
		old = digest.Digest(v)
	}
	if err := tx.Bucket(bucketTags).Put([]byte(key), []byte(id)); err != nil {
		return "", err
	}
	raw := tx.Bucket(bucketImages).Get([]byte(id))
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", fmt.Errorf("image %s metadata: %w", id, err)
	}
	rec.LastTag = now
	return old, putJSON(tx.Bucket(bucketImages), id, rec)
}

// tagged is putTag's change to the index.
func (ix *index) tagged(key string, id, old digest.Digest, now time.Time) {
	if old != "" {
		ix.dropRef(key, old)
	}
	ix.setRef(key, id)
	if e := ix.images[id]; e != nil {
		e.rec.LastTag = now
	}
}

// Tag points ref at the image id (moving it from another image, if any).
func (s *Store) Tag(ctx context.Context, id digest.Digest, ref string) error {
	_, err := s.tag(id, ref)
	return err
}

// tag is Tag that also returns the image the reference pointed to before
// ("" if none or the same).
func (s *Store) tag(id digest.Digest, ref string) (digest.Digest, error) {
	named, err := parseRef(ref)
	if err != nil {
		return "", invalidRef(ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", errdefs.ErrInvalidArgument.WithMessage("refusing to create a tag with a digest reference")
	}
	if reference.FamiliarName(named) == "scratch" || strings.HasSuffix(named.Name(), "/library/scratch") {
		return "", errdefs.ErrInvalidArgument.WithMessage("'scratch' is a reserved name")
	}
	var old digest.Digest
	key := familiar(named)
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix.images[id] == nil {
		return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such image: %s", id))
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		old, err = s.putTag(tx, id, key, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("tag %s: %w", key, err)
	}
	s.ix.tagged(key, id, old, now)
	return old, nil
}

// Untag removes a tag; it reports whether the tag existed.
func (s *Store) Untag(ctx context.Context, ref string) (bool, error) {
	named, err := parseRef(ref)
	if err != nil {
		return false, invalidRef(ref, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := familiar(named)
	var owner digest.Digest
	err = s.db.Update(func(tx *bolt.Tx) error {
		owner = digest.Digest(tx.Bucket(bucketTags).Get([]byte(k)))
		return tx.Bucket(bucketTags).Delete([]byte(k))
	})
	if err != nil {
		return false, fmt.Errorf("untag %s: %w", k, err)
	}
	if owner != "" {
		s.ix.dropRef(k, owner)
	}
	return owner != "", nil
}

// isNameRef reports whether refStr names a tag or digest reference (as
// Get resolves it: a full ID wins over a name), and returns its key.
func (s *Store) isNameRef(tx *bolt.Tx, refStr string) (string, bool) {
	if d, err := digest.Parse(refStr); err == nil && tx.Bucket(bucketImages).Get([]byte(d)) != nil {
		return "", false
	}
	ref, err := parseRef(refStr)
	if err != nil {
		return "", false
	}
	k := familiar(ref)
	if tx.Bucket(bucketTags).Get([]byte(k)) != nil {
		return k, true
	}
	return "", false
}

// shortID is the 12-hex form of an image ID.
func shortID(id digest.Digest) string {
	e := id.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

// ReadBlob opens a blob by digest (configs and layer tars).
func (s *Store) ReadBlob(d digest.Digest) (io.ReadCloser, error) {
	return os.Open(s.blobs.path(d))
}
