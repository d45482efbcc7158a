package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/spec"
	"github.com/berth-project/berth/daemon/volume"
	"github.com/berth-project/berth/internal/fsroot"
)

// Start is the lifecycle side of api/backend's ContainerStart.
func (m *Manager) Start(ctx context.Context, name string) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	st := c.State
	c.Unlock()
	switch {
	case st.Paused:
		return errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	case st.Running:
		return errdefs.ErrNotModified.WithMessage("container already started")
	case st.RemovalInProgress || st.Dead:
		return errdefs.ErrConflict.WithMessage("container is marked for removal and cannot be started")
	}
	m.mu.Lock()
	if rm := m.restarts[c.ID]; rm != nil {
		rm.Cancel()
	}
	m.restarts[c.ID] = nil
	delete(m.restarts, c.ID)
	m.mu.Unlock()
	c.Lock()
	c.HasBeenManuallyStopped = false
	c.Unlock()
	return m.startContainer(ctx, c)
}

// startContainer mounts the rootfs, writes the /etc files, builds the OCI
// spec and starts the task.
func (m *Manager) startContainer(ctx context.Context, c *container.Container) (retErr error) {
	done, err := m.beginStart(c.ID)
	if err != nil {
		return err
	}
	defer done()
	img, err := m.images.Get(ctx, c.ImageID)
	if err != nil {
		return fmt.Errorf("start container %s: image %s: %w", c.ID[:12], c.ImageID, err)
	}
	rootfs := rootfsPath(c)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("create rootfs dir: %w", err)
	}
	if err := m.snaps.Mount(ctx, c.ID, img.ChainID, rootfs); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	defer func() {
		if retErr != nil {
			m.teardownNetworking(context.WithoutCancel(ctx), c)
			_ = m.snaps.Unmount(context.WithoutCancel(ctx), rootfs)
			m.unmountVolumes(context.WithoutCancel(ctx), c)
			m.markStopped(c, exitCodeForStartError(retErr), false, time.Now(), retErr.Error())
			if c.HostConfig.AutoRemove {
				// As dockerd: a --rm container that cannot start is removed.
				go func() { _ = m.RemoveContainer(context.Background(), c, true, true) }()
			}
		}
	}()
	if err := m.mountVolumes(ctx, c); err != nil {
		return err
	}
	if err := m.seedVolumes(c); err != nil {
		return err
	}
	netns, sb, err := m.setupNetworking(ctx, c)
	if err != nil {
		return err
	}
	etc, err := m.writeEtcFiles(c, sb)
	if err != nil {
		return err
	}
	opts, err := m.specOptions(c, rootfs, etc)
	if err != nil {
		return err
	}
	opts.NetNSPath = netns
	s, err := m.specs.Generate(opts)
	if err != nil {
		return err
	}
	hc := c.HostConfig
	maxSize, maxFiles, err := logOptions(hc.LogConfig.Config)
	if err != nil {
		return err
	}
	so := runtime.StartOptions{
		ID:          c.ID,
		Spec:        s,
		OpenStdin:   c.Config.OpenStdin,
		StdinOnce:   c.Config.StdinOnce,
		LogPath:     c.LogPath,
		LogMaxSize:  maxSize,
		LogMaxFiles: maxFiles,
		ConsoleSize: consoleSize(hc.ConsoleSize),
	}
	m.mu.Lock()
	pending := m.takePendingAttach(c.ID)
	m.mu.Unlock()
	so.Attach = pending.streams()
	task, err := m.rt.Start(ctx, so)
	pending.started(err)
	if err != nil {
		return err
	}
	c.Lock()
	c.BaseFS = rootfs
	c.HasBeenStartedBefore = true
	c.SetRunning(task.Pid(), time.Now().UTC())
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		m.log.Warn("save container state", "id", c.ID, "err", err)
	}
	m.mu.Lock()
	m.tasks[c.ID] = task
	if !hc.RestartPolicy.IsNone() && hc.RestartPolicy.Name != "" && m.restarts[c.ID] == nil {
		m.restarts[c.ID] = container.NewRestartManager(hc.RestartPolicy, c.RestartCount)
	}
	m.mu.Unlock()
	m.emit(events.ContainerEventType, events.ActionStart, c.ID, ContainerAttrs(c))
	go m.monitor(c, task)
	return nil
}

// beginStart registers a start of id, refused while the container is
// being removed; done ends it.
func (m *Manager) beginStart(id string) (done func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removing[id] {
		return nil, errdefs.ErrConflict.WithMessage("container is marked for removal and cannot be started")
	}
	if _, busy := m.starting[id]; busy {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is already being started", id[:min(12, len(id))]))
	}
	ch := make(chan struct{})
	m.starting[id] = ch
	return func() {
		m.mu.Lock()
		delete(m.starting, id)
		m.mu.Unlock()
		close(ch)
	}, nil
}

func consoleSize(cs [2]uint) *[2]uint {
	if cs[0] == 0 && cs[1] == 0 {
		return nil
	}
	return &cs
}

// exitCodeForStartError maps a start failure to the exit code Docker records.
func exitCodeForStartError(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"):
		return 126
	}
	return 128
}

// logOptions reads json-file's max-size and max-file options.
func logOptions(cfg map[string]string) (int64, int, error) {
	var maxSize int64 = -1
	maxFiles := 1
	if v := cfg["max-size"]; v != "" {
		n, err := parseSize(v)
		if err != nil {
			return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid max-size %q: %v", v, err))
		}
		maxSize = n
	}
	if v := cfg["max-file"]; v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 {
			return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid max-file %q: must be a positive number", v))
		}
		if n > 1 && maxSize < 0 {
			return 0, 0, errdefs.ErrInvalidArgument.WithMessage("max-file cannot be set without max-size")
		}
		maxFiles = n
	}
	return maxSize, maxFiles, nil
}

// mountVolumes mounts volumes created with driver options (type, device,
// o) and points the mount points at them; plain volumes are directories.
func (m *Manager) mountVolumes(ctx context.Context, c *container.Container) error {
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		p, err := m.volumes.Mount(ctx, mp.Name, c.ID)
		if err != nil {
			return fmt.Errorf("mount volume %s: %w", mp.Name, err)
		}
		mp.Source = p
	}
	return nil
}

func (m *Manager) unmountVolumes(ctx context.Context, c *container.Container) {
	for _, mp := range c.MountPoints {
		if mp.Type == mount.TypeVolume && mp.Name != "" {
			if err := m.volumes.Unmount(ctx, mp.Name, c.ID); err != nil {
				m.log.Warn("unmount volume", "volume", mp.Name, "err", err)
			}
		}
	}
}

// seedVolumes copies the image's content at a volume's mount point into the
// volume the first time it is used, as Docker does.
func (m *Manager) seedVolumes(c *container.Container) error {
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Source == "" {
			continue
		}
		entries, err := os.ReadDir(mp.Source)
		if err != nil || len(entries) > 0 {
			continue
		}
		if err := seedVolume(rootfsPath(c), mp.Destination, mp.Source); err != nil {
			return fmt.Errorf("seed volume %s from image: %w", mp.Name, err)
		}
	}
	return nil
}

// seedVolume copies the image's directory at dest (resolved inside the
// rootfs: an image symlink must not lead the copy to a host path) into
// the volume at source. A dest that is missing or not a directory seeds
// nothing.
func seedVolume(rootfs, dest, source string) error {
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	src, err := root.OpenDir(dest)
	if err != nil {
		return nil
	}
	defer src.Close()
	dst, err := fsroot.Open(source)
	if err != nil {
		return err
	}
	defer dst.Close()
	return volume.CopyUpDir(src, dst)
}

// specOptions turns the container's config into runtime spec options.
func (m *Manager) specOptions(c *container.Container, rootfs string, etc map[string]string) (spec.Options, error) {
	cfg, hc := c.Config, c.HostConfig
	o := spec.Options{
		ID:                c.ID,
		Hostname:          cfg.Hostname,
		Rootfs:            rootfs,
		Args:              append([]string{c.Path}, c.Args...),
		Env:               cfg.Env,
		Cwd:               cfg.WorkingDir,
		User:              cfg.User,
		GroupAdd:          hc.GroupAdd,
		Tty:               cfg.Tty,
		ReadonlyRootfs:    hc.ReadonlyRootfs,
		Privileged:        hc.Privileged,
		CapAdd:            hc.CapAdd,
		CapDrop:           hc.CapDrop,
		EtcFiles:          etc,
		Memory:            hc.Memory,
		MemorySwap:        hc.MemorySwap,
		MemoryReservation: hc.MemoryReservation,
		NanoCPUs:          hc.NanoCPUs,
		CPUShares:         hc.CPUShares,
		CPUQuota:          hc.CPUQuota,
		CPUPeriod:         hc.CPUPeriod,
		CpusetCpus:        hc.CpusetCpus,
		CpusetMems:        hc.CpusetMems,
		PidsLimit:         hc.PidsLimit,
		OomKillDisable:    hc.OomKillDisable != nil && *hc.OomKillDisable,
		ShmSize:           hc.ShmSize,
		Sysctls:           hc.Sysctls,
		CgroupsPath:       filepath.Join(m.cfg.CgroupParent, c.ID),
		OOMScoreAdj:       hc.OomScoreAdj,
		HostPID:           hc.PidMode.IsHost(),
		HostUTS:           hc.UTSMode.IsHost(),
	}
	sec, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return o, err
	}
	o.NoNewPrivileges, o.SeccompUnconfined, o.SeccompProfile = sec.noNewPrivileges, sec.seccompUnconfined, sec.seccompProfile
	for _, u := range hc.Ulimits {
		o.Ulimits = append(o.Ulimits, spec.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if hc.NetworkMode.IsHost() {
		o.NetworkMode = "host"
	} else {
		// A new namespace of the runtime's (none), or the one
		// startContainer sets in NetNSPath (bridge networks, container:).
		o.NetworkMode = "none"
	}
	for _, mp := range c.MountPoints {
		m := spec.Mount{Source: mp.Source, Destination: mp.Destination, ReadOnly: !mp.RW}
		switch mp.Type {
		case mount.TypeBind:
			m.Type = "bind"
			if mp.Propagation != "" {
				m.Options = append(m.Options, string(mp.Propagation))
			}
		case mount.TypeVolume:
			m.Type = "volume"
		case mount.TypeTmpfs:
			m.Type = "tmpfs"
			if mp.Mode != "" {
				m.Options = strings.Split(mp.Mode, ",")
			}
		}
		o.Mounts = append(o.Mounts, m)
	}
	return o, nil
}

// securityOpts are a container's --security-opt settings.
type securityOpts struct {
	noNewPrivileges, seccompUnconfined bool
	seccompProfile                     *spec.SeccompProfile // nil: the default profile
}

// parseSecurityOpts reads --security-opt values as dockerd does: the
// client has already replaced seccomp=FILE by seccomp=<the file's JSON>.
// A later seccomp option overrides an earlier one.
func parseSecurityOpts(opts []string) (securityOpts, error) {
	var so securityOpts
	for _, opt := range opts {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, _ = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			so.noNewPrivileges = true
		case k == "no-new-privileges" && v == "false":
			so.noNewPrivileges = false
		case k == "seccomp" && v == "unconfined":
			so.seccompUnconfined, so.seccompProfile = true, nil
		case k == "seccomp" && (v == "builtin" || v == ""):
			so.seccompUnconfined, so.seccompProfile = false, nil
		case k == "seccomp":
			p, err := spec.ParseSeccompProfile([]byte(v))
			if err != nil {
				return so, errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			so.seccompUnconfined, so.seccompProfile = false, p
		case k == "apparmor" || k == "label":
			// No AppArmor/SELinux on this host: accepted and ignored as dockerd does without them.
		case k == "writable-cgroups" || k == "systempaths":
			return so, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("--security-opt %s is not supported by berth", opt))
		default:
			return so, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", opt))
		}
	}
	return so, nil
}
