package daemon

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/lifecycle"
	"github.com/berth-project/berth/internal/archive"
)

// resolveInContainer maps a container path to a host path, honouring the
// container's bind mounts and volumes (the longest matching destination).
func resolveInContainer(c *container.Container, root, p string) (base, rel string) {
	p = filepath.Clean("/" + p)
	best := ""
	var bestMP *container.MountPoint
	for dst, mp := range c.MountPoints {
		if mp.Source == "" || mp.Type == "tmpfs" {
			continue
		}
		if (p == dst || strings.HasPrefix(p, dst+"/")) && len(dst) > len(best) {
			best, bestMP = dst, mp
		}
	}
	if bestMP != nil {
		return bestMP.Source, strings.TrimPrefix(p, best)
	}
	return root, p
}

func notFoundInContainer(err error, p, id string) error {
	if errdefs.IsNotFound(err) {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, id))
	}
	return err
}

// ContainerStatPath implements backend.Backend.
func (d *Daemon) ContainerStatPath(ctx context.Context, name, p string) (*apicontainer.PathStat, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	root, release, err := d.life.WithRootfs(ctx, c)
	if err != nil {
		return nil, err
	}
	defer release()
	base, rel := resolveInContainer(c, root, p)
	st, err := archive.StatPath(base, rel)
	if err != nil {
		return nil, notFoundInContainer(err, p, name)
	}
	return st, nil
}

// ContainerArchivePath implements backend.Backend.
func (d *Daemon) ContainerArchivePath(ctx context.Context, name, p string) (io.ReadCloser, *apicontainer.PathStat, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, nil, err
	}
	root, release, err := d.life.WithRootfs(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	base, rel := resolveInContainer(c, root, p)
	rc, st, err := archive.TarPath(ctx, base, rel)
	if err != nil {
		release()
		return nil, nil, notFoundInContainer(err, p, name)
	}
	return &releaseCloser{ReadCloser: rc, release: release}, st, nil
}

type releaseCloser struct {
	io.ReadCloser
	release func()
}

func (r *releaseCloser) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// ContainerExtractToDir implements backend.Backend.
func (d *Daemon) ContainerExtractToDir(ctx context.Context, name, p string, copyUIDGID, noOverwriteDirNonDir bool, content io.Reader) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	ro := c.HostConfig.ReadonlyRootfs
	c.Unlock()
	root, release, err := d.life.WithRootfs(ctx, c)
	if err != nil {
		return err
	}
	defer release()
	base, rel := resolveInContainer(c, root, p)
	if ro && base == root {
		return errdefs.ErrPermissionDenied.WithMessage("container rootfs is marked read-only")
	}
	if err := archive.ExtractTo(ctx, base, rel, content, noOverwriteDirNonDir); err != nil {
		return notFoundInContainer(err, p, name)
	}
	d.emit(events.ContainerEventType, events.ActionExtractToDir, c.ID, lifecycle.ContainerAttrs(c))
	return nil
}

// ContainerExport implements backend.Backend.
func (d *Daemon) ContainerExport(ctx context.Context, name string, w io.Writer) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	root, release, err := d.life.WithRootfs(ctx, c)
	if err != nil {
		return err
	}
	defer release()
	rc, err := archive.Tar(ctx, root, archive.TarOptions{})
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	d.emit(events.ContainerEventType, events.ActionExport, c.ID, lifecycle.ContainerAttrs(c))
	return nil
}

// ContainerChanges implements backend.Backend.
func (d *Daemon) ContainerChanges(ctx context.Context, name string) ([]apicontainer.FilesystemChange, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	changes, err := archive.Changes(d.snaps.UpperDir(c.ID))
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", name, err)
	}
	out := make([]apicontainer.FilesystemChange, 0, len(changes))
	for _, ch := range changes {
		if hiddenChange(ch.Path) {
			continue
		}
		out = append(out, apicontainer.FilesystemChange{Kind: apicontainer.ChangeType(ch.Kind), Path: ch.Path})
	}
	return out, nil
}

// hiddenChange reports paths that only exist as mount points of the
// runtime (/dev, /proc, /sys, the /etc files berth writes): dockerd leaves
// them out of `diff` too.
func hiddenChange(p string) bool {
	for _, h := range []string{"/dev", "/proc", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		if p == h || strings.HasPrefix(p, h+"/") {
			return true
		}
	}
	return false
}

// ContainerCommit implements backend.Backend: the container's changes
// become a new layer over its image.
func (d *Daemon) ContainerCommit(ctx context.Context, name string, opts backend.CommitOptions) (string, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return "", err
	}
	if opts.Pause && lifecycle.IsRunning(c) {
		if err := d.life.Pause(ctx, c.ID); err == nil {
			defer func() { _ = d.life.Unpause(context.WithoutCancel(ctx), c.ID) }()
		}
	}
	parent, err := d.images.Get(ctx, c.ImageID)
	if err != nil {
		return "", err
	}
	c.Lock()
	cfg := *c.Config
	c.Unlock()
	if opts.Config != nil {
		cfg = mergeCommitConfig(cfg, *opts.Config)
	}
	newCfg := parent.Config
	newCfg.Created = nil
	now := time.Now().UTC()
	newCfg.Created = &now
	newCfg.Author = opts.Author
	ic := &newCfg.Config
	ic.Env = cfg.Env
	ic.Cmd = cfg.Cmd
	ic.Entrypoint = cfg.Entrypoint
	ic.WorkingDir = cfg.WorkingDir
	ic.User = cfg.User
	ic.Labels = cfg.Labels
	ic.StopSignal = cfg.StopSignal
	if len(cfg.ExposedPorts) > 0 {
		ic.ExposedPorts = map[string]struct{}{}
		for p := range cfg.ExposedPorts {
			ic.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if len(cfg.Volumes) > 0 {
		ic.Volumes = cfg.Volumes
	}
	if cfg.Healthcheck != nil {
		ic.Healthcheck = cfg.Healthcheck
	}
	if err := image.ApplyChanges(&newCfg, opts.Changes); err != nil {
		return "", err
	}
	diff, err := archive.Tar(ctx, d.snaps.UpperDir(c.ID), archive.TarOptions{OverlayWhiteouts: true})
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", name, err)
	}
	defer diff.Close()
	ref := opts.Repo
	if ref != "" && opts.Tag != "" {
		ref += ":" + opts.Tag
	}
	img, err := d.images.Commit(ctx, image.CommitOptions{
		Parent:    parent.ID,
		Diff:      diff,
		Config:    newCfg,
		Author:    opts.Author,
		Comment:   opts.Comment,
		CreatedBy: c.Path + " " + strings.Join(c.Args, " "),
		Ref:       ref,
	})
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", name, err)
	}
	attrs := lifecycle.ContainerAttrs(c)
	attrs["comment"] = opts.Comment
	attrs["imageID"] = img.ID.String()
	attrs["imageRef"] = ref
	d.emit(events.ContainerEventType, events.ActionCommit, c.ID, attrs)
	return img.ID.String(), nil
}

// mergeCommitConfig overlays the non-empty fields of a commit's config on
// the container's.
func mergeCommitConfig(base, over apicontainer.Config) apicontainer.Config {
	if len(over.Env) > 0 {
		base.Env = lifecycle.MergeEnv(base.Env, over.Env)
	}
	if len(over.Cmd) > 0 {
		base.Cmd = over.Cmd
	}
	if len(over.Entrypoint) > 0 {
		base.Entrypoint = over.Entrypoint
	}
	if over.WorkingDir != "" {
		base.WorkingDir = over.WorkingDir
	}
	if over.User != "" {
		base.User = over.User
	}
	for k, v := range over.Labels {
		if base.Labels == nil {
			base.Labels = map[string]string{}
		}
		base.Labels[k] = v
	}
	for p := range over.ExposedPorts {
		if base.ExposedPorts == nil {
			base.ExposedPorts = network.PortSet{}
		}
		base.ExposedPorts[p] = struct{}{}
	}
	return base
}
