package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/internal/archive"
)

// manifestEntry is one image of a docker-archive's manifest.json.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes refs as a tar that is both a docker-archive (manifest.json)
// and an OCI image layout (oci-layout, index.json, blobs/), as Docker 25+
// does.
func (s *Store) Save(ctx context.Context, refs []string, w io.Writer) error {
	if len(refs) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("no images specified")
	}
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	var manifest []manifestEntry
	index := ocispec.Index{Versioned: ocispecVersioned(), MediaType: ocispec.MediaTypeImageIndex}
	repos := map[string]map[string]string{}
	addBlob := func(d digest.Digest, size int64, r io.Reader) error {
		if written[d] {
			return nil
		}
		written[d] = true
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + d.Encoded(), Mode: 0o444, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	addBytes := func(b []byte) (digest.Digest, error) {
		d := digest.FromBytes(b)
		return d, addBlob(d, int64(len(b)), strings.NewReader(string(b)))
	}
	entryOf := map[digest.Digest]int{} // one manifest.json entry per image
	for _, ref := range refs {
		img, err := s.Get(ctx, ref)
		if err != nil {
			return err
		}
		var tags []string
		_ = s.db.View(func(tx *bolt.Tx) error {
			if key, ok := s.isNameRef(tx, ref); ok && !strings.Contains(key, "@") {
				tags = append(tags, key)
			}
			return nil
		})
		cfgBytes, err := s.blobs.read(img.ID)
		if err != nil {
			return fmt.Errorf("save %s: %w", ref, err)
		}
		if err := addBlob(img.ID, int64(len(cfgBytes)), strings.NewReader(string(cfgBytes))); err != nil {
			return err
		}
		entry := manifestEntry{Config: "blobs/sha256/" + img.ID.Encoded(), RepoTags: tags}
		m := ocispec.Manifest{Versioned: ocispecVersioned(), MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ID, Size: int64(len(cfgBytes))}}
		for _, d := range img.Config.RootFS.DiffIDs {
			f, err := os.Open(s.blobs.path(d))
			if err != nil {
				return fmt.Errorf("save %s: layer %s: %w", ref, d, err)
			}
			st, _ := f.Stat()
			err = addBlob(d, st.Size(), f)
			f.Close()
			if err != nil {
				return err
			}
			entry.Layers = append(entry.Layers, "blobs/sha256/"+d.Encoded())
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: st.Size()})
		}
		mb, _ := json.Marshal(m)
		md, err := addBytes(mb)
		if err != nil {
			return err
		}
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mb))}
		if len(tags) > 0 {
			named, _ := reference.ParseNormalizedNamed(tags[0])
			desc.Annotations = map[string]string{"io.containerd.image.name": named.String()}
			if t, ok := named.(reference.Tagged); ok {
				desc.Annotations[ocispec.AnnotationRefName] = t.Tag()
				repo := reference.FamiliarName(named)
				if repos[repo] == nil {
					repos[repo] = map[string]string{}
				}
				repos[repo][t.Tag()] = img.ID.Encoded()
			}
		}
		index.Manifests = append(index.Manifests, desc)
		if i, ok := entryOf[img.ID]; ok {
			manifest[i].RepoTags = append(manifest[i].RepoTags, tags...)
		} else {
			entryOf[img.ID] = len(manifest)
			manifest = append(manifest, entry)
		}
	}
	files := []struct {
		name string
		v    any
	}{
		{"index.json", index},
		{"manifest.json", manifest},
		{"oci-layout", ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
		{"repositories", repos},
	}
	for _, f := range files {
		b, _ := json.Marshal(f.v)
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o444, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}

func ocispecVersioned() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }

// Load reads a docker-archive or OCI layout tar. Every layer is checked
// against the config's diff IDs before the image is registered.
func (s *Store) Load(ctx context.Context, r io.Reader, out func(line string)) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "blobs", "tmp"), "load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := archive.Apply(ctx, tmp, r, archive.ApplyOptions{IgnoreOwners: true, LiteralWhiteouts: true}); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: %v", err))
	}
	var entries []manifestEntry
	if b, err := os.ReadFile(filepath.Join(tmp, "manifest.json")); err == nil {
		if err := json.Unmarshal(b, &entries); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: invalid manifest.json: %v", err))
		}
	} else if b, err := os.ReadFile(filepath.Join(tmp, "index.json")); err == nil {
		if entries, err = ociEntries(tmp, b); err != nil {
			return err
		}
	} else {
		return errdefs.ErrInvalidArgument.WithMessage("load: the archive has neither manifest.json nor index.json")
	}
	for _, e := range entries {
		if err := s.loadOne(ctx, tmp, e, out); err != nil {
			return err
		}
	}
	return nil
}

func ociEntries(dir string, indexJSON []byte) ([]manifestEntry, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(indexJSON, &idx); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: invalid index.json: %v", err))
	}
	var out []manifestEntry
	for _, desc := range idx.Manifests {
		if err := desc.Digest.Validate(); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: %v", err))
		}
		b, err := readIn(dir, "blobs/"+desc.Digest.Algorithm().String()+"/"+desc.Digest.Encoded())
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: manifest %s: %v", desc.Digest, err))
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: manifest %s: %v", desc.Digest, err))
		}
		if len(m.Layers) == 0 && m.Config.Digest == "" {
			continue // a nested index: not supported
		}
		e := manifestEntry{Config: "blobs/sha256/" + m.Config.Digest.Encoded()}
		for _, l := range m.Layers {
			e.Layers = append(e.Layers, "blobs/sha256/"+l.Digest.Encoded())
		}
		if name := desc.Annotations["io.containerd.image.name"]; name != "" {
			if named, err := reference.ParseNormalizedNamed(name); err == nil {
				e.RepoTags = append(e.RepoTags, reference.FamiliarString(reference.TagNameOnly(named)))
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Store) loadOne(ctx context.Context, dir string, e manifestEntry, out func(string)) (retErr error) {
	cfgBytes, err := readIn(dir, e.Config)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: config %s: %v", e.Config, err))
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: config %s: %v", e.Config, err))
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: %s lists %d layers, its config %d", e.Config, len(e.Layers), len(cfg.RootFS.DiffIDs)))
	}
	// A rejected layer stores nothing; the layers before it that no
	// image uses are discarded too.
	var added []addedLayer
	defer func() {
		if retErr != nil {
			s.discardUnreferenced(context.WithoutCancel(ctx), added)
		}
	}()
	var parent digest.Digest
	for i, l := range e.Layers {
		f, err := openIn(dir, l)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: layer %s: %v", l, err))
		}
		diffID := cfg.RootFS.DiffIDs[i]
		if err := diffID.Validate(); err != nil {
			f.Close()
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("load: config %s: diff ID %d: %v", e.Config, i, err))
		}
		chainID := diffID
		if parent != "" {
			chainID = ChainIDs([]digest.Digest{parent, diffID})[1]
		}
		a := addedLayer{diffID: diffID, chainID: chainID, newBlob: !s.blobs.has(diffID), newChain: !s.snaps.HasLayer(chainID)}
		_, chainID, err = s.addLayerExpect(ctx, parent, f, diffID)
		f.Close()
		if err != nil {
			return fmt.Errorf("load: layer %s: %w", l, err)
		}
		added = append(added, a)
		parent = chainID
	}
	// Store the config exactly as given so the image ID is unchanged.
	id, err := s.blobs.put(cfgBytes)
	if err != nil {
		return err
	}
	if _, err := s.register(ctx, id, ""); err != nil {
		return err
	}
	if len(e.RepoTags) == 0 {
		out("Loaded image ID: " + id.String())
	}
	for _, t := range e.RepoTags {
		old, err := s.tag(id, t)
		if err != nil {
			return err
		}
		if old != "" {
			out(fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", t, old))
		}
		out("Loaded image: " + t)
	}
	return nil
}

// openIn opens the file p of an unpacked archive at dir; symlinks in the
// archive resolve inside dir, never to the host.
func openIn(dir, p string) (*os.File, error) {
	full, err := securejoin.SecureJoin(dir, p)
	if err != nil {
		return nil, err
	}
	return os.Open(full)
}

func readIn(dir, p string) ([]byte, error) {
	f, err := openIn(dir, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}
