package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	gzip "github.com/klauspost/pgzip"
	registrytypes "github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/daemon/image"
)

// Push uploads the image tagged refStr (name[:tag]) as a Docker v2
// schema 2 manifest with gzip layers. The config is sent byte for byte, so
// the image ID is the same after a pull; layers the registry already has
// are not uploaded again. It returns the manifest digest and size.
func (c *Client) Push(ctx context.Context, refStr string, ac registrytypes.AuthConfig, st *image.Store, out func(Progress)) (string, int64, error) {
	ref, err := c.ParseRef(refStr)
	if err != nil {
		return "", 0, err
	}
	img, err := st.Get(ctx, refStr)
	if err != nil {
		return "", 0, fmt.Errorf("An image does not exist locally with the tag: %s", FamiliarName(ref))
	}
	out(Progress{Status: fmt.Sprintf("The push refers to repository [%s]", ref.Context().Name())})
	cfg, err := st.RawConfig(img.ID)
	if err != nil {
		return "", 0, err
	}
	li := &localImage{cfg: cfg}
	li.cfgDigest, _ = v1.NewHash(img.ID.String())
	diffIDs := img.Config.RootFS.DiffIDs
	li.layers = make([]*localLayer, len(diffIDs))
	// Compress the layers in parallel (each to a temporary file: the
	// digest must be known before the manifest and the existence checks).
	var wg sync.WaitGroup
	errs := make([]error, len(diffIDs))
	for i, d := range diffIDs {
		out(Progress{ID: shortID(d.String()), Status: "Preparing"})
		wg.Add(1)
		go func(i int, d digest.Digest) {
			defer wg.Done()
			li.layers[i], errs[i] = compressLayer(st, d, c.cfg.TempDir)
		}(i, d)
	}
	wg.Wait()
	defer func() {
		for _, l := range li.layers {
			if l != nil {
				os.Remove(l.path)
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return "", 0, fmt.Errorf("push %s: %w", ref, err)
		}
	}
	if li.manifest, err = li.buildManifest(); err != nil {
		return "", 0, err
	}
	v1img, err := partial.CompressedToImage(li)
	if err != nil {
		return "", 0, err
	}
	for _, l := range li.layers {
		out(Progress{ID: shortID(l.diffID.String()), Status: "Pushing", Current: 0, Total: l.size})
	}
	if err := remote.Write(ref, v1img, c.remoteOptions(ctx, ref, ac)...); err != nil {
		return "", 0, pushError(ref, err)
	}
	for _, l := range li.layers {
		out(Progress{ID: shortID(l.diffID.String()), Status: "Pushed"})
	}
	sum := sha256.Sum256(li.manifest)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	tag := "latest"
	if t, ok := ref.(name.Tag); ok {
		tag = t.TagStr()
	}
	out(Progress{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, dgst, len(li.manifest))})
	out(Progress{Aux: map[string]any{"Tag": tag, "Digest": dgst, "Size": len(li.manifest)}})
	if err := st.SetRepoDigest(ctx, img.ID, FamiliarName(ref)+"@"+dgst); err != nil {
		c.log.Warn("record repo digest", "ref", refStr, "err", err)
	}
	return dgst, int64(len(li.manifest)), nil
}

func pushError(ref name.Reference, err error) error {
	return fmt.Errorf("push %s: %w", ref, err)
}

// localImage is a stored image as go-containerregistry sees it.
type localImage struct {
	cfg       []byte
	cfgDigest v1.Hash
	layers    []*localLayer
	manifest  []byte
}

type localLayer struct {
	diffID v1.Hash
	digest v1.Hash
	size   int64
	path   string // the gzip blob
}

// compressLayer gzips a layer blob to a temporary file in tmpDir.
func compressLayer(st *image.Store, diffID digest.Digest, tmpDir string) (*localLayer, error) {
	src, err := st.LayerPath(diffID)
	if err != nil {
		return nil, err
	}
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	f, err := os.CreateTemp(tmpDir, PushTempPrefix)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if _, err := io.Copy(zw, in); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	d, _ := v1.NewHash("sha256:" + hex.EncodeToString(h.Sum(nil)))
	di, err := v1.NewHash(diffID.String())
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &localLayer{diffID: di, digest: d, size: cw.n, path: f.Name()}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (li *localImage) buildManifest() ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(li.cfg)), Digest: li.cfgDigest},
	}
	for _, l := range li.layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: l.size, Digest: l.digest})
	}
	return json.Marshal(m)
}

// RawConfigFile implements partial.CompressedImageCore.
func (li *localImage) RawConfigFile() ([]byte, error) { return li.cfg, nil }

// MediaType implements partial.CompressedImageCore.
func (li *localImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

// RawManifest implements partial.CompressedImageCore.
func (li *localImage) RawManifest() ([]byte, error) { return li.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (li *localImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == li.cfgDigest {
		return partial.ConfigLayer(li)
	}
	for _, l := range li.layers {
		if l.digest == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// Digest implements partial.CompressedLayer.
func (l *localLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// Compressed implements partial.CompressedLayer.
func (l *localLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }

// Size implements partial.CompressedLayer.
func (l *localLayer) Size() (int64, error) { return l.size, nil }

// MediaType implements partial.CompressedLayer.
func (l *localLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// DiffID lets go-containerregistry skip decompressing to learn it.
func (l *localLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

var _ = context.Background
