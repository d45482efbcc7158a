package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// bucketLayers maps a layer's chain ID to its layerRecord: the tree of the
// layers images use, so that deleting an image finds the layers it alone
// used without looking at the other images.
var bucketLayers = []byte("layers")

// layerRecord is what bbolt keeps per layer of an image.
type layerRecord struct {
	Parent digest.Digest `json:"parent,omitempty"` // parent chain ID
	DiffID digest.Digest `json:"diffID"`
	Size   int64         `json:"size"`
}

// entry is the in-memory form of one image record.
type entry struct {
	id  digest.Digest
	rec record
	// refs are the image's tag and digest reference keys, sorted.
	refs []string
}

// layerNode is one layer of the in-memory layer tree. A layer is needed
// while an image has it as its top layer or a needed layer sits on it.
type layerNode struct {
	layerRecord
	tops     int   // images whose top layer this is
	children int   // layers directly on top of this one
	total    int64 // size of this layer and the ones under it; -1 until computed
}

// index is the store's metadata in memory, built from bbolt when the store
// opens and changed with it, under Store.mu, by every operation that
// writes bbolt. With it, whether an image has children, which layers and
// blobs only a deleted image used, and the listing of all images cost no
// scan of the records and no read of the configs.
type index struct {
	images   map[digest.Digest]*entry
	children map[digest.Digest]map[digest.Digest]struct{} // parent image → child images
	layers   map[digest.Digest]*layerNode                 // chain ID → layer
	diffRefs map[digest.Digest]int                        // layer blob (diff ID) → layers using it
	// Layers and blobs whose deletion is decided, but not done yet (it is
	// done without the lock); the channel is closed when it is.
	dyingLayers map[digest.Digest]chan struct{}
	dyingBlobs  map[digest.Digest]chan struct{}
}

func newIndex() *index {
	return &index{
		images:      map[digest.Digest]*entry{},
		children:    map[digest.Digest]map[digest.Digest]struct{}{},
		layers:      map[digest.Digest]*layerNode{},
		diffRefs:    map[digest.Digest]int{},
		dyingLayers: map[digest.Digest]chan struct{}{},
		dyingBlobs:  map[digest.Digest]chan struct{}{},
	}
}

func (ix *index) hasChildren(id digest.Digest) bool { return len(ix.children[id]) > 0 }

// addImage adds an image whose layer records are in the index already.
func (ix *index) addImage(e *entry) {
	ix.images[e.id] = e
	if p := e.rec.Parent; p != "" {
		if ix.children[p] == nil {
			ix.children[p] = map[digest.Digest]struct{}{}
		}
		ix.children[p][e.id] = struct{}{}
	}
	if n := ix.layers[e.rec.ChainID]; n != nil {
		n.tops++
	}
}

// addLayer adds one layer record; its parent must be there already.
func (ix *index) addLayer(chainID digest.Digest, lr layerRecord) {
	ix.layers[chainID] = &layerNode{layerRecord: lr, total: -1}
	ix.diffRefs[lr.DiffID]++
	if p := ix.layers[lr.Parent]; p != nil {
		p.children++
	}
}

// removeImage takes an image out of the index and returns the layers
// (top first) and blobs (diff IDs) nothing needs any more, which it takes
// out too, and the layers' size.
func (ix *index) removeImage(id digest.Digest) (layers []digest.Digest, blobs []digest.Digest, size int64) {
	e := ix.images[id]
	if e == nil {
		return nil, nil, 0
	}
	delete(ix.images, id)
	if p := e.rec.Parent; p != "" {
		delete(ix.children[p], id)
		if len(ix.children[p]) == 0 {
			delete(ix.children, p)
		}
	}
	n := ix.layers[e.rec.ChainID]
	if n == nil {
		return nil, nil, 0
	}
	n.tops--
	for c := e.rec.ChainID; c != ""; {
		n := ix.layers[c]
		if n == nil || n.tops > 0 || n.children > 0 {
			break
		}
		delete(ix.layers, c)
		layers = append(layers, c)
		size += n.Size
		if ix.diffRefs[n.DiffID]--; ix.diffRefs[n.DiffID] <= 0 {
			delete(ix.diffRefs, n.DiffID)
			blobs = append(blobs, n.DiffID)
		}
		if p := ix.layers[n.Parent]; p != nil {
			p.children--
		}
		c = n.Parent
	}
	return layers, blobs, size
}

// size is the total size of the layers up to chainID.
func (ix *index) size(chainID digest.Digest) int64 {
	var path []*layerNode
	var total int64
	for c := chainID; c != ""; {
		n := ix.layers[c]
		if n == nil {
			break
		}
		if n.total >= 0 {
			total = n.total
			break
		}
		path = append(path, n)
		c = n.Parent
	}
	for i := len(path) - 1; i >= 0; i-- {
		total += path[i].Size
		path[i].total = total
	}
	return total
}

// setRef adds the reference key to the image id (the caller drops it
// from the image it pointed to before).
func (ix *index) setRef(key string, id digest.Digest) {
	if e := ix.images[id]; e != nil {
		i := sort.SearchStrings(e.refs, key)
		if i == len(e.refs) || e.refs[i] != key {
			e.refs = append(e.refs, "")
			copy(e.refs[i+1:], e.refs[i:])
			e.refs[i] = key
		}
	}
}

// dropRef removes the reference key from the image id.
func (ix *index) dropRef(key string, id digest.Digest) {
	e := ix.images[id]
	if e == nil {
		return
	}
	i := sort.SearchStrings(e.refs, key)
	if i < len(e.refs) && e.refs[i] == key {
		e.refs = append(e.refs[:i], e.refs[i+1:]...)
	}
}

// image is the Image of an entry without its config's history and
// container config beyond the labels (what List shows).
func (ix *index) image(e *entry) *Image {
	img := &Image{ID: e.id, Parent: e.rec.Parent, LastTagTime: e.rec.LastTag, ChainID: e.rec.ChainID}
	img.Config.Architecture, img.Config.OS = e.rec.Arch, e.rec.OS
	img.Config.Config.Labels = e.rec.Labels
	if e.rec.Created != nil {
		img.Created = *e.rec.Created
		img.Config.Created = e.rec.Created
	} else {
		img.Created = e.rec.Added
	}
	if e.rec.ChainID != "" {
		img.Size = ix.size(e.rec.ChainID)
	}
	for _, r := range e.refs {
		if strings.Contains(r, "@") {
			img.RepoDigests = append(img.RepoDigests, r)
		} else {
			img.RepoTags = append(img.RepoTags, r)
		}
	}
	return img
}

// summarize fills the record's copy of the config fields List shows.
func (r *record) summarize(cfg *configSummary) {
	r.Summarized = true
	r.Created = cfg.Created
	r.Arch, r.OS = cfg.Architecture, cfg.OS
	r.Labels = cfg.Config.Labels
	r.ChainID = ""
	if ids := ChainIDs(cfg.RootFS.DiffIDs); len(ids) > 0 {
		r.ChainID = ids[len(ids)-1]
	}
}

// configSummary is the part of an image config the index needs; decoding
// into it skips the history and the rest of the container config.
type configSummary struct {
	Created      *time.Time `json:"created,omitempty"`
	Architecture string     `json:"architecture"`
	OS           string     `json:"os"`
	Config       struct {
		Labels map[string]string `json:"Labels,omitempty"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// layerRecords are the layer records of an image's layers, top first.
func layerRecords(diffIDs []digest.Digest) (chains []digest.Digest, recs []layerRecord) {
	chains = ChainIDs(diffIDs)
	for i := len(chains) - 1; i >= 0; i-- {
		lr := layerRecord{DiffID: diffIDs[i]}
		if i > 0 {
			lr.Parent = chains[i-1]
		}
		recs = append(recs, lr)
	}
	for i, j := 0, len(chains)-1; i < j; i, j = i+1, j-1 {
		chains[i], chains[j] = chains[j], chains[i]
	}
	return chains, recs
}

// loadIndex builds the index from bbolt. Records written before the
// index existed lack the config summary, and the layer bucket may be
// empty: those are filled from the configs once and written back.
func (s *Store) loadIndex(ctx context.Context) (*index, error) {
	ix := newIndex()
	type fix struct {
		id  digest.Digest
		rec record
		cfg *configSummary
	}
	var fixes []fix
	layersKnown := false
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			var lr layerRecord
			if err := json.Unmarshal(v, &lr); err != nil {
				return fmt.Errorf("layer %s metadata: %w", k, err)
			}
			layersKnown = true
			ix.layers[digest.Digest(k)] = &layerNode{layerRecord: lr, total: -1}
			return nil
		}); err != nil {
			return err
		}
		i := 0
		if err := tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			if i++; i%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			id := digest.Digest(k)
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				s.log.Warn("skip unreadable image", "id", string(k), "err", err)
				return nil
			}
			if rec.Summarized && layersKnown {
				ix.images[id] = &entry{id: id, rec: rec}
				return nil
			}
			raw, err := s.blobs.read(id)
			var cfg configSummary
			if err == nil {
				err = json.Unmarshal(raw, &cfg)
			}
			if err != nil {
				s.log.Warn("skip unreadable image", "id", string(k), "err", err)
				return nil
			}
			rec.summarize(&cfg)
			fixes = append(fixes, fix{id: id, rec: rec, cfg: &cfg})
			ix.images[id] = &entry{id: id, rec: rec}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketTags).ForEach(func(k, v []byte) error {
			if e := ix.images[digest.Digest(v)]; e != nil {
				e.refs = append(e.refs, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(fixes) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, f := range fixes {
				b, err := json.Marshal(f.rec)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketImages).Put([]byte(f.id), b); err != nil {
					return err
				}
				chains, recs := layerRecords(f.cfg.RootFS.DiffIDs)
				for i, c := range chains {
					if ix.layers[c] != nil {
						break
					}
					lr := recs[i]
					lr.Size = s.snaps.LayerSize(c)
					ix.layers[c] = &layerNode{layerRecord: lr, total: -1}
					if err := putJSON(tx.Bucket(bucketLayers), c, lr); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("update image metadata: %w", err)
		}
		s.log.Info("indexed image metadata", "images", len(fixes))
	}
	// Reference counts, now that every layer and image is in.
	for _, n := range ix.layers {
		ix.diffRefs[n.DiffID]++
		if p := ix.layers[n.Parent]; p != nil {
			p.children++
		}
	}
	for _, e := range ix.images {
		sort.Strings(e.refs)
		ix.addImage(e)
	}
	return ix, nil
}

func putJSON(b *bolt.Bucket, key digest.Digest, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// waitDying waits, without the lock, until the deletion of a layer or blob
// in progress is done.
func waitDying(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweep deletes layers and blobs taken out of the index (mark), without
// the store lock, then clears their marks. It runs to its end even if the
// request that caused it is cancelled: their metadata is gone already.
type sweep struct {
	layers []digest.Digest // top first
	blobs  []digest.Digest // configs and layer blobs
}

func (w *sweep) add(o sweep) {
	w.layers = append(w.layers, o.layers...)
	w.blobs = append(w.blobs, o.blobs...)
}

// mark records the sweep's targets as dying; under s.mu.
func (s *Store) mark(w sweep) {
	for _, l := range w.layers {
		if s.ix.dyingLayers[l] == nil {
			s.ix.dyingLayers[l] = make(chan struct{})
		}
	}
	for _, b := range w.blobs {
		if s.ix.dyingBlobs[b] == nil {
			s.ix.dyingBlobs[b] = make(chan struct{})
		}
	}
}

// run deletes the targets of a marked sweep; without s.mu.
func (s *Store) run(ctx context.Context, w sweep) {
	ctx = context.WithoutCancel(ctx)
	if s.beforeSweep != nil {
		s.beforeSweep()
	}
	for _, l := range w.layers {
		if err := s.snaps.RemoveLayer(ctx, l); err != nil {
			s.log.Warn("remove layer", "chain", l, "err", err)
		}
	}
	for _, b := range w.blobs {
		if err := removeFile(s.blobs.path(b)); err != nil {
			s.log.Warn("remove blob", "digest", b, "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range w.layers {
		if ch := s.ix.dyingLayers[l]; ch != nil {
			close(ch)
			delete(s.ix.dyingLayers, l)
		}
	}
	for _, b := range w.blobs {
		if ch := s.ix.dyingBlobs[b]; ch != nil {
			close(ch)
			delete(s.ix.dyingBlobs, b)
		}
	}
}

// removeFile removes a file; one that is gone already is no error.
func removeFile(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
