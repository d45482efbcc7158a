package daemon

import (
	"context"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/api/backend"
)

// The container lifecycle lives in daemon/lifecycle; these methods satisfy
// backend.Container and backend.Exec by calling its Manager.

// ContainerCreate implements backend.Backend.
func (d *Daemon) ContainerCreate(ctx context.Context, name string, cfg *apicontainer.Config, hc *apicontainer.HostConfig, nc *network.NetworkingConfig) (apicontainer.CreateResponse, error) {
	return d.life.Create(ctx, name, cfg, hc, nc)
}

// ContainerStart implements backend.Backend.
func (d *Daemon) ContainerStart(ctx context.Context, name string) error {
	return d.life.Start(ctx, name)
}

// ContainerStop implements backend.Backend.
func (d *Daemon) ContainerStop(ctx context.Context, name string, signal string, timeout *int) error {
	return d.life.Stop(ctx, name, signal, timeout)
}

// ContainerRestart implements backend.Backend.
func (d *Daemon) ContainerRestart(ctx context.Context, name string, signal string, timeout *int) error {
	return d.life.Restart(ctx, name, signal, timeout)
}

// ContainerKill implements backend.Backend.
func (d *Daemon) ContainerKill(ctx context.Context, name string, signal string) error {
	return d.life.Kill(ctx, name, signal)
}

// ContainerRemove implements backend.Backend.
func (d *Daemon) ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error {
	return d.life.Remove(ctx, name, force, removeVolumes)
}

// ContainerWait implements backend.Backend.
func (d *Daemon) ContainerWait(ctx context.Context, name string, cond apicontainer.WaitCondition) (<-chan apicontainer.WaitResponse, error) {
	return d.life.Wait(ctx, name, cond)
}

// ContainerLogs implements backend.Backend.
func (d *Daemon) ContainerLogs(ctx context.Context, name string, opts backend.LogsOptions, tty func(bool), write func(stream string, line []byte, t time.Time) error) error {
	return d.life.Logs(ctx, name, opts, tty, write)
}

// ContainerAttach implements backend.Backend.
func (d *Daemon) ContainerAttach(ctx context.Context, name string, opts backend.AttachOptions) error {
	return d.life.Attach(ctx, name, opts)
}

// ContainerHasTTY implements backend.Backend.
func (d *Daemon) ContainerHasTTY(ctx context.Context, name string) (bool, error) {
	return d.life.HasTTY(ctx, name)
}

// ContainerResize implements backend.Backend.
func (d *Daemon) ContainerResize(ctx context.Context, name string, height, width uint) error {
	return d.life.Resize(ctx, name, height, width)
}

// ContainerTop implements backend.Backend.
func (d *Daemon) ContainerTop(ctx context.Context, name string, psArgs string) (*apicontainer.TopResponse, error) {
	return d.life.Top(ctx, name, psArgs)
}

// ContainerRename implements backend.Backend.
func (d *Daemon) ContainerRename(ctx context.Context, oldName, newName string) error {
	return d.life.Rename(ctx, oldName, newName)
}

// ContainerPause implements backend.Backend.
func (d *Daemon) ContainerPause(ctx context.Context, name string) error {
	return d.life.Pause(ctx, name)
}

// ContainerUnpause implements backend.Backend.
func (d *Daemon) ContainerUnpause(ctx context.Context, name string) error {
	return d.life.Unpause(ctx, name)
}

// ContainerStats implements backend.Backend.
func (d *Daemon) ContainerStats(ctx context.Context, name string, stream bool, out func(*apicontainer.StatsResponse) error) error {
	return d.life.Stats(ctx, name, stream, out)
}

// ExecCreate implements backend.Backend.
func (d *Daemon) ExecCreate(ctx context.Context, name string, req *apicontainer.ExecCreateRequest) (string, error) {
	return d.life.ExecCreate(ctx, name, req)
}

// ExecStart implements backend.Backend.
func (d *Daemon) ExecStart(ctx context.Context, id string, opts backend.ExecStartOptions) error {
	return d.life.ExecStart(ctx, id, opts)
}

// ExecInspect implements backend.Backend.
func (d *Daemon) ExecInspect(ctx context.Context, id string) (*apicontainer.ExecInspectResponse, error) {
	return d.life.ExecInspect(ctx, id)
}

// ExecResize implements backend.Backend.
func (d *Daemon) ExecResize(ctx context.Context, id string, height, width uint) error {
	return d.life.ExecResize(ctx, id, height, width)
}
