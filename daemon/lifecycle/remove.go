package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/daemon/container"
)

// Remove is the lifecycle side of api/backend's ContainerRemove.
func (m *Manager) Remove(ctx context.Context, name string, force, removeVolumes bool) error {
	c, err := m.containers.Get(name)
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
	return m.RemoveContainer(ctx, c, force, removeVolumes)
}

// RemoveContainer removes a container, without the running check of
// Remove: with force it kills it first. The
// removal is recorded on disk before anything is torn down, so that a
// daemon killed half-way finishes it at its next start (resumeRemoval).
func (m *Manager) RemoveContainer(ctx context.Context, c *container.Container, force, removeVolumes bool) error {
	c.Lock()
	err := c.SetRemovalInProgress(removeVolumes)
	var saveErr error
	if err == nil {
		saveErr = c.ToDisk()
	}
	c.Unlock()
	if err != nil {
		return err
	}
	if saveErr != nil {
		m.log.Warn("record container removal", "id", c.ID, "err", saveErr)
	}
	m.mu.Lock()
	if rm := m.restarts[c.ID]; rm != nil {
		rm.Cancel()
		delete(m.restarts, c.ID)
	}
	// No start may begin from here on; one under way is waited for, so
	// what it sets up is torn down below rather than left behind.
	m.removing[c.ID] = true
	starting := m.starting[c.ID]
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.removing, c.ID)
		m.mu.Unlock()
	}()
	if starting != nil {
		select {
		case <-starting:
		case <-time.After(30 * time.Second):
			m.log.Warn("remove: a start of the container did not finish", "id", c.ID)
		}
	}
	m.mu.Lock()
	task := m.tasks[c.ID]
	m.mu.Unlock()
	if task != nil && force {
		if err := m.killForRemoval(ctx, c); err != nil {
			c.Lock()
			c.ResetRemovalInProgress()
			if err := c.ToDisk(); err != nil {
				m.log.Warn("save container state", "id", c.ID, "err", err)
			}
			c.Unlock()
			return err
		}
	}
	m.finishRemoval(context.WithoutCancel(ctx), c, removeVolumes)
	return nil
}

// killForRemoval SIGKILLs a running container and waits until its exit
// monitor has let go of it (unmounted, deleted the task).
func (m *Manager) killForRemoval(ctx context.Context, c *container.Container) error {
	exited := c.Wait(context.WithoutCancel(ctx), apicontainer.WaitConditionNotRunning)
	if err := m.signal(c, syscall.SIGKILL); err != nil && !errors.Is(err, errNotRunning) {
		m.log.Debug("kill container for removal", "id", c.ID, "err", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("remove container %s: it did not exit after SIGKILL", c.ID[:12])
	}
	for i := 0; i < 100; i++ {
		m.mu.Lock()
		_, still := m.tasks[c.ID]
		m.mu.Unlock()
		if !still {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// finishRemoval tears down whatever the container still holds — its
// process and runtime state, network, rootfs mount and snapshot, volume
// mounts and references — and deletes its record. Every step is
// idempotent: it also completes a removal a previous daemon started.
func (m *Manager) finishRemoval(ctx context.Context, c *container.Container, removeVolumes bool) {
	if t, err := m.rt.Restore(ctx, c.ID); err == nil {
		// A process a dead daemon left running (its monitor is gone).
		if err := t.Signal(syscall.SIGKILL); err != nil {
			m.log.Debug("kill leftover container process", "id", c.ID, "err", err)
		}
		c.Lock()
		paused := c.State.Paused
		c.Unlock()
		if paused {
			// A frozen process cannot die; thaw it.
			if err := t.Resume(); err != nil {
				m.log.Debug("thaw leftover container process", "id", c.ID, "err", err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := t.Wait(wctx); err != nil {
			m.log.Warn("wait for leftover container process", "id", c.ID, "err", err)
		}
		cancel()
		if err := t.Delete(ctx); err != nil {
			m.log.Warn("delete container task", "id", c.ID, "err", err)
		}
	}
	m.rt.Forget(c.ID)
	m.teardownNetworking(ctx, c)
	if err := m.snaps.Unmount(ctx, rootfsPath(c)); err != nil {
		m.log.Warn("unmount rootfs", "id", c.ID, "err", err)
	}
	m.unmountVolumes(ctx, c)
	if err := m.snaps.Remove(ctx, c.ID); err != nil {
		m.log.Warn("remove rootfs snapshot", "id", c.ID, "err", err)
	}
	m.releaseVolumes(ctx, c, removeVolumes)
	// From here on no ToDisk (a late exit monitor, a stop) writes into
	// the dir being deleted.
	c.Lock()
	c.SetGone()
	c.Unlock()
	if err := c.RemoveRoot(); err != nil {
		m.log.Warn("remove container dir", "id", c.ID, "err", err)
	}
	m.containers.Delete(c.ID)
	c.NotifyRemoved()
	m.emit(events.ContainerEventType, events.ActionDestroy, c.ID, ContainerAttrs(c))
}

// resumeRemoval finishes the removal of a container whose record says a
// removal was in progress when the previous daemon died: no removal runs
// now, so it is not refused as "already in progress".
func (m *Manager) resumeRemoval(ctx context.Context, c *container.Container) {
	c.Lock()
	removeVolumes := c.State.RemoveVolumes
	c.Unlock()
	m.log.Warn("container removal was interrupted, finishing it", "id", c.ID, "removeVolumes", removeVolumes)
	m.finishRemoval(ctx, c, removeVolumes)
}
