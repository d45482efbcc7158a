package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	registrytypes "github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/daemon/image"
)

// Progress is one line of Docker's JSON progress stream (what `docker
// pull` and `docker push` render).
type Progress struct {
	ID       string
	Status   string
	Current  int64 // bytes done, with Total for a progress bar
	Total    int64
	Aux      any
	Progress string
}

// ErrNotFound marks a repository or tag the registry does not have.
var ErrNotFound = errors.New("not found")

// ErrDigest marks content whose digest is not what its descriptor says.
var ErrDigest = errors.New("digest mismatch")

// Pull fetches ref (for platform, default the host's) into the store and
// tags it. Layers download in parallel and are applied in order as they
// arrive; every blob is checked against its digest before it is stored;
// the image is registered only once all its layers are in, so a failed
// pull leaves no image (layers already stored are kept and not fetched
// again by the next try).
func (c *Client) Pull(ctx context.Context, refStr, platform string, ac registrytypes.AuthConfig, st *image.Store, out func(Progress)) (*image.Image, error) {
	ref, err := c.ParseRef(refStr)
	if err != nil {
		return nil, err
	}
	opts := c.remoteOptions(ctx, ref, ac)
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if platform != "" {
		pp, err := v1.ParsePlatform(platform)
		if err != nil {
			return nil, fmt.Errorf("invalid platform %q: %w", platform, err)
		}
		p = *pp
	}
	opts = append(opts, remote.WithPlatform(p))
	tagOrDigest := ref.Identifier()
	out(Progress{ID: tagOrDigest, Status: "Pulling from " + repoPath(ref)})
	desc, err := c.getWithMirrors(ctx, ref, ac, p, opts)
	if err != nil {
		return nil, pullError(ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, pullError(ref, err)
	}
	cfgBytes, err := img.RawConfigFile()
	if err != nil {
		return nil, pullError(ref, err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, pullError(ref, err)
	}
	if sum := sha256.Sum256(cfgBytes); "sha256:"+hex.EncodeToString(sum[:]) != cfgName.String() {
		return nil, fmt.Errorf("pull %s: config: %w", ref, ErrDigest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, pullError(ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, pullError(ref, err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("pull %s: the manifest has %d layers, the config %d", ref, len(layers), len(cf.RootFS.DiffIDs))
	}
	diffIDs := make([]digest.Digest, len(layers))
	for i, d := range cf.RootFS.DiffIDs {
		diffIDs[i] = digest.Digest(d.String())
	}
	chainIDs := image.ChainIDs(diffIDs)

	missing := 0
	for i := range layers {
		if !st.HasLayer(chainIDs[i]) {
			missing++
		}
	}
	if missing == 1 {
		// One layer to fetch: stream it from the network straight into
		// the store (no temporary copy).
		var parent digest.Digest
		for i, l := range layers {
			ld, err := l.Digest()
			if err != nil {
				return nil, pullError(ref, err)
			}
			short := shortID(ld.String())
			if st.HasLayer(chainIDs[i]) {
				out(Progress{ID: short, Status: "Already exists"})
			} else {
				out(Progress{ID: short, Status: "Pulling fs layer"})
				if err := c.streamLayer(ctx, st, parent, l, ld, diffIDs[i], short, out); err != nil {
					return nil, fmt.Errorf("pull %s: layer %s: %w", ref, ld, err)
				}
				out(Progress{ID: short, Status: "Pull complete"})
			}
			parent = chainIDs[i]
		}
		return c.register(ctx, ref, desc.Digest.String(), cfgName.String(), cfgBytes, st, out)
	}

	// Download what is missing, several at a time, into temporary files.
	type result struct {
		path string
		err  error
	}
	results := make([]chan result, len(layers))
	sem := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, l := range layers {
		results[i] = make(chan result, 1)
		ld, err := l.Digest()
		if err != nil {
			return nil, pullError(ref, err)
		}
		short := shortID(ld.String())
		if st.HasLayer(chainIDs[i]) {
			out(Progress{ID: short, Status: "Already exists"})
			results[i] <- result{}
			continue
		}
		out(Progress{ID: short, Status: "Pulling fs layer"})
		wg.Add(1)
		go func(i int, l v1.Layer, ld v1.Hash, short string) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- result{err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			path, err := c.download(ctx, l, ld, short, out)
			results[i] <- result{path, err}
		}(i, l, ld, short)
	}
	var parent digest.Digest
	var firstErr error
	for i, l := range layers {
		r := <-results[i]
		ld, _ := l.Digest()
		short := shortID(ld.String())
		if firstErr == nil && r.err != nil {
			firstErr = fmt.Errorf("pull %s: layer %s: %w", ref, ld, r.err)
			cancel()
		}
		if r.path != "" {
			if firstErr == nil {
				out(Progress{ID: short, Status: "Extracting"})
				f, err := os.Open(r.path)
				if err == nil {
					_, err = st.AddLayer(ctx, parent, f, diffIDs[i])
					f.Close()
				}
				if err != nil {
					firstErr = fmt.Errorf("pull %s: layer %s: %w", ref, ld, err)
					cancel()
				} else {
					out(Progress{ID: short, Status: "Pull complete"})
				}
			}
			os.Remove(r.path)
		}
		parent = chainIDs[i]
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return c.register(ctx, ref, desc.Digest.String(), cfgName.String(), cfgBytes, st, out)
}

// register records the pulled image (config, tag, repo digest) once all
// its layers are stored, and reports the result as Docker does.
func (c *Client) register(ctx context.Context, ref name.Reference, manifestDigest, cfgDigest string, cfgBytes []byte, st *image.Store, out func(Progress)) (*image.Image, error) {
	tagOrDigest := ref.Identifier()
	existed := false
	if old, err := st.Get(ctx, cfgDigest); err == nil && old != nil {
		existed = true
	}
	created, err := st.CreateFromConfig(ctx, cfgBytes)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	familiarName := FamiliarName(ref)
	if t, ok := ref.(name.Tag); ok {
		tagRef := familiarName + ":" + t.TagStr()
		prev, _ := st.Get(ctx, tagRef)
		existed = prev != nil && prev.ID == created.ID
		if err := st.Tag(ctx, created.ID, tagRef); err != nil {
			return nil, err
		}
	}
	if err := st.SetRepoDigest(ctx, created.ID, familiarName+"@"+manifestDigest); err != nil {
		return nil, err
	}
	out(Progress{Status: "Digest: " + manifestDigest})
	full := familiarName + ":" + tagOrDigest
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		full = familiarName + "@" + tagOrDigest
	}
	if existed {
		out(Progress{Status: "Status: Image is up to date for " + full})
	} else {
		out(Progress{Status: "Status: Downloaded newer image for " + full})
	}
	return created, nil
}

// streamLayer reads a layer from the registry straight into the store,
// checking its compressed digest before the layer is committed.
func (c *Client) streamLayer(ctx context.Context, st *image.Store, parent digest.Digest, l v1.Layer, want v1.Hash, diffID digest.Digest, short string, out func(Progress)) error {
	size, _ := l.Size()
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	pr := &progressReader{r: rc, h: sha256.New(), size: size, id: short, out: out}
	check := func() error {
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return verifyErr(want, err)
		}
		if got := "sha256:" + hex.EncodeToString(pr.h.Sum(nil)); got != want.String() {
			return fmt.Errorf("filesystem layer verification failed for digest %s (got %s): %w", want, got, ErrDigest)
		}
		out(Progress{ID: short, Status: "Download complete"})
		return nil
	}
	if _, err := st.AddLayerStream(ctx, parent, pr, diffID, check); err != nil {
		if errors.Is(err, ErrDigest) {
			return err
		}
		return verifyErr(want, err)
	}
	return nil
}

func verifyErr(want v1.Hash, err error) error {
	if strings.Contains(err.Error(), "digest") || strings.Contains(err.Error(), "checksum") {
		return fmt.Errorf("filesystem layer verification failed for digest %s (%v): %w", want, err, ErrDigest)
	}
	return err
}

// progressReader hashes what it reads and reports download progress.
type progressReader struct {
	r          io.Reader
	h          hash.Hash
	size, done int64
	last       int64
	id         string
	out        func(Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.h.Write(b[:n])
		p.done += int64(n)
		if p.done-p.last >= 512<<10 || p.done == p.size {
			p.out(Progress{ID: p.id, Status: "Downloading", Current: p.done, Total: p.size})
			p.last = p.done
		}
	}
	return n, err
}

// download copies a layer's compressed blob to a temporary file, checking
// its digest, with progress.
func (c *Client) download(ctx context.Context, l v1.Layer, want v1.Hash, short string, out func(Progress)) (string, error) {
	size, _ := l.Size()
	rc, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.CreateTemp(c.cfg.TempDir, PullTempPrefix)
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var done int64
	var lastReport int64
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return "", err
			}
			h.Write(buf[:n])
			done += int64(n)
			if done-lastReport >= 512<<10 || done == size {
				out(Progress{ID: short, Status: "Downloading", Current: done, Total: size})
				lastReport = done
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if strings.Contains(rerr.Error(), "digest") || strings.Contains(rerr.Error(), "checksum") {
				return "", fmt.Errorf("filesystem layer verification failed for digest %s (%v): %w", want, rerr, ErrDigest)
			}
			return "", rerr
		}
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return "", fmt.Errorf("filesystem layer verification failed for digest %s (got %s): %w", want, got, ErrDigest)
	}
	out(Progress{ID: short, Status: "Download complete"})
	ok = true
	return f.Name(), nil
}

// FamiliarName is a repository as Docker shows it ("redis",
// "localhost:5000/app").
func FamiliarName(ref name.Reference) string {
	repo := ref.Context()
	reg := repo.RegistryStr()
	path := repo.RepositoryStr()
	if reg == name.DefaultRegistry || reg == "index.docker.io" {
		return strings.TrimPrefix(path, "library/")
	}
	return reg + "/" + path
}

func repoPath(ref name.Reference) string {
	return ref.Context().RepositoryStr()
}

func shortID(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// pullError words registry errors as Docker does.
func pullError(ref name.Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			if _, ok := ref.(name.Tag); ok && strings.Contains(strings.ToLower(te.Error()), "manifest") {
				return fmt.Errorf("manifest for %s not found: manifest unknown: manifest unknown: %w", ref, ErrNotFound)
			}
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", FamiliarName(ref), ErrNotFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': denied: requested access to the resource is denied: %w", FamiliarName(ref), ErrUnauthorized)
		}
	}
	if strings.Contains(err.Error(), "no child with platform") {
		return fmt.Errorf("no matching manifest for %s in the manifest list entries: %w", runtime.GOOS+"/"+runtime.GOARCH, ErrNotFound)
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}

// getWithMirrors fetches ref's descriptor, from the configured mirrors
// first when ref is a Docker Hub image (as dockerd's registry-mirrors do),
// then from the registry itself.
func (c *Client) getWithMirrors(ctx context.Context, ref name.Reference, ac registrytypes.AuthConfig, p v1.Platform, opts []remote.Option) (*remote.Descriptor, error) {
	if reg := ref.Context().RegistryStr(); reg == name.DefaultRegistry || reg == "index.docker.io" {
		for _, m := range c.cfg.Mirrors {
			host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(m, "https://"), "http://"), "/")
			mref, err := c.ParseRef(host + "/" + ref.Context().RepositoryStr() + refSuffix(ref))
			if err != nil {
				continue
			}
			mopts := append(c.remoteOptions(ctx, mref, registrytypes.AuthConfig{}), remote.WithPlatform(p))
			if desc, err := remote.Get(mref, mopts...); err == nil {
				c.log.Debug("pulled through mirror", "ref", ref.String(), "mirror", host)
				return desc, nil
			} else {
				c.log.Debug("mirror failed", "mirror", host, "err", err)
			}
		}
	}
	return remote.Get(ref, opts...)
}

func refSuffix(ref name.Reference) string {
	if d, ok := ref.(name.Digest); ok {
		return "@" + d.DigestStr()
	}
	return ":" + ref.Identifier()
}
