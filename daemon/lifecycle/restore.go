package lifecycle

import (
	"context"
	"fmt"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/daemon/container"
)

// Restore re-attaches to containers that were running when the daemon
// stopped, records the real exit of those that ended meanwhile, finishes
// removals the previous daemon was killed in the middle of, and starts
// containers whose restart policy asks for it.
func (m *Manager) Restore(ctx context.Context) {
	// Volume references live in memory: rebuild them from the containers.
	for _, c := range m.containers.List() {
		c.Lock()
		for _, mp := range c.MountPoints {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				m.volumes.Ref(mp.Name, c.ID)
			}
		}
		c.Unlock()
	}
	for _, c := range m.containers.List() {
		c.Lock()
		var policy apicontainer.RestartPolicy // none, for a record without a HostConfig
		if c.HostConfig != nil {
			policy = c.HostConfig.RestartPolicy
		}
		action := planRestore(c.State, policy, c.HasBeenManuallyStopped)
		c.Unlock()
		m.applyRestore(ctx, c, action)
	}
}

// applyRestore carries out planRestore's decision for one container.
func (m *Manager) applyRestore(ctx context.Context, c *container.Container, action restoreAction) {
	switch action {
	case restoreRemove:
		m.resumeRemoval(ctx, c)
	case restoreStart:
		m.restartAtBoot(ctx, c)
	case restoreReattach:
		task, err := m.rt.Restore(ctx, c.ID)
		if err != nil {
			m.log.Warn("restore container", "id", c.ID, "err", err)
			m.markStopped(c, 128+9, false, time.Now(), fmt.Sprintf("container lost while the daemon was down: %v", err))
			m.rt.Forget(c.ID)
			m.cleanupAfterExit(ctx, c)
			c.Lock()
			restart := c.HostConfig != nil && restartsAtBoot(c.HostConfig.RestartPolicy, c.HasBeenManuallyStopped)
			c.Unlock()
			if restart {
				m.restartAtBoot(ctx, c)
			}
			return
		}
		m.mu.Lock()
		m.tasks[c.ID] = task
		if c.HostConfig != nil && !c.HostConfig.RestartPolicy.IsNone() {
			m.restarts[c.ID] = container.NewRestartManager(c.HostConfig.RestartPolicy, c.RestartCount)
		}
		m.mu.Unlock()
		if task.Exited() {
			// It ended while the daemon was down: apply the exit before
			// the API serves, as dockerd does, so no client sees it
			// still running.
			m.monitor(c, task)
		} else {
			go m.monitor(c, task)
		}
	}
}

// restartAtBoot starts a stopped container as its restart policy asks
// when the daemon starts.
func (m *Manager) restartAtBoot(ctx context.Context, c *container.Container) {
	if err := m.startContainer(ctx, c); err != nil {
		m.log.Warn("restart container at boot", "id", c.ID, "err", err)
	}
}
