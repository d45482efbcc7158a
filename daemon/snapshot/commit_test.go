package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCommitActive(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, baseID := layer(t, map[string]string{"a": "1"})
	if _, err := s.ApplyLayer(ctx, "", baseID, bytes.NewReader(base)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		parent digest.Digest
		files  map[string]string
		err    bool
		size   int64
	}{
		{"over a parent", baseID, map[string]string{"b": "22", "d/c": "333"}, false, 5},
		{"base layer", "", map[string]string{"x": "1"}, false, 1},
		{"missing parent", digest.FromString("nope"), map[string]string{"x": "1"}, true, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "k" + string(rune('a'+i))
			if err := s.Prepare(ctx, key, ""); err != nil {
				t.Fatal(err)
			}
			defer s.Remove(ctx, key)
			for name, body := range c.files {
				p := filepath.Join(s.UpperDir(key), name)
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			chain := digest.FromString(c.name)
			err := s.CommitActive(ctx, key, c.parent, chain)
			if c.err {
				if err == nil || s.HasLayer(chain) {
					t.Fatalf("commit succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.HasLayer(chain) || s.LayerSize(chain) != c.size || s.parentOf(chain) != c.parent {
				t.Errorf("layer %v size %d parent %q", s.HasLayer(chain), s.LayerSize(chain), s.parentOf(chain))
			}
			for name, body := range c.files {
				if b, _ := os.ReadFile(filepath.Join(s.layerDir(chain), "diff", name)); string(b) != body {
					t.Errorf("%s = %q", name, b)
				}
			}
			// Committing again keeps the layer.
			if err := s.CommitActive(ctx, key, c.parent, chain); err != nil {
				t.Errorf("second commit: %v", err)
			}
		})
	}
}
