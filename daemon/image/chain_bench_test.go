package image

import (
	"context"
	"fmt"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// makeChain stores a one-layer base image and n images on top of it, each
// the child of the one before with no layer of its own (as a build's ENV
// steps), through the store API. The tip is tagged "tip". Each config
// keeps only its own history entry so that setup stays linear in n.
func makeChain(tb testing.TB, s *Store, n int) (base, tip *Image) {
	tb.Helper()
	ctx := context.Background()
	base, err := s.Import(ctx, rootfsTar(tb, map[string]string{"f": "base"}), ImportOptions{Ref: "base"})
	if err != nil {
		tb.Fatal(err)
	}
	parent := base
	for i := 0; i < n; i++ {
		now := time.Now().UTC()
		cfg := dockerspec.DockerOCIImage{}
		cfg.Created = &now
		cfg.Architecture, cfg.OS = base.Config.Architecture, base.Config.OS
		cfg.Config.Env = []string{fmt.Sprintf("STEP=%d", i)}
		cfg.RootFS = base.Config.RootFS
		cfg.History = []ocispec.History{{Created: &now, CreatedBy: fmt.Sprintf("ENV STEP=%d", i), EmptyLayer: true}}
		ref := ""
		if i == n-1 {
			ref = "tip"
		}
		img, err := s.create(ctx, &cfg, parent.ID, ref)
		if err != nil {
			tb.Fatal(err)
		}
		parent = img
	}
	return base, parent
}

// BenchmarkRemoveChain measures `rmi` of the tip of a chain of n images,
// which removes the whole chain but the tagged base.
func BenchmarkRemoveChain(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := newStoreTB(b)
				s.db.NoSync = true
				makeChain(b, s, n)
				b.StartTimer()
				resp, err := s.Delete(ctx, "tip", false, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := len(resp); got != n+1 { // one untag, n deletes
					b.Fatalf("delete reported %d lines, want %d", got, n+1)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkList5000 measures List over 5000 images.
func BenchmarkList5000(b *testing.B) {
	ctx := context.Background()
	s := newStoreTB(b)
	s.db.NoSync = true
	makeChain(b, s, 4999)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		imgs, err := s.List(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(imgs) != 5000 {
			b.Fatalf("listed %d images", len(imgs))
		}
	}
}
