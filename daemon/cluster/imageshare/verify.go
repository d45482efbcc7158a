package imageshare

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// maxManifest bounds manifest.json (one image: a few KB).
const maxManifest = 1 << 20

var blobName = regexp.MustCompile(`^blobs/sha256/[0-9a-f]{64}$`)

// manifestEntry is a docker-archive manifest.json entry.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// verified passes a peer's `docker save` tar of the image with ID id on
// to the engine's load, checking it as it streams: only regular files at
// the names a save writes, each once; a manifest.json of that one image
// with its tags removed (a peer names nothing on this node), index.json
// and repositories left out (the load reads manifest.json); and the
// image's config, whose digest is the image ID, hashing to id. A check
// that fails ends the stream with an error before the tar's end, so the
// load stores nothing. (Layers are checked by the load itself, against
// the config's diff IDs.)
func verified(r io.Reader, id digest.Digest) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(filterArchive(r, pw, id)) }()
	return pr
}

func filterArchive(r io.Reader, w io.Writer, id digest.Digest) error {
	cfgName := "blobs/sha256/" + id.Encoded()
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	seen := map[string]bool{}
	var haveManifest, haveConfig bool
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("image archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("image archive: %s is not a regular file", h.Name)
		}
		if seen[name] {
			return fmt.Errorf("image archive: %s twice", name)
		}
		seen[name] = true
		switch {
		case name == "index.json" || name == "repositories":
			continue // not needed, and they name tags
		case name == "manifest.json":
			b, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
			if err != nil {
				return fmt.Errorf("image archive: %w", err)
			}
			if len(b) > maxManifest {
				return errors.New("image archive: manifest.json too large")
			}
			out, err := oneImageManifest(b, cfgName)
			if err != nil {
				return err
			}
			if err := writeFile(tw, name, out); err != nil {
				return err
			}
			haveManifest = true
		case name == "oci-layout" || blobName.MatchString(name):
			hdr := &tar.Header{Name: name, Mode: 0o444, Size: h.Size, Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			var dst io.Writer = tw
			var dg digest.Digester
			if name == cfgName {
				dg = digest.SHA256.Digester()
				dst = io.MultiWriter(tw, dg.Hash())
			}
			if _, err := io.Copy(dst, tr); err != nil {
				return fmt.Errorf("image archive: %s: %w", name, err)
			}
			if dg != nil {
				if got := dg.Digest(); got != id {
					return fmt.Errorf("image archive: the config of %s hashes to %s", id, got)
				}
				haveConfig = true
			}
		default:
			return fmt.Errorf("image archive: unexpected file %s", h.Name)
		}
	}
	if !haveManifest {
		return errors.New("image archive: no manifest.json")
	}
	if !haveConfig {
		return fmt.Errorf("image archive: no config of %s", id)
	}
	return tw.Close()
}

// oneImageManifest checks that manifest.json lists exactly the image
// whose config is cfgName and returns it without tags.
func oneImageManifest(b []byte, cfgName string) ([]byte, error) {
	var entries []manifestEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("image archive: manifest.json: %w", err)
	}
	if len(entries) != 1 {
		return nil, fmt.Errorf("image archive: manifest.json lists %d images, want 1", len(entries))
	}
	e := entries[0]
	if path.Clean(e.Config) != cfgName {
		return nil, fmt.Errorf("image archive: manifest.json is of image %s", path.Base(e.Config))
	}
	for _, l := range e.Layers {
		if !blobName.MatchString(path.Clean(l)) {
			return nil, fmt.Errorf("image archive: manifest.json: layer %q", l)
		}
	}
	e.RepoTags = nil
	return json.Marshal([]manifestEntry{e})
}

func writeFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}
