package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// indexState is an index reduced to what can be compared.
type indexState struct {
	Images   map[digest.Digest]string   // ID → parent and refs
	Children map[digest.Digest][]string // parent → children
	Layers   map[digest.Digest]string   // chain ID → parent, diff, tops, children
	DiffRefs map[digest.Digest]int
}

func stateOf(ix *index) indexState {
	st := indexState{Images: map[digest.Digest]string{}, Children: map[digest.Digest][]string{}, Layers: map[digest.Digest]string{}, DiffRefs: maps.Clone(ix.diffRefs)}
	for id, e := range ix.images {
		st.Images[id] = fmt.Sprintf("parent=%s chain=%s refs=%v", e.rec.Parent, e.rec.ChainID, e.refs)
	}
	for p, cs := range ix.children {
		for c := range cs {
			st.Children[p] = append(st.Children[p], c.String())
		}
		slices.Sort(st.Children[p])
	}
	for c, n := range ix.layers {
		st.Layers[c] = fmt.Sprintf("parent=%s diff=%s tops=%d children=%d size=%d", n.Parent, n.DiffID, n.tops, n.children, n.Size)
	}
	return st
}

// bruteState computes the index from the images' configs and the tags,
// the way the store did before it had one.
func bruteState(t *testing.T, s *Store) indexState {
	t.Helper()
	ctx := context.Background()
	st := indexState{Images: map[digest.Digest]string{}, Children: map[digest.Digest][]string{}, Layers: map[digest.Digest]string{}, DiffRefs: map[digest.Digest]int{}}
	type node struct {
		parent, diff   digest.Digest
		tops, children int
	}
	layers := map[digest.Digest]*node{}
	refs := map[digest.Digest][]string{}
	parents := map[digest.Digest]digest.Digest{}
	var ids []digest.Digest
	_ = s.db.View(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bucketTags).ForEach(func(k, v []byte) error {
			refs[digest.Digest(v)] = append(refs[digest.Digest(v)], string(k))
			return nil
		})
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, digest.Digest(k))
			parents[digest.Digest(k)] = rec.Parent
			return nil
		})
	})
	for _, id := range ids {
		img, err := s.Get(ctx, id.String())
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		diffs := img.Config.RootFS.DiffIDs
		chains := ChainIDs(diffs)
		for i, c := range chains {
			if layers[c] == nil {
				n := &node{diff: diffs[i]}
				if i > 0 {
					n.parent = chains[i-1]
					layers[chains[i-1]].children++
				}
				layers[c] = n
			}
		}
		top := digest.Digest("")
		if len(chains) > 0 {
			top = chains[len(chains)-1]
			layers[top].tops++
		}
		slices.Sort(refs[id])
		st.Images[id] = fmt.Sprintf("parent=%s chain=%s refs=%v", parents[id], top, refs[id])
		if p := parents[id]; p != "" {
			st.Children[p] = append(st.Children[p], id.String())
			slices.Sort(st.Children[p])
		}
	}
	for c, n := range layers {
		st.Layers[c] = fmt.Sprintf("parent=%s diff=%s tops=%d children=%d size=%d", n.parent, n.diff, n.tops, n.children, s.snaps.LayerSize(c))
		st.DiffRefs[n.diff]++
		if !s.snaps.HasLayer(c) {
			t.Errorf("layer %s is in use but not stored", c)
		}
		if !s.blobs.has(n.diff) {
			t.Errorf("layer blob %s is in use but not stored", n.diff)
		}
	}
	return st
}

func diffStates(a, b indexState) string {
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if string(ja) == string(jb) {
		return ""
	}
	return fmt.Sprintf("%s\n---- want ----\n%s", ja, jb)
}

// checkIndex compares the store's index with one read again from bbolt,
// one read from records of the format before the index (a migration),
// and one computed from the configs.
func checkIndex(t *testing.T, s *Store, step string) {
	t.Helper()
	ctx := context.Background()
	want := bruteState(t, s)
	if d := diffStates(stateOf(s.ix), want); d != "" {
		t.Fatalf("%s: index differs from the records:\n%s", step, d)
	}
	reopened, err := New(s.root, s.db, s.snaps, s.log)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStates(stateOf(reopened.ix), want); d != "" {
		t.Fatalf("%s: index after reopening differs:\n%s", step, d)
	}
	for id := range s.ix.images {
		if got, want := s.hasChildren(id), len(want.Children[id]) > 0; got != want {
			t.Errorf("%s: hasChildren(%s) = %v, want %v", step, id, got, want)
		}
	}
	// Nothing unused is left on disk (every layer and blob of these tests
	// belongs to an image).
	dirs, _ := os.ReadDir(filepath.Join(s.root, "snapshots", "layers"))
	for _, d := range dirs {
		if _, ok := want.Layers[digest.NewDigestFromEncoded(digest.SHA256, d.Name())]; !ok {
			t.Errorf("%s: layer %s left behind", step, d.Name())
		}
	}
	blobs, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	for _, b := range blobs {
		d := digest.NewDigestFromEncoded(digest.SHA256, b.Name())
		if _, ok := want.Images[d]; !ok && want.DiffRefs[d] == 0 {
			t.Errorf("%s: blob %s left behind", step, d)
		}
	}
	imgs, err := s.List(ctx)
	if err != nil || len(imgs) != len(want.Images) {
		t.Fatalf("%s: List gave %d images (%v), want %d", step, len(imgs), err, len(want.Images))
	}
	for _, img := range imgs {
		full, err := s.Get(ctx, img.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		if img.Size != full.Size || !img.Created.Equal(full.Created) || img.ChainID != full.ChainID ||
			!maps.Equal(img.Config.Config.Labels, full.Config.Config.Labels) || !slices.Equal(img.RepoTags, full.RepoTags) {
			t.Errorf("%s: List and Get disagree on %s: %+v / %+v", step, img.ID, img, full)
		}
	}
}

func TestIndexConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks layers")
	}
	type op struct {
		do   string // import NAME FILE | derive NAME PARENT [layer] | tag REF NAME | untag REF | rmi REF [force] [noprune] | prune [all]
		fail string // expected error text
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{name: "chain removed with its tip", ops: []op{
			{do: "import base f1"}, {do: "derive a base"}, {do: "derive b a layer"}, {do: "derive c b"},
			{do: "tag tip c"}, {do: "rmi tip"},
		}},
		{name: "parent with child is a conflict", ops: []op{
			{do: "import base f1"}, {do: "derive a base layer"}, {do: "derive b a"},
			{do: "rmi ID:a", fail: "image has dependent child images"}, {do: "rmi ID:b"},
		}},
		{name: "branch keeps the shared parent", ops: []op{
			{do: "import base f1"}, {do: "derive a base layer"}, {do: "derive b a layer"}, {do: "derive c a layer"},
			{do: "tag x b"}, {do: "tag y c"}, {do: "rmi x"}, {do: "rmi y"}, {do: "rmi base"},
		}},
		{name: "shared layer blob between two chains", ops: []op{
			{do: "import a f1"}, {do: "import b f1"}, {do: "derive a2 a layer"}, {do: "derive b2 b layer"},
			{do: "tag a2 a2"}, {do: "rmi a"}, {do: "rmi a2"}, {do: "untag b"}, {do: "prune"},
		}},
		{name: "no-prune keeps parents", ops: []op{
			{do: "import base f1"}, {do: "derive a base"}, {do: "derive b a"}, {do: "tag tip b"},
			{do: "untag base"}, {do: "rmi tip noprune"}, {do: "prune"},
		}},
		{name: "tag moves between images", ops: []op{
			{do: "import a f1"}, {do: "import b f2"}, {do: "tag t a"}, {do: "tag t b"}, {do: "rmi a"},
			{do: "rmi t"}, {do: "prune all"},
		}},
		{name: "prune all takes tagged chains", ops: []op{
			{do: "import base f1"}, {do: "derive a base layer"}, {do: "derive b a layer"}, {do: "tag x b"}, {do: "prune all"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStore(t)
			named := map[string]*Image{}
			for i, o := range tt.ops {
				f := strings.Fields(o.do)
				var err error
				ref := func(r string) string {
					if id, ok := strings.CutPrefix(r, "ID:"); ok {
						return named[id].ID.String()
					}
					return r
				}
				switch f[0] {
				case "import":
					named[f[1]], err = s.Import(ctx, rootfsTar(t, map[string]string{f[2]: f[2]}), ImportOptions{Ref: f[1], Changes: []string{"LABEL name=" + f[1]}})
				case "derive":
					opts := DeriveOptions{Parent: named[f[2]], CreatedBy: o.do}
					opts.Config.Config.Env = []string{"NAME=" + f[1]}
					if len(f) > 3 {
						opts.Diff = rootfsTar(t, map[string]string{f[1]: f[1]})
					}
					named[f[1]], err = s.Derive(ctx, opts)
				case "tag":
					err = s.Tag(ctx, named[f[2]].ID, f[1])
				case "untag":
					_, err = s.Untag(ctx, f[1])
				case "rmi":
					_, err = s.Delete(ctx, ref(f[1]), slices.Contains(f, "force"), slices.Contains(f, "noprune"), nil)
				case "prune":
					_, err = s.Prune(ctx, slices.Contains(f, "all"), func(digest.Digest) bool { return false }, nil)
				default:
					t.Fatalf("bad op %q", o.do)
				}
				if o.fail != "" {
					if err == nil || !strings.Contains(err.Error(), o.fail) {
						t.Fatalf("step %d %q: err %v, want %q", i, o.do, err, o.fail)
					}
				} else if err != nil {
					t.Fatalf("step %d %q: %v", i, o.do, err)
				}
				checkIndex(t, s, fmt.Sprintf("step %d %q", i, o.do))
			}
		})
	}
}

// TestIndexMigratesOldRecords opens a store whose records predate the
// index (no config summary, no layer records) and checks it is indexed
// as the same images.
func TestIndexMigratesOldRecords(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base, tip := makeChain(t, s, 5)
	if err := s.Tag(ctx, tip.ID, "x:1"); err != nil {
		t.Fatal(err)
	}
	want := stateOf(s.ix)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		old := map[string]record{}
		_ = b.ForEach(func(k, v []byte) error {
			var rec record
			_ = json.Unmarshal(v, &rec)
			old[string(k)] = record{Parent: rec.Parent, Added: rec.Added, LastTag: rec.LastTag}
			return nil
		})
		for k, rec := range old {
			raw, _ := json.Marshal(rec)
			if err := b.Put([]byte(k), raw); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketLayers)
	})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(s.root, s.db, s.snaps, s.log)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStates(stateOf(s2.ix), want); d != "" {
		t.Fatalf("migrated index differs:\n%s", d)
	}
	if _, err := s2.Delete(ctx, "x:1", false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Delete(ctx, "tip", false, false, nil); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s2, "after deleting the migrated chain")
	if imgs, _ := s2.List(ctx); len(imgs) != 1 || imgs[0].ID != base.ID {
		t.Fatalf("left %d images, want the base", len(imgs))
	}
}

// TestSweepRunsWithoutLock holds a delete in its sweep (where layers and
// blobs are deleted) and checks that tag, list and a new image do not
// wait for it.
func TestSweepRunsWithoutLock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base, _ := makeChain(t, s, 20)
	inSweep, release := make(chan struct{}), make(chan struct{})
	s.beforeSweep = func() {
		close(inSweep)
		<-release
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Delete(ctx, "tip", false, false, nil)
		done <- err
	}()
	<-inSweep
	s.beforeSweep = nil
	others := make(chan error, 1)
	go func() {
		if err := s.Tag(ctx, base.ID, "other"); err != nil {
			others <- err
			return
		}
		if _, err := s.List(ctx); err != nil {
			others <- err
			return
		}
		_, err := s.Derive(ctx, DeriveOptions{Parent: base, CreatedBy: "ENV X=1"})
		others <- err
	}()
	select {
	case err := <-others:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("tag/list/derive waited for the sweep of a delete")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s, "after the delete")
}

// TestDeleteCancelled checks that a delete whose client went away while
// its candidates were being checked deletes nothing.
func TestDeleteCancelled(t *testing.T) {
	s := newStore(t)
	makeChain(t, s, 600)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	inUse := func(digest.Digest) (string, bool) {
		if calls++; calls == 300 {
			cancel()
		}
		return "", false
	}
	if _, err := s.Delete(ctx, "tip", false, false, inUse); !errors.Is(err, context.Canceled) {
		t.Fatalf("delete with the client gone: %v, want context canceled", err)
	}
	if imgs, _ := s.List(context.Background()); len(imgs) != 601 {
		t.Fatalf("cancelled delete left %d images, want 601", len(imgs))
	}
	checkIndex(t, s, "after the cancelled delete")
}

// TestConcurrentTagBuildDelete deletes a chain while tags move and new
// images are made over the same base, then checks the index.
func TestConcurrentTagBuildDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base, _ := makeChain(t, s, 300)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, err := s.Delete(ctx, "tip", false, false, nil); err != nil {
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		parent := base
		for i := 0; i < 30; i++ {
			img, err := s.Derive(ctx, DeriveOptions{Parent: parent, CreatedBy: fmt.Sprintf("ENV N=%d", i)})
			if err != nil {
				errs <- err
				return
			}
			if err := s.Tag(ctx, img.ID, "moving"); err != nil {
				errs <- err
				return
			}
			parent = img
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkIndex(t, s, "after concurrent delete and build")
	if imgs, _ := s.List(ctx); len(imgs) != 31 {
		t.Fatalf("left %d images, want base and the 30 new ones", len(imgs))
	}
}
