// Package image owns images: the content-addressed blob store (configs and
// uncompressed layer tars by digest), the image and tag metadata in bbolt,
// and the image operations built on them — import, tag, delete, prune,
// history, commit, save and load. Layers are unpacked through
// daemon/snapshot, keyed by chain ID.
package image

import (
	"context"
	"encoding/json"
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
	mu    sync.Mutex // serialises tag and delete operations
}

// New opens the image store: blobs under root/blobs, metadata in db.
func New(root string, db *bolt.DB, snaps *snapshot.Snapshotter, logger *slog.Logger) (*Store, error) {
	bs, err := newBlobStore(filepath.Join(root, "blobs"))
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketTags} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("init image metadata: %w", err)
	}
	return &Store{root: root, db: db, snaps: snaps, log: logger, blobs: bs}, nil
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

// load reads one image by ID inside tx.
func (s *Store) load(tx *bolt.Tx, id digest.Digest) (*Image, error) {
	raw := tx.Bucket(bucketImages).Get([]byte(id))
	if raw == nil {
		return nil, errdefs.ErrNotFound
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("image %s metadata: %w", id, err)
	}
	cfgBytes, err := s.blobs.read(id)
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", id, err)
	}
	img := &Image{ID: id, Parent: rec.Parent, LastTagTime: rec.LastTag}
	if err := json.Unmarshal(cfgBytes, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s config: %w", id, err)
	}
	if img.Config.Created != nil {
		img.Created = *img.Config.Created
	} else {
		img.Created = rec.Added
	}
	if ids := ChainIDs(img.Config.RootFS.DiffIDs); len(ids) > 0 {
		img.ChainID = ids[len(ids)-1]
		for _, c := range ids {
			img.Size += s.snaps.LayerSize(c)
		}
	}
	c := tx.Bucket(bucketTags).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if digest.Digest(v) != id {
			continue
		}
		if strings.Contains(string(k), "@") {
			img.RepoDigests = append(img.RepoDigests, string(k))
		} else {
			img.RepoTags = append(img.RepoTags, string(k))
		}
	}
	sort.Strings(img.RepoTags)
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
	var img *Image
	err := s.db.View(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, refStr)
		if err != nil {
			return err
		}
		img, err = s.load(tx, id)
		return err
	})
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

// List returns every image.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	var out []*Image
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, _ []byte) error {
			img, err := s.load(tx, digest.Digest(k))
			if err != nil {
				s.log.Warn("skip unreadable image", "id", string(k), "err", err)
				return nil
			}
			out = append(out, img)
			return nil
		})
	})
	return out, err
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
	return s.registerRef(ctx, id, parent, ref)
}

// register records an image whose config blob is stored.
func (s *Store) register(ctx context.Context, id digest.Digest, parent digest.Digest) (*Image, error) {
	return s.registerRef(ctx, id, parent, "")
}

func (s *Store) registerRef(ctx context.Context, id digest.Digest, parent digest.Digest, ref string) (*Image, error) {
	var err error
	var named reference.Named
	if ref != "" {
		if named, err = parseRef(ref); err != nil {
			return nil, invalidRef(ref, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketImages).Get([]byte(id)) == nil {
			rec, _ := json.Marshal(record{Parent: parent, Added: time.Now().UTC()})
			if err := tx.Bucket(bucketImages).Put([]byte(id), rec); err != nil {
				return err
			}
		}
		if named != nil {
			return s.putTag(tx, id, familiar(named))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register image: %w", err)
	}
	return s.Get(ctx, id.String())
}

// putTag points key at id and records the tag time on the image.
func (s *Store) putTag(tx *bolt.Tx, id digest.Digest, key string) error {
	if err := tx.Bucket(bucketTags).Put([]byte(key), []byte(id)); err != nil {
		return err
	}
	raw := tx.Bucket(bucketImages).Get([]byte(id))
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("image %s metadata: %w", id, err)
	}
	rec.LastTag = time.Now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketImages).Put([]byte(id), b)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketImages).Get([]byte(id)) == nil {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such image: %s", id))
		}
		key := familiar(named)
		if v := tx.Bucket(bucketTags).Get([]byte(key)); v != nil && digest.Digest(v) != id {
			old = digest.Digest(v)
		}
		return s.putTag(tx, id, key)
	})
	return old, err
}

// Untag removes a tag; it reports whether the tag existed.
func (s *Store) Untag(ctx context.Context, ref string) (bool, error) {
	named, err := parseRef(ref)
	if err != nil {
		return false, invalidRef(ref, err)
	}
	found := false
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		k := []byte(familiar(named))
		found = tx.Bucket(bucketTags).Get(k) != nil
		return tx.Bucket(bucketTags).Delete(k)
	})
	return found, err
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
