package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
)

// rootfsPath is where a container's rootfs is mounted while it runs.
func rootfsPath(c *container.Container) string { return filepath.Join(c.Root, "rootfs") }

// WithRootfs mounts the container's rootfs for cp, export and the like:
// the live mount of a running container, or a temporary one for a
// stopped container. release is called when the caller is done with the
// path.
func (m *Manager) WithRootfs(ctx context.Context, c *container.Container) (root string, release func(), err error) {
	m.tmpMountMu.Lock()
	if IsRunning(c) {
		m.tmpMountMu.Unlock()
		return rootfsPath(c), func() {}, nil
	}
	img, err := m.images.Get(ctx, c.ImageID)
	if err != nil {
		m.tmpMountMu.Unlock()
		return "", nil, err
	}
	target := rootfsPath(c)
	if err := os.MkdirAll(target, 0o755); err != nil {
		m.tmpMountMu.Unlock()
		return "", nil, err
	}
	if err := m.snaps.Mount(ctx, c.ID, img.ChainID, target); err != nil {
		m.tmpMountMu.Unlock()
		return "", nil, fmt.Errorf("mount rootfs of %s: %w", c.ID[:12], err)
	}
	return target, func() {
		_ = m.snaps.Unmount(context.WithoutCancel(ctx), target)
		m.tmpMountMu.Unlock()
	}, nil
}

// StartAttached starts a container with streams wired into its stdio
// before the process runs (a build's RUN step): no output is lost.
// streams.Done receives the end of the output.
func (m *Manager) StartAttached(ctx context.Context, c *container.Container, streams *runtime.AttachStreams) error {
	started := make(chan error, 1)
	m.mu.Lock()
	m.pending[c.ID] = &pendingAttach{s: streams, done: started}
	m.mu.Unlock()
	if err := m.startContainer(ctx, c); err != nil {
		m.mu.Lock()
		delete(m.pending, c.ID)
		m.mu.Unlock()
		return err
	}
	return nil
}
