package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/image"
	bnet "github.com/berth-project/berth/daemon/network"
)

// Create is the lifecycle side of api/backend's ContainerCreate: it resolves the image, merges
// its config under the request's, prepares the rootfs snapshot and volumes
// and records the new container.
func (m *Manager) Create(ctx context.Context, name string, cfg *apicontainer.Config, hc *apicontainer.HostConfig, nc *network.NetworkingConfig) (apicontainer.CreateResponse, error) {
	if cfg == nil {
		return apicontainer.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	if hc == nil {
		hc = &apicontainer.HostConfig{}
	}
	if cfg.Image == "" {
		return apicontainer.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("no image specified")
	}
	// Docker's own checks (and messages) first, then what berth adds.
	if err := validateCreate(cfg, hc, hostCPUs()); err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if err := validateImageRef(cfg.Image); err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if err := validateHostConfig(hc); err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if nc != nil {
		for _, es := range nc.EndpointsConfig {
			if es != nil && len(es.MacAddress) > 0 {
				return apicontainer.CreateResponse{}, invalidArg("--mac-address is not supported by berth yet")
			}
		}
	}
	img, err := m.images.Get(ctx, cfg.Image)
	if err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if name != "" {
		name = strings.TrimPrefix(name, "/")
		if err := container.ValidateName(name); err != nil {
			return apicontainer.CreateResponse{}, err
		}
	} else {
		name = container.GenerateName(func(n string) bool {
			_, err := m.containers.Get(n)
			return err == nil
		})
	}
	merged := mergeImageConfig(cfg, img)
	if len(merged.Entrypoint) == 0 && len(merged.Cmd) == 0 {
		return apicontainer.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	id := container.GenerateID()
	if merged.Hostname == "" && !hc.NetworkMode.IsHost() {
		merged.Hostname = id[:12]
	}
	if merged.Hostname == "" {
		merged.Hostname, _ = os.Hostname()
	}
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		hc.NetworkMode = "bridge"
	}
	nets, err := m.netAPI().ResolveNetworks(hc, nc)
	if err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if _, err := bnet.PortRequests(merged, hc); err != nil {
		return apicontainer.CreateResponse{}, err
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}

	root := filepath.Join(m.cfg.ContainersDir, id)
	if err := os.MkdirAll(root, 0o710); err != nil {
		return apicontainer.CreateResponse{}, fmt.Errorf("create container dir: %w", err)
	}
	c := &container.Container{
		ID:              id,
		Name:            "/" + name,
		Created:         time.Now().UTC(),
		Config:          merged,
		HostConfig:      hc,
		ImageID:         img.ID.String(),
		Root:            root,
		LogPath:         filepath.Join(root, id+"-json.log"),
		MountPoints:     map[string]*container.MountPoint{},
		NetworkSettings: &apicontainer.NetworkSettings{Networks: nets, Ports: network.PortMap{}},
	}
	c.Path, c.Args = CommandOf(merged)

	undo := func() {
		_ = m.snaps.Remove(context.WithoutCancel(ctx), id)
		m.releaseVolumes(ctx, c, true)
		_ = os.RemoveAll(root)
	}
	if err := m.snaps.Prepare(ctx, id, img.ChainID); err != nil {
		undo()
		return apicontainer.CreateResponse{}, fmt.Errorf("prepare rootfs: %w", err)
	}
	if err := m.setupMountPoints(ctx, c, img); err != nil {
		undo()
		return apicontainer.CreateResponse{}, err
	}
	if err := m.containers.Add(c); err != nil {
		undo()
		return apicontainer.CreateResponse{}, err
	}
	if err := c.ToDisk(); err != nil {
		m.containers.Delete(id)
		undo()
		return apicontainer.CreateResponse{}, fmt.Errorf("save container: %w", err)
	}
	m.emit(events.ContainerEventType, events.ActionCreate, id, ContainerAttrs(c))
	var warnings []string
	return apicontainer.CreateResponse{ID: id, Warnings: warnings}, nil
}

func validateHostConfig(hc *apicontainer.HostConfig) error {
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() && hc.RestartPolicy.Name != "" {
		return errdefs.ErrInvalidArgument.WithMessage("can't create 'AutoRemove' container with restart policy")
	}
	if err := apicontainer.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if hc.NetworkMode.IsContainer() && hc.NetworkMode.ConnectedContainer() == "" {
		return errdefs.ErrInvalidArgument.WithMessage("invalid network mode: container: needs a container name or ID")
	}
	if (hc.NetworkMode.IsHost() || hc.NetworkMode.IsContainer()) && len(hc.PortBindings) > 0 {
		// dockerd discards them with a warning; berth says so instead.
		hc.PortBindings = nil
	}
	if hc.Memory != 0 && hc.Memory < 6*1024*1024 {
		return errdefs.ErrInvalidArgument.WithMessage("Minimum memory limit allowed is 6MB")
	}
	// A bad --security-opt (an invalid seccomp profile…) fails the create,
	// not the first start.
	if _, err := parseSecurityOpts(hc.SecurityOpt); err != nil {
		return err
	}
	return nil
}

// mergeImageConfig fills what the request leaves out from the image's
// config, as dockerd does: env is merged by key, Cmd comes from the image
// only when neither Cmd nor Entrypoint is given.
func mergeImageConfig(req *apicontainer.Config, img *image.Image) *apicontainer.Config {
	out := *req
	ic := img.Config.Config
	out.Env = MergeEnv(ic.Env, req.Env)
	if len(out.Entrypoint) == 0 {
		out.Entrypoint = ic.Entrypoint
		if len(out.Cmd) == 0 {
			out.Cmd = ic.Cmd
		}
	}
	if out.WorkingDir == "" {
		out.WorkingDir = ic.WorkingDir
	}
	if out.User == "" {
		out.User = ic.User
	}
	if out.StopSignal == "" {
		out.StopSignal = ic.StopSignal
	}
	if len(ic.ExposedPorts) > 0 {
		if out.ExposedPorts == nil {
			out.ExposedPorts = network.PortSet{}
		}
		for p := range ic.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				out.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(ic.Volumes) > 0 {
		if out.Volumes == nil {
			out.Volumes = map[string]struct{}{}
		}
		for v := range ic.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range req.Labels {
			labels[k] = v
		}
		out.Labels = labels
	}
	if out.Healthcheck == nil && img.Config.Config.Healthcheck != nil {
		out.Healthcheck = img.Config.Config.Healthcheck
	}
	return &out
}

// MergeEnv overlays env entries by key; later entries win.
func MergeEnv(base, over []string) []string {
	idx := map[string]int{}
	var out []string
	add := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range base {
		add(kv)
	}
	for _, kv := range over {
		add(kv)
	}
	return out
}

// CommandOf is the path and arguments a config runs: its Entrypoint,
// then its Cmd.
func CommandOf(cfg *apicontainer.Config) (string, []string) {
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 {
		return "", nil
	}
	return argv[0], argv[1:]
}

// setupMountPoints resolves -v, --mount, --tmpfs and the image's VOLUMEs
// into mount points, creating named and anonymous volumes as needed.
func (m *Manager) setupMountPoints(ctx context.Context, c *container.Container, img *image.Image) error {
	hc := c.HostConfig
	add := func(mp *container.MountPoint) error {
		mp.Destination = filepath.Clean(mp.Destination)
		if !filepath.IsAbs(mp.Destination) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: mount path must be absolute: %q", mp.Destination))
		}
		if mp.Destination == "/" {
			return errdefs.ErrInvalidArgument.WithMessage("invalid specification: destination can't be '/'")
		}
		if _, dup := c.MountPoints[mp.Destination]; dup {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Duplicate mount point: %s", mp.Destination))
		}
		c.MountPoints[mp.Destination] = mp
		return nil
	}
	for _, b := range hc.Binds {
		mp, err := parseBind(b)
		if err != nil {
			return err
		}
		if err := add(mp); err != nil {
			return err
		}
	}
	for _, m := range hc.Mounts {
		mp := &container.MountPoint{Type: m.Type, Destination: m.Target, RW: !m.ReadOnly}
		switch m.Type {
		case mount.TypeBind:
			if !filepath.IsAbs(m.Source) {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source))
			}
			if _, err := os.Stat(m.Source); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source))
			}
			mp.Source = m.Source
			if m.BindOptions != nil {
				mp.Propagation = m.BindOptions.Propagation
			}
		case mount.TypeVolume:
			mp.Name = m.Source
		case mount.TypeTmpfs:
			mp.Source = "tmpfs"
			if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes > 0 {
				mp.Mode = fmt.Sprintf("size=%d", m.TmpfsOptions.SizeBytes)
			}
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: mount type unknown: %q", m.Type))
		}
		if err := add(mp); err != nil {
			return err
		}
	}
	for dst, opts := range hc.Tmpfs {
		if err := add(&container.MountPoint{Type: mount.TypeTmpfs, Source: "tmpfs", Destination: dst, Mode: opts, RW: true}); err != nil {
			return err
		}
	}
	for dst := range c.Config.Volumes {
		if _, ok := c.MountPoints[filepath.Clean(dst)]; ok {
			continue
		}
		if err := add(&container.MountPoint{Type: mount.TypeVolume, Destination: dst, RW: true}); err != nil {
			return err
		}
	}
	// Create or look up the volumes.
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume {
			continue
		}
		var labels map[string]string
		if mp.Name == "" {
			labels = map[string]string{anonymousVolumeLabel: ""}
		}
		v, _, err := m.volumes.Create(ctx, mp.Name, "local", labels, nil)
		if err != nil {
			return err
		}
		mp.Name = v.Name
		mp.Source = v.Mountpoint
		mp.Driver = "local"
		m.volumes.Ref(v.Name, c.ID)
	}
	return nil
}

// parseBind parses a -v spec: /host:/ctr[:opts] or name:/ctr[:opts] or a
// bare /ctr (anonymous volume).
func parseBind(spec string) (*container.MountPoint, error) {
	parts := strings.Split(spec, ":")
	bad := errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s'", spec))
	var src, dst, mode string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, mode = parts[0], parts[1], parts[2]
	default:
		return nil, bad
	}
	if dst == "" || !filepath.IsAbs(dst) {
		return nil, bad
	}
	mp := &container.MountPoint{Destination: dst, RW: true, Mode: mode}
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated":
		case "ro":
			mp.RW = false
		case "shared", "rshared", "slave", "rslave", "private", "rprivate":
			mp.Propagation = mount.Propagation(o)
		default:
			return nil, bad
		}
	}
	switch {
	case src == "":
		mp.Type = mount.TypeVolume
	case filepath.IsAbs(src):
		mp.Type = mount.TypeBind
		mp.Source = filepath.Clean(src)
		// Docker creates a missing host directory for -v.
		if _, err := os.Stat(mp.Source); os.IsNotExist(err) {
			if err := os.MkdirAll(mp.Source, 0o755); err != nil {
				return nil, fmt.Errorf("create bind source %s: %w", mp.Source, err)
			}
		}
	case strings.HasPrefix(src, ".") || strings.Contains(src, "/"):
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", src, src))
	default:
		mp.Type = mount.TypeVolume
		mp.Name = src
	}
	return mp, nil
}

// anonymousVolumeLabel marks volumes created for a container's unnamed
// VOLUME or -v /path, as Docker does; `rm -v` and `volume prune` take them.
const anonymousVolumeLabel = "com.docker.volume.anonymous"

func isAnonymous(labels map[string]string) bool {
	_, ok := labels[anonymousVolumeLabel]
	return ok
}

// releaseVolumes drops the container's references to its volumes and, with
// removeAnonymous, removes the anonymous ones.
func (m *Manager) releaseVolumes(ctx context.Context, c *container.Container, removeAnonymous bool) {
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		m.volumes.Unref(mp.Name, c.ID)
		if !removeAnonymous {
			continue
		}
		if v, err := m.volumes.Get(mp.Name); err == nil && isAnonymous(v.Labels) {
			if err := m.volumes.Remove(ctx, mp.Name, false); err != nil {
				m.log.Debug("remove anonymous volume", "volume", mp.Name, "err", err)
			}
		}
	}
}

// ContainerAttrs are the event attributes Docker attaches to container
// events: name, image and labels.
func ContainerAttrs(c *container.Container) map[string]string {
	attrs := map[string]string{"name": strings.TrimPrefix(c.Name, "/")}
	if c.Config != nil {
		attrs["image"] = c.Config.Image
		for k, v := range c.Config.Labels {
			attrs[k] = v
		}
	}
	return attrs
}
