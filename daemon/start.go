package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/spec"
	"github.com/berth-project/berth/daemon/volume"
)

// ContainerStart implements server.Backend.
func (d *Daemon) ContainerStart(ctx context.Context, name string) error {
	c, err := d.containers.Get(name)
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
	d.mu.Lock()
	if rm := d.restarts[c.ID]; rm != nil {
		rm.Cancel()
	}
	d.restarts[c.ID] = nil
	delete(d.restarts, c.ID)
	d.mu.Unlock()
	c.Lock()
	c.HasBeenManuallyStopped = false
	c.Unlock()
	return d.startContainer(ctx, c)
}

// rootfsPath is where a container's rootfs is mounted while it runs.
func rootfsPath(c *container.Container) string { return filepath.Join(c.Root, "rootfs") }

// startContainer mounts the rootfs, writes the /etc files, builds the OCI
// spec and starts the task.
func (d *Daemon) startContainer(ctx context.Context, c *container.Container) (retErr error) {
	img, err := d.images.Get(ctx, c.ImageID)
	if err != nil {
		return fmt.Errorf("start container %s: image %s: %w", c.ID[:12], c.ImageID, err)
	}
	rootfs := rootfsPath(c)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("create rootfs dir: %w", err)
	}
	if err := d.snaps.Mount(ctx, c.ID, img.ChainID, rootfs); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	defer func() {
		if retErr != nil {
			d.teardownNetworking(context.WithoutCancel(ctx), c)
			_ = d.snaps.Unmount(context.WithoutCancel(ctx), rootfs)
			d.unmountVolumes(context.WithoutCancel(ctx), c)
			d.markStopped(c, exitCodeForStartError(retErr), false, time.Now(), retErr.Error())
			if c.HostConfig.AutoRemove {
				// As dockerd: a --rm container that cannot start is removed.
				go func() { _ = d.removeContainer(context.Background(), c, true, true) }()
			}
		}
	}()
	if err := d.mountVolumes(ctx, c); err != nil {
		return err
	}
	if err := d.seedVolumes(c); err != nil {
		return err
	}
	netns, sb, err := d.setupNetworking(ctx, c)
	if err != nil {
		return err
	}
	etc, err := d.writeEtcFiles(c, sb)
	if err != nil {
		return err
	}
	opts, err := d.specOptions(c, rootfs, etc)
	if err != nil {
		return err
	}
	opts.NetNSPath = netns
	s, err := spec.Generate(opts)
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
	d.mu.Lock()
	pending := d.takePendingAttach(c.ID)
	d.mu.Unlock()
	so.Attach = pending.streams()
	task, err := d.rt.Start(ctx, so)
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
		d.log.Warn("save container state", "id", c.ID, "err", err)
	}
	d.mu.Lock()
	d.tasks[c.ID] = task
	if !hc.RestartPolicy.IsNone() && hc.RestartPolicy.Name != "" && d.restarts[c.ID] == nil {
		d.restarts[c.ID] = container.NewRestartManager(hc.RestartPolicy, c.RestartCount)
	}
	d.mu.Unlock()
	d.emit(events.ContainerEventType, events.ActionStart, c.ID, d.containerAttrs(c))
	go d.monitor(c, task)
	return nil
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
func (d *Daemon) mountVolumes(ctx context.Context, c *container.Container) error {
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		p, err := d.volumes.Mount(ctx, mp.Name, c.ID)
		if err != nil {
			return fmt.Errorf("mount volume %s: %w", mp.Name, err)
		}
		mp.Source = p
	}
	return nil
}

func (d *Daemon) unmountVolumes(ctx context.Context, c *container.Container) {
	for _, mp := range c.MountPoints {
		if mp.Type == mount.TypeVolume && mp.Name != "" {
			if err := d.volumes.Unmount(ctx, mp.Name, c.ID); err != nil {
				d.log.Warn("unmount volume", "volume", mp.Name, "err", err)
			}
		}
	}
}

// seedVolumes copies the image's content at a volume's mount point into the
// volume the first time it is used, as Docker does.
func (d *Daemon) seedVolumes(c *container.Container) error {
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Source == "" {
			continue
		}
		entries, err := os.ReadDir(mp.Source)
		if err != nil || len(entries) > 0 {
			continue
		}
		// Resolve inside the rootfs: an image symlink must not lead the
		// copy to a host path.
		src, err := securejoin.SecureJoin(rootfsPath(c), mp.Destination)
		if err != nil {
			continue
		}
		if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
			continue
		}
		if err := volume.CopyUp(src, mp.Source); err != nil {
			return fmt.Errorf("seed volume %s from image: %w", mp.Name, err)
		}
	}
	return nil
}

// specOptions turns the container's config into runtime spec options.
func (d *Daemon) specOptions(c *container.Container, rootfs string, etc map[string]string) (spec.Options, error) {
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
		CgroupsPath:       filepath.Join(d.cfg.CgroupParent, c.ID),
	}
	for _, so := range hc.SecurityOpt {
		k, v, _ := strings.Cut(so, "=")
		if !strings.Contains(so, "=") {
			k, v, _ = strings.Cut(so, ":")
		}
		switch {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			o.NoNewPrivileges = true
		case k == "no-new-privileges" && v == "false":
		case k == "seccomp" && v == "unconfined":
			o.SeccompUnconfined = true
		case k == "apparmor" || k == "label":
			// No AppArmor/SELinux on this host: accepted and ignored as dockerd does without them.
		default:
			return o, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt: %q", so))
		}
	}
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

// monitor waits for a task to exit and applies the exit: state, events,
// restart policy and auto-remove.
func (d *Daemon) monitor(c *container.Container, task *runtime.Task) {
	ctx := context.Background()
	st, err := task.Wait(ctx)
	d.mu.Lock()
	shutdown := d.shutdown
	d.mu.Unlock()
	if shutdown {
		// The daemon is going away; the shim keeps the container and its
		// exit status for the next daemon.
		return
	}
	if err != nil {
		d.log.Warn("wait for container", "id", c.ID, "err", err)
		st = runtime.ExitStatus{Code: 128 + int(syscall.SIGKILL), ExitedAt: time.Now()}
	}
	d.mu.Lock()
	delete(d.tasks, c.ID)
	rm := d.restarts[c.ID]
	d.mu.Unlock()
	d.execs.containerExited(c.ID)

	c.Lock()
	started := c.State.StartedAt
	manual := c.HasBeenManuallyStopped
	c.Unlock()
	restart := false
	var wait <-chan error
	if rm != nil {
		var rerr error
		restart, wait, rerr = rm.ShouldRestart(st.Code, manual, st.ExitedAt.Sub(started))
		if rerr != nil {
			restart = false
		}
	}
	t0 := time.Now()
	if err := task.Delete(ctx); err != nil {
		d.log.Warn("delete task", "id", c.ID, "err", err)
	}
	t1 := time.Now()
	d.cleanupAfterExit(ctx, c)
	d.log.Debug("container exit handled", "id", c.ID, "delete", t1.Sub(t0), "cleanup", time.Since(t1))
	attrs := d.containerAttrs(c)
	attrs["exitCode"] = fmt.Sprint(st.Code)
	if st.OOMKilled {
		d.emit(events.ContainerEventType, events.ActionOOM, c.ID, d.containerAttrs(c))
	}
	d.emit(events.ContainerEventType, events.ActionDie, c.ID, attrs)

	if restart {
		c.Lock()
		c.SetRestarting(st.Code, st.ExitedAt)
		c.State.OOMKilled = st.OOMKilled
		_ = c.ToDisk()
		c.Unlock()
		go func() {
			if err := <-wait; err != nil {
				// Cancelled: stop or rm asked for it.
				d.markStopped(c, st.Code, st.OOMKilled, st.ExitedAt, "")
				return
			}
			c.Lock()
			c.RestartCount++
			stillRestarting := c.State.Restarting
			c.Unlock()
			if !stillRestarting {
				return
			}
			if err := d.startContainer(ctx, c); err != nil {
				d.log.Warn("restart container", "id", c.ID, "err", err)
			}
		}()
		return
	}
	d.mu.Lock()
	delete(d.restarts, c.ID)
	d.mu.Unlock()
	d.markStopped(c, st.Code, st.OOMKilled, st.ExitedAt, "")
	if c.HostConfig.AutoRemove {
		if err := d.removeContainer(ctx, c, true, true); err != nil {
			d.log.Warn("auto-remove container", "id", c.ID, "err", err)
		}
	}
}

// markStopped records an exit and wakes waiters.
func (d *Daemon) markStopped(c *container.Container, code int, oom bool, at time.Time, errMsg string) {
	c.Lock()
	c.SetStopped(code, oom, at.UTC(), errMsg)
	err := c.ToDisk()
	c.Unlock()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("save container state", "id", c.ID, "err", err)
	}
}

// cleanupAfterExit unmounts the rootfs of a container that stopped.
func (d *Daemon) cleanupAfterExit(ctx context.Context, c *container.Container) {
	d.teardownNetworking(ctx, c)
	if err := d.snaps.Unmount(ctx, rootfsPath(c)); err != nil {
		d.log.Warn("unmount rootfs", "id", c.ID, "err", err)
	}
	d.unmountVolumes(ctx, c)
}

// ContainerStop implements server.Backend.
func (d *Daemon) ContainerStop(ctx context.Context, name string, signal string, timeout *int) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	running, restarting := c.State.Running, c.State.Restarting
	c.HasBeenManuallyStopped = true
	_ = c.ToDisk()
	c.Unlock()
	d.mu.Lock()
	if rm := d.restarts[c.ID]; rm != nil {
		rm.Cancel()
		delete(d.restarts, c.ID)
	}
	d.mu.Unlock()
	if restarting && !running {
		c.Lock()
		c.SetStopped(c.State.ExitCode, c.State.OOMKilled, time.Now().UTC(), "")
		_ = c.ToDisk()
		c.Unlock()
		return nil
	}
	if !running {
		return errdefs.ErrNotModified.WithMessage("container already stopped")
	}
	return d.stopContainer(ctx, c, signal, timeout)
}

// stopContainer sends the stop signal, waits up to the timeout, then kills.
func (d *Daemon) stopContainer(ctx context.Context, c *container.Container, signal string, timeout *int) error {
	c.Lock()
	cfg := c.Config
	c.Unlock()
	if signal == "" {
		signal = cfg.StopSignal
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	secs := 10
	if cfg.StopTimeout != nil {
		secs = *cfg.StopTimeout
	}
	if timeout != nil {
		secs = *timeout
	}
	exited := c.Wait(context.WithoutCancel(ctx), apicontainer.WaitConditionNotRunning)
	if err := d.signal(c, sig); err != nil && !errors.Is(err, errNotRunning) {
		d.log.Debug("stop signal", "id", c.ID, "err", err)
	}
	if secs >= 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(time.Duration(secs) * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := d.signal(c, syscall.SIGKILL); err != nil && !errors.Is(err, errNotRunning) {
		return fmt.Errorf("kill container %s: %w", c.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Daemon) signal(c *container.Container, sig syscall.Signal) error {
	d.mu.Lock()
	task := d.tasks[c.ID]
	d.mu.Unlock()
	if task == nil {
		return errNotRunning
	}
	c.Lock()
	paused := c.State.Paused
	c.Unlock()
	if err := task.Signal(sig); err != nil {
		return err
	}
	if paused && sig == syscall.SIGKILL {
		// A frozen process cannot die; thaw it.
		_ = task.Resume()
	}
	return nil
}

// ContainerRestart implements server.Backend.
func (d *Daemon) ContainerRestart(ctx context.Context, name string, signal string, timeout *int) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	if isRunning(c) {
		c.Lock()
		c.HasBeenManuallyStopped = true
		c.Unlock()
		d.mu.Lock()
		if rm := d.restarts[c.ID]; rm != nil {
			rm.Cancel()
			delete(d.restarts, c.ID)
		}
		d.mu.Unlock()
		if err := d.stopContainer(ctx, c, signal, timeout); err != nil {
			return err
		}
	}
	if err := d.ContainerStart(ctx, c.ID); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	d.emit(events.ContainerEventType, events.ActionRestart, c.ID, d.containerAttrs(c))
	return nil
}

// ContainerKill implements server.Backend.
func (d *Daemon) ContainerKill(ctx context.Context, name string, signal string) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	if !isRunning(c) {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot kill container: %s: container %s is not running", name, c.ID))
	}
	if err := d.signal(c, sig); err != nil {
		if errors.Is(err, errNotRunning) {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot kill container: %s: container %s is not running", name, c.ID))
		}
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	attrs := d.containerAttrs(c)
	attrs["signal"] = fmt.Sprint(int(sig))
	d.emit(events.ContainerEventType, events.ActionKill, c.ID, attrs)
	return nil
}

// ContainerRemove implements server.Backend.
func (d *Daemon) ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	running, paused, restarting := c.State.Running, c.State.Paused, c.State.Restarting
	c.Unlock()
	if (running || restarting) && !force {
		what := "running"
		if paused {
			what = "paused"
		} else if restarting {
			what = "restarting"
		}
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is %s: stop the container before removing or force remove", c.Name, what))
	}
	return d.removeContainer(ctx, c, force, removeVolumes)
}

func (d *Daemon) removeContainer(ctx context.Context, c *container.Container, force, removeVolumes bool) error {
	c.Lock()
	err := c.SetRemovalInProgress()
	if err == nil {
		_ = c.ToDisk()
	}
	c.Unlock()
	if err != nil {
		return err
	}
	d.mu.Lock()
	if rm := d.restarts[c.ID]; rm != nil {
		rm.Cancel()
		delete(d.restarts, c.ID)
	}
	task := d.tasks[c.ID]
	d.mu.Unlock()
	if task != nil && force {
		exited := c.Wait(context.WithoutCancel(ctx), apicontainer.WaitConditionNotRunning)
		_ = d.signal(c, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("remove container %s: it did not exit after SIGKILL", c.ID[:12])
		}
		// The monitor unmounts and deletes the task; wait for it to let go.
		for i := 0; i < 100; i++ {
			d.mu.Lock()
			_, still := d.tasks[c.ID]
			d.mu.Unlock()
			if !still {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx = context.WithoutCancel(ctx)
	_ = d.snaps.Unmount(ctx, rootfsPath(c))
	if t, err := d.rt.Restore(ctx, c.ID); err == nil {
		_ = t.Delete(ctx)
	}
	d.rt.Forget(c.ID)
	if err := d.snaps.Remove(ctx, c.ID); err != nil {
		d.log.Warn("remove rootfs snapshot", "id", c.ID, "err", err)
	}
	d.releaseVolumes(ctx, c, removeVolumes)
	if err := os.RemoveAll(c.Root); err != nil {
		d.log.Warn("remove container dir", "id", c.ID, "err", err)
	}
	d.containers.Delete(c.ID)
	c.Lock()
	c.SetDead()
	c.Unlock()
	c.NotifyRemoved()
	d.emit(events.ContainerEventType, events.ActionDestroy, c.ID, d.containerAttrs(c))
	return nil
}

// ContainerPause implements server.Backend.
func (d *Daemon) ContainerPause(ctx context.Context, name string) error {
	c, task, err := d.runningTask(name)
	if err != nil {
		return err
	}
	c.Lock()
	paused := c.State.Paused
	c.Unlock()
	if paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is already paused", c.ID))
	}
	if err := task.Pause(); err != nil {
		return fmt.Errorf("pause container %s: %w", name, err)
	}
	c.Lock()
	c.SetPaused()
	_ = c.ToDisk()
	c.Unlock()
	d.emit(events.ContainerEventType, events.ActionPause, c.ID, d.containerAttrs(c))
	return nil
}

// ContainerUnpause implements server.Backend.
func (d *Daemon) ContainerUnpause(ctx context.Context, name string) error {
	c, task, err := d.runningTask(name)
	if err != nil {
		return err
	}
	c.Lock()
	paused := c.State.Paused
	c.Unlock()
	if !paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not paused", c.ID))
	}
	if err := task.Resume(); err != nil {
		return fmt.Errorf("unpause container %s: %w", name, err)
	}
	c.Lock()
	c.SetUnpaused()
	_ = c.ToDisk()
	c.Unlock()
	d.emit(events.ContainerEventType, events.ActionUnPause, c.ID, d.containerAttrs(c))
	return nil
}

// runningTask finds a running container and its task, or a 409 in Docker's
// words.
func (d *Daemon) runningTask(name string) (*container.Container, *runtime.Task, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	task := d.tasks[c.ID]
	d.mu.Unlock()
	if task == nil || !isRunning(c) {
		return c, nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", c.ID))
	}
	return c, task, nil
}

// ContainerWait implements server.Backend.
func (d *Daemon) ContainerWait(ctx context.Context, name string, cond apicontainer.WaitCondition) (<-chan apicontainer.WaitResponse, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	if cond == "" {
		cond = apicontainer.WaitConditionNotRunning
	}
	return c.Wait(ctx, cond), nil
}

// ContainerRename implements server.Backend.
func (d *Daemon) ContainerRename(ctx context.Context, oldName, newName string) error {
	c, err := d.containers.Get(oldName)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	if newName == "" {
		return errdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	if err := d.containers.Rename(c, newName); err != nil {
		return err
	}
	d.net.Rename(c.ID, newName)
	c.Lock()
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	attrs := d.containerAttrs(c)
	attrs["oldName"] = "/" + strings.TrimPrefix(oldName, "/")
	d.emit(events.ContainerEventType, events.ActionRename, c.ID, attrs)
	return nil
}
