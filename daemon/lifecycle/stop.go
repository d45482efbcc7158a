package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
)

// Stop is the lifecycle side of api/backend's ContainerStop.
func (m *Manager) Stop(ctx context.Context, name string, signal string, timeout *int) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	running, restarting := c.State.Running, c.State.Restarting
	c.HasBeenManuallyStopped = true
	_ = c.ToDisk()
	c.Unlock()
	m.mu.Lock()
	if rm := m.restarts[c.ID]; rm != nil {
		rm.Cancel()
		delete(m.restarts, c.ID)
	}
	m.mu.Unlock()
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
	return m.stopContainer(ctx, c, signal, timeout)
}

// stopContainer sends the stop signal, waits up to the timeout, then kills.
func (m *Manager) stopContainer(ctx context.Context, c *container.Container, signal string, timeout *int) error {
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
	if err := m.signal(c, sig); err != nil && !errors.Is(err, errNotRunning) {
		m.log.Debug("stop signal", "id", c.ID, "err", err)
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
	if err := m.signal(c, syscall.SIGKILL); err != nil && !errors.Is(err, errNotRunning) {
		return fmt.Errorf("kill container %s: %w", c.ID[:12], err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) signal(c *container.Container, sig syscall.Signal) error {
	m.mu.Lock()
	task := m.tasks[c.ID]
	m.mu.Unlock()
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

// Restart is the lifecycle side of api/backend's ContainerRestart.
func (m *Manager) Restart(ctx context.Context, name string, signal string, timeout *int) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	if IsRunning(c) {
		c.Lock()
		c.HasBeenManuallyStopped = true
		c.Unlock()
		m.mu.Lock()
		if rm := m.restarts[c.ID]; rm != nil {
			rm.Cancel()
			delete(m.restarts, c.ID)
		}
		m.mu.Unlock()
		if err := m.stopContainer(ctx, c, signal, timeout); err != nil {
			return err
		}
	}
	if err := m.Start(ctx, c.ID); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	m.emit(events.ContainerEventType, events.ActionRestart, c.ID, ContainerAttrs(c))
	return nil
}

// Kill is the lifecycle side of api/backend's ContainerKill.
func (m *Manager) Kill(ctx context.Context, name string, signal string) error {
	c, err := m.containers.Get(name)
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
	if !IsRunning(c) {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot kill container: %s: container %s is not running", name, c.ID))
	}
	// After SIGKILL the call returns once the container is dead, as
	// Docker's does: `docker kill c; docker rm c` must not find it running.
	var exited <-chan apicontainer.WaitResponse
	if sig == syscall.SIGKILL {
		exited = c.Wait(context.WithoutCancel(ctx), apicontainer.WaitConditionNotRunning)
	}
	if err := m.signal(c, sig); err != nil {
		if errors.Is(err, errNotRunning) {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot kill container: %s: container %s is not running", name, c.ID))
		}
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	attrs := ContainerAttrs(c)
	attrs["signal"] = fmt.Sprint(int(sig))
	m.emit(events.ContainerEventType, events.ActionKill, c.ID, attrs)
	if exited != nil {
		select {
		case <-exited:
		case <-time.After(killWait):
			m.log.Warn("container still running after SIGKILL", "id", c.ID, "waited", killWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// killWait bounds how long kill waits for a SIGKILLed container to die
// (a process in uninterruptible sleep can outlive the signal).
const killWait = 10 * time.Second

// Pause is the lifecycle side of api/backend's ContainerPause.
func (m *Manager) Pause(ctx context.Context, name string) error {
	return m.setPaused(name, true)
}

// Unpause is the lifecycle side of api/backend's ContainerUnpause.
func (m *Manager) Unpause(ctx context.Context, name string) error {
	return m.setPaused(name, false)
}

// setPaused freezes (pause) or thaws a running container's processes.
func (m *Manager) setPaused(name string, pause bool) error {
	c, task, err := m.runningTask(name)
	if err != nil {
		return err
	}
	c.Lock()
	paused := c.State.Paused
	c.Unlock()
	switch {
	case pause && paused:
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is already paused", c.ID))
	case !pause && !paused:
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not paused", c.ID))
	}
	verb, change, action := "pause", task.Pause, events.ActionPause
	if !pause {
		verb, change, action = "unpause", task.Resume, events.ActionUnPause
	}
	if err := change(); err != nil {
		return fmt.Errorf("%s container %s: %w", verb, name, err)
	}
	c.Lock()
	if pause {
		c.SetPaused()
	} else {
		c.SetUnpaused()
	}
	if err := c.ToDisk(); err != nil {
		m.log.Warn("save container state", "id", c.ID, "err", err)
	}
	c.Unlock()
	m.emit(events.ContainerEventType, action, c.ID, ContainerAttrs(c))
	return nil
}

// runningTask finds a running container and its task, or a 409 in Docker's
// words.
func (m *Manager) runningTask(name string) (*container.Container, *runtime.Task, error) {
	c, err := m.containers.Get(name)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	task := m.tasks[c.ID]
	m.mu.Unlock()
	if task == nil || !IsRunning(c) {
		return c, nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", c.ID))
	}
	return c, task, nil
}

// Wait is the lifecycle side of api/backend's ContainerWait.
func (m *Manager) Wait(ctx context.Context, name string, cond apicontainer.WaitCondition) (<-chan apicontainer.WaitResponse, error) {
	c, err := m.containers.Get(name)
	if err != nil {
		return nil, err
	}
	if cond == "" {
		cond = apicontainer.WaitConditionNotRunning
	}
	return c.Wait(ctx, cond), nil
}

// Rename is the lifecycle side of api/backend's ContainerRename.
func (m *Manager) Rename(ctx context.Context, oldName, newName string) error {
	c, err := m.containers.Get(oldName)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	if newName == "" {
		return errdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	if err := m.containers.Rename(c, newName); err != nil {
		return err
	}
	m.net.Rename(c.ID, newName)
	c.Lock()
	err = c.ToDisk()
	c.Unlock()
	if err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	attrs := ContainerAttrs(c)
	attrs["oldName"] = "/" + strings.TrimPrefix(oldName, "/")
	m.emit(events.ContainerEventType, events.ActionRename, c.ID, attrs)
	return nil
}
