// Package build owns image builds: it reads a build context (a tar
// stream), parses its Dockerfile with BuildKit's parser, runs the
// instructions one by one — configuration steps as new image configs,
// ADD/COPY as layers written through an overlay mount, RUN in a container
// through the daemon — and keeps a persistent cache of the steps it ran,
// so that an unchanged step is reused (`---> Using cache`).
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/snapshot"
	"github.com/berth-project/berth/internal/archive"
)

// Options are a build's settings (the query of POST /build).
type Options struct {
	Tags       []string
	Dockerfile string // path inside the context; "" means Dockerfile
	BuildArgs  map[string]*string
	Target     string
	NoCache    bool
	Pull       bool
	Labels     map[string]string
	Network    string // network mode of RUN containers
	// Quiet suppresses the step output; a failing RUN then reports the
	// tail of its output in the error.
	Quiet bool
}

// Output receives a build's progress.
type Output interface {
	// Stream is human-readable output: step lines and RUN output.
	Stream(text string)
	// Aux reports the built image's ID.
	Aux(id string)
}

// RunRequest is one RUN step's container.
type RunRequest struct {
	Config  *apicontainer.Config // Image, Cmd, Env, User, WorkingDir, Shell
	Network string
	Out     io.Writer // stdout and stderr of the command
	// Created is called with the container's ID once it exists.
	Created func(id string)
	// Commit is called, after a successful run and before the container
	// is removed, with the key of the container's (unmounted) snapshot,
	// whose writable layer is the step's layer.
	Commit func(ctx context.Context, snapshotKey string) error
}

// Runner runs RUN steps; the daemon implements it with its ordinary
// create / start / wait / remove path. The container is always removed.
type Runner interface {
	RunContainer(ctx context.Context, req RunRequest) (exitCode int, err error)
	// Pull fetches an image from its registry (for FROM and COPY --from
	// of an image that is not here, and --pull), writing progress lines.
	Pull(ctx context.Context, ref string, progress func(line string)) error
}

// Builder builds images.
type Builder struct {
	root   string // <data-root>/build: tmp (contexts), mnt (mount points)
	images *image.Store
	snaps  *snapshot.Snapshotter
	cache  *cache
	run    Runner
	log    *slog.Logger
}

// New opens the builder with its state under root and its cache in db.
func New(root string, db *bolt.DB, images *image.Store, snaps *snapshot.Snapshotter, run Runner, log *slog.Logger) (*Builder, error) {
	// Leftovers of a build the daemon did not finish: its context, and
	// the snapshots of its layer steps (each mounted at mnt/<key>).
	_ = os.RemoveAll(filepath.Join(root, "tmp"))
	if ents, err := os.ReadDir(filepath.Join(root, "mnt")); err == nil {
		ctx := context.Background()
		for _, e := range ents {
			target := filepath.Join(root, "mnt", e.Name())
			if err := snaps.Unmount(ctx, target); err != nil {
				log.Warn("unmount leftover build mount", "path", target, "err", err)
				continue
			}
			_ = snaps.Remove(ctx, e.Name())
			_ = os.Remove(target)
		}
	}
	for _, d := range []string{"tmp", "mnt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("create build dir: %w", err)
		}
	}
	c, err := newCache(db)
	if err != nil {
		return nil, err
	}
	return &Builder{root: root, images: images, snaps: snaps, cache: c, run: run, log: log}, nil
}

// Build reads the context tar from body, builds its Dockerfile and tags
// the result. It returns the image ID.
func (b *Builder) Build(ctx context.Context, body io.Reader, opts Options, out Output) (string, error) {
	start := time.Now()
	tmp, err := os.MkdirTemp(filepath.Join(b.root, "tmp"), "ctx-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctxDir := filepath.Join(tmp, "context")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		return "", err
	}
	dr, err := archive.Decompress(body)
	if err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("read build context: %v", err))
	}
	defer dr.Close()
	if _, err := archive.Apply(ctx, ctxDir, dr, archive.ApplyOptions{IgnoreOwners: true, LiteralWhiteouts: true, KeepEscapingSymlinks: true}); err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("read build context: %v", err))
	}
	b.log.Debug("build context received", "elapsed", time.Since(start))
	dfName, df, err := readDockerfile(ctxDir, opts.Dockerfile)
	if err != nil {
		return "", err
	}
	if err := applyDockerignore(ctxDir); err != nil {
		return "", err
	}
	for _, t := range opts.Tags {
		if err := validTag(t); err != nil {
			return "", err
		}
	}
	plan, err := parseDockerfile(dfName, df, opts)
	if err != nil {
		return "", err
	}
	s := &session{b: b, opts: opts, out: out, ctxDir: ctxDir, tmp: tmp, plan: plan, dfName: dfName, usedArgs: map[string]bool{}}
	id, err := s.run(ctx)
	if err != nil {
		return "", err
	}
	var unused []string
	for k := range opts.BuildArgs {
		if !s.usedArgs[k] && !isPredefinedArg(k) { // the stages are done: no lock needed
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		s.say(-1, "[Warning] One or more build-args [%s] were not consumed\n", strings.Join(unused, " "))
	}
	out.Aux(id.ID.String())
	s.say(-1, "Successfully built %s\n", short(id.ID.Encoded()))
	for _, t := range opts.Tags {
		if err := b.images.Tag(ctx, id.ID, t); err != nil {
			return "", err
		}
		s.say(-1, "Successfully tagged %s\n", normalizeTag(t))
	}
	b.log.Debug("build done", "image", id.ID, "elapsed", time.Since(start))
	return id.ID.String(), nil
}

func short(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

// readDockerfile finds the Dockerfile in the context (name "" means
// Dockerfile, then dockerfile) and reads it.
func readDockerfile(ctxDir, name string) (string, []byte, error) {
	names := []string{name}
	if name == "" {
		names = []string{"Dockerfile", "dockerfile"}
	}
	for _, n := range names {
		rel := filepath.Clean("/" + n)
		p := filepath.Join(ctxDir, rel)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", nil, err
			}
			return strings.TrimPrefix(rel, "/"), b, nil
		}
	}
	shown := name
	if shown == "" {
		shown = "Dockerfile"
	}
	return "", nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot locate specified Dockerfile: %s", shown))
}

// errStepFailed marks an error that already names its step.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

var errNoImage = errors.New("No image was generated. Is your Dockerfile empty?")
