package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/build"
	"github.com/berth-project/berth/daemon/lifecycle"
	"github.com/berth-project/berth/daemon/runtime"
)

// newBuilder opens the image builder, whose RUN steps go through
// buildRunner.
func (d *Daemon) newBuilder() (*build.Builder, error) {
	return build.New(filepath.Join(d.cfg.DataRoot, "build"), d.db, d.images, d.snaps, buildRunner{d}, d.log)
}

// ImageBuild implements backend.Backend: POST /build.
func (d *Daemon) ImageBuild(ctx context.Context, body io.Reader, opts backend.BuildOptions, out backend.BuildOutput) (string, error) {
	id, err := d.builder.Build(ctx, body, build.Options{
		Tags:       opts.Tags,
		Dockerfile: opts.Dockerfile,
		BuildArgs:  opts.BuildArgs,
		Target:     opts.Target,
		NoCache:    opts.NoCache,
		Pull:       opts.Pull,
		Labels:     opts.Labels,
		Network:    opts.NetworkMode,
		Quiet:      opts.Quiet,
	}, out)
	if err != nil {
		return "", err
	}
	for _, t := range opts.Tags {
		d.emit(events.ImageEventType, events.ActionTag, id, map[string]string{"name": t})
	}
	return id, nil
}

// buildRunner runs RUN steps as ordinary containers and pulls base
// images.
type buildRunner struct{ d *Daemon }

// Pull implements build.Runner with the daemon's registry client and no
// credentials of the client's beyond what the registry allows anonymously.
func (r buildRunner) Pull(ctx context.Context, ref string, progress func(string)) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("invalid reference format: %s", ref)
	}
	ref = reference.FamiliarString(reference.TagNameOnly(named))
	return r.d.ImagePull(ctx, ref, "", "", func(m backend.ProgressMessage) {
		if m.Status != "" && m.ProgressDetail == nil {
			if m.ID != "" {
				progress(m.ID + ": " + m.Status)
			} else {
				progress(m.Status)
			}
		}
	})
}

// RunContainer implements build.Runner: create, attach, start, wait,
// commit (through req.Commit) and always remove.
func (r buildRunner) RunContainer(ctx context.Context, req build.RunRequest) (code int, retErr error) {
	d := r.d
	hc := &apicontainer.HostConfig{NetworkMode: apicontainer.NetworkMode(req.Network)}
	cfg := *req.Config
	resp, err := d.ContainerCreate(ctx, "", &cfg, hc, nil)
	if err != nil {
		return 0, err
	}
	c, err := d.containers.Get(resp.ID)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := d.life.RemoveContainer(context.WithoutCancel(ctx), c, true, true); err != nil && retErr == nil {
			retErr = fmt.Errorf("remove build container %s: %w", c.ID[:12], err)
		}
	}()
	// A RUN command is run as given: the image's ENTRYPOINT does not
	// wrap it.
	c.Lock()
	c.Config.Entrypoint = nil
	c.Config.Cmd = req.Config.Cmd
	c.Path, c.Args = lifecycle.CommandOf(c.Config)
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return 0, err
	}
	if req.Created != nil {
		req.Created(c.ID)
	}
	streams := &runtime.AttachStreams{Stdout: req.Out, Stderr: req.Out, Done: make(chan error, 1)}
	exited := c.Wait(context.WithoutCancel(ctx), apicontainer.WaitConditionNextExit)
	if err := d.life.StartAttached(ctx, c, streams); err != nil {
		return 0, err
	}
	var res apicontainer.WaitResponse
	select {
	case res = <-exited:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// All output reaches the stream before the step ends.
	select {
	case <-streams.Done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if res.Error != nil && res.Error.Message != "" {
		return 0, errdefs.ErrUnknown.WithMessage(res.Error.Message)
	}
	if res.StatusCode != 0 {
		return int(res.StatusCode), nil
	}
	if req.Commit != nil {
		dropMountPoints(d.snaps.UpperDir(c.ID))
		if err := req.Commit(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// dropMountPoints removes from a stopped build container's writable layer
// what only the runtime put there: the mount points of /dev, /proc, /sys
// and the /etc files berth bind-mounts (a command cannot change them, as
// they are mounts while it runs). dockerd keeps these in a separate init
// layer; berth drops them before the layer is committed.
func dropMountPoints(upper string) {
	for _, p := range []string{"dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf"} {
		_ = os.RemoveAll(filepath.Join(upper, p))
	}
	_ = os.Remove(filepath.Join(upper, "etc")) // only if nothing else changed in it
}
