package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// hostileLayer is a layer tar the unpacker refuses (it escapes the root).
func hostileLayer(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "../../../../tmp/berth-escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte("x"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dockerArchive is a docker-archive (manifest.json) of one image made of
// layers, their diff IDs being their digests.
func dockerArchive(t *testing.T, layers ...[]byte) *bytes.Buffer {
	t.Helper()
	cfg := dockerspec.DockerOCIImage{}
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}
	var names []string
	for i, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
		names = append(names, string(rune('a'+i))+"/layer.tar")
	}
	c, _ := json.Marshal(cfg)
	m, _ := json.Marshal([]manifestEntry{{Config: "c.json", RepoTags: []string{"loaded:v1"}, Layers: names}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	for i, l := range layers {
		add(names[i], l)
	}
	add("c.json", c)
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// unreferencedBlobs lists the blobs no image uses (as config or layer),
// and anything left in the blob store's temp dir.
func unreferencedBlobs(t *testing.T, s *Store) []string {
	t.Helper()
	imgs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, img := range imgs {
		used[img.ID.Encoded()] = true
		full, err := s.Get(context.Background(), img.ID.String()) // List reads no config
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range full.Config.RootFS.DiffIDs {
			used[d.Encoded()] = true
		}
	}
	var out []string
	entries, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	for _, e := range entries {
		if !used[e.Name()] {
			out = append(out, "sha256/"+e.Name())
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(s.root, "blobs", "tmp"))
	for _, e := range tmp {
		out = append(out, "tmp/"+e.Name())
	}
	sort.Strings(out)
	return out
}

// TestRejectedLayerLeavesNoBlob: an import or load whose layer the
// unpacker rejects stores no blob, and a load failing at a later layer
// discards the earlier ones no image uses (but keeps shared ones).
func TestRejectedLayerLeavesNoBlob(t *testing.T) {
	ctx := context.Background()
	good := rootfsTar(t, map[string]string{"etc/hostname": "good\n"}).Bytes()
	other := rootfsTar(t, map[string]string{"etc/motd": "other\n"}).Bytes()
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *Store) // images that exist before
		op      func(s *Store) error
		wantIms int
	}{
		{"import", nil, func(s *Store) error {
			_, err := s.Import(ctx, bytes.NewReader(hostileLayer(t)), ImportOptions{Ref: "hostile"})
			return err
		}, 0},
		{"load, one hostile layer", nil, func(s *Store) error {
			return s.Load(ctx, dockerArchive(t, hostileLayer(t)), func(string) {})
		}, 0},
		{"load, hostile second layer", nil, func(s *Store) error {
			return s.Load(ctx, dockerArchive(t, other, hostileLayer(t)), func(string) {})
		}, 0},
		{"load, hostile layer over a shared one", func(t *testing.T, s *Store) {
			if err := s.Load(ctx, dockerArchive(t, good), func(string) {}); err != nil {
				t.Fatal(err)
			}
		}, func(s *Store) error {
			return s.Load(ctx, dockerArchive(t, good, hostileLayer(t)), func(string) {})
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			if err := tt.op(s); err == nil {
				t.Fatal("the hostile layer was accepted")
			}
			if left := unreferencedBlobs(t, s); len(left) > 0 {
				t.Errorf("blobs no image references: %v", left)
			}
			imgs, _ := s.List(ctx)
			if len(imgs) != tt.wantIms {
				t.Fatalf("%d images, want %d", len(imgs), tt.wantIms)
			}
			// What is left is whole: a shared layer's blob and chain stay.
			for _, img := range imgs {
				img, err := s.Get(ctx, img.ID.String())
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range img.Config.RootFS.DiffIDs {
					if !s.blobs.has(d) {
						t.Errorf("blob %s of image %s is gone", d, img.ID)
					}
				}
				if img.ChainID != "" && !s.HasLayer(img.ChainID) {
					t.Errorf("layer %s of image %s is gone", img.ChainID, img.ID)
				}
			}
		})
	}
}
