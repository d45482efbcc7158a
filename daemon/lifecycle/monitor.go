package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
)

// monitor waits for a task to exit, decides what the exit means
// (planExit) and applies it: state, events, restart policy and
// auto-remove.
func (m *Manager) monitor(c *container.Container, task *runtime.Task) {
	ctx := context.Background()
	st, err := task.Wait(ctx)
	m.mu.Lock()
	shutdown := m.shutdown
	m.mu.Unlock()
	facts := exitFacts{Shutdown: shutdown, Status: st, WaitErr: err, Now: time.Now()}
	var wait <-chan error
	if !shutdown {
		if err != nil {
			m.log.Warn("wait for container", "id", c.ID, "err", err)
		}
		m.mu.Lock()
		delete(m.tasks, c.ID)
		rm := m.restarts[c.ID]
		m.mu.Unlock()
		m.execs.containerExited(c.ID)

		c.Lock()
		started := c.State.StartedAt
		manual := c.HasBeenManuallyStopped
		facts.AutoRemove = c.HostConfig.AutoRemove
		c.Unlock()
		if rm != nil {
			exitedAt := st.ExitedAt
			if err != nil {
				exitedAt = facts.Now
			}
			restart, w, rerr := rm.ShouldRestart(planExit(facts).Code, manual, exitedAt.Sub(started))
			facts.Restart, wait = restart && rerr == nil, w
		}
	}
	m.applyExit(ctx, c, task, planExit(facts), wait)
}

// applyExit carries out an exit plan. wait fires when a restart's
// back-off has passed (or carries the cancellation of stop or rm).
func (m *Manager) applyExit(ctx context.Context, c *container.Container, task *runtime.Task, p exitPlan, wait <-chan error) {
	if p.Action == exitLeave {
		return
	}
	t0 := time.Now()
	if err := task.Delete(ctx); err != nil {
		m.log.Warn("delete task", "id", c.ID, "err", err)
	}
	t1 := time.Now()
	m.cleanupAfterExit(ctx, c)
	m.log.Debug("container exit handled", "id", c.ID, "delete", t1.Sub(t0), "cleanup", time.Since(t1), "plan", p.Action)
	attrs := ContainerAttrs(c)
	attrs["exitCode"] = fmt.Sprint(p.Code)
	if p.OOM {
		m.emit(events.ContainerEventType, events.ActionOOM, c.ID, ContainerAttrs(c))
	}
	m.emit(events.ContainerEventType, events.ActionDie, c.ID, attrs)

	if p.Action == exitRestart {
		c.Lock()
		c.SetRestarting(p.Code, p.ExitedAt)
		c.State.OOMKilled = p.OOM
		_ = c.ToDisk()
		c.Unlock()
		go func() {
			if err := <-wait; err != nil {
				// Cancelled: stop or rm asked for it.
				m.markStopped(c, p.Code, p.OOM, p.ExitedAt, "")
				return
			}
			c.Lock()
			c.RestartCount++
			stillRestarting := c.State.Restarting
			c.Unlock()
			if !stillRestarting {
				return
			}
			if err := m.startContainer(ctx, c); err != nil {
				m.log.Warn("restart container", "id", c.ID, "err", err)
			}
		}()
		return
	}
	m.mu.Lock()
	delete(m.restarts, c.ID)
	m.mu.Unlock()
	m.markStopped(c, p.Code, p.OOM, p.ExitedAt, "")
	if p.Action == exitRemove {
		if err := m.RemoveContainer(ctx, c, true, true); err != nil {
			m.log.Warn("auto-remove container", "id", c.ID, "err", err)
		}
	}
}

// markStopped records an exit and wakes waiters.
func (m *Manager) markStopped(c *container.Container, code int, oom bool, at time.Time, errMsg string) {
	c.Lock()
	c.SetStopped(code, oom, at.UTC(), errMsg)
	err := c.ToDisk()
	c.Unlock()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("save container state", "id", c.ID, "err", err)
	}
}

// cleanupAfterExit unmounts the rootfs of a container that stopped.
func (m *Manager) cleanupAfterExit(ctx context.Context, c *container.Container) {
	m.teardownNetworking(ctx, c)
	if err := m.snaps.Unmount(ctx, rootfsPath(c)); err != nil {
		m.log.Warn("unmount rootfs", "id", c.ID, "err", err)
	}
	m.unmountVolumes(ctx, c)
}
