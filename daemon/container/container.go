// Package container owns the container model: its configuration, its state
// machine and the waiters on it, its on-disk record (config.v2.json and
// hostconfig.json), the name/ID index, and the restart policy supervisor.
package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/storage"
)

// State is a container's run state.
type State struct {
	Running, Paused, Restarting, OOMKilled, RemovalInProgress, Dead bool
	Pid, ExitCode                                                   int
	Error                                                           string
	StartedAt, FinishedAt                                           time.Time
}

// MountPoint is one mount of a container.
type MountPoint struct {
	Type        mount.Type
	Name        string // volume name
	Source      string // host path
	Destination string
	Driver      string
	Mode        string
	RW          bool
	Propagation mount.Propagation
}

// Container is one container. Fields are guarded by Lock/Unlock.
type Container struct {
	mu sync.Mutex

	ID                     string
	Name                   string // with a leading "/"
	Created                time.Time
	Path                   string
	Args                   []string
	Config                 *apicontainer.Config
	HostConfig             *apicontainer.HostConfig `json:"-"`
	NetworkSettings        *apicontainer.NetworkSettings
	ImageID                string
	State                  State
	RestartCount           int
	HasBeenStartedBefore   bool
	HasBeenManuallyStopped bool
	LogPath                string
	Root                   string `json:"-"`
	BaseFS                 string
	MountPoints            map[string]*MountPoint

	waiters []waiter
	removed chan struct{}
}

type waiter struct {
	cond apicontainer.WaitCondition
	ch   chan apicontainer.WaitResponse
}

// Lock locks the container.
func (c *Container) Lock() { c.mu.Lock() }

// Unlock unlocks the container.
func (c *Container) Unlock() { c.mu.Unlock() }

func (c *Container) removedCh() chan struct{} {
	if c.removed == nil {
		c.removed = make(chan struct{})
	}
	return c.removed
}

// StateString is the summary State ("running", "exited", …).
func (c *Container) StateString() string {
	s := c.State
	switch {
	case s.RemovalInProgress:
		return "removing"
	case s.Dead:
		return "dead"
	case s.Paused:
		return "paused"
	case s.Restarting:
		return "restarting"
	case s.Running:
		return "running"
	case s.StartedAt.IsZero():
		return "created"
	}
	return "exited"
}

// StatusString is the human STATUS column of `ps`.
func (c *Container) StatusString() string {
	s := c.State
	now := time.Now()
	switch {
	case s.RemovalInProgress:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	case s.Running && s.Paused:
		return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(s.StartedAt)))
	case s.Running:
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	case s.FinishedAt.IsZero():
		return "Created"
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

// SetRunning records a start.
func (c *Container) SetRunning(pid int, startedAt time.Time) {
	c.State.Running = true
	c.State.Paused = false
	c.State.Restarting = false
	c.State.OOMKilled = false
	c.State.Dead = false
	c.State.Pid = pid
	c.State.ExitCode = 0
	c.State.Error = ""
	c.State.StartedAt = startedAt
	c.notify(apicontainer.WaitConditionNextExit, false)
}

// SetStopped records an exit and wakes the waiters.
func (c *Container) SetStopped(code int, oom bool, finishedAt time.Time, errMsg string) {
	c.State.Running = false
	c.State.Paused = false
	c.State.Restarting = false
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.OOMKilled = oom
	c.State.Error = errMsg
	c.State.FinishedAt = finishedAt
	c.notify("", true)
}

// SetRestarting records an exit after which the policy restarts it.
func (c *Container) SetRestarting(code int, finishedAt time.Time) {
	c.State.Running = true
	c.State.Restarting = true
	c.State.Paused = false
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.FinishedAt = finishedAt
	// next-exit waiters see every exit; not-running waiters keep waiting.
	c.notifyOnly(apicontainer.WaitConditionNextExit)
}

// SetPaused marks the container paused.
func (c *Container) SetPaused() { c.State.Paused = true }

// SetUnpaused marks the container running again.
func (c *Container) SetUnpaused() { c.State.Paused = false }

// SetRemovalInProgress marks the start of a removal; a second concurrent
// removal is refused.
func (c *Container) SetRemovalInProgress() error {
	if c.State.RemovalInProgress {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("removal of container %s is already in progress", c.ID[:12]))
	}
	c.State.RemovalInProgress = true
	return nil
}

// SetDead marks the container gone.
func (c *Container) SetDead() {
	c.State.Dead = true
	c.State.RemovalInProgress = false
}

func (c *Container) response() apicontainer.WaitResponse {
	r := apicontainer.WaitResponse{StatusCode: int64(c.State.ExitCode)}
	if c.State.Error != "" {
		r.Error = &apicontainer.WaitExitError{Message: c.State.Error}
	}
	return r
}

// notify wakes waiters after an exit (stopped=true wakes not-running and
// next-exit; removed waiters wait for NotifyRemoved).
func (c *Container) notify(cond apicontainer.WaitCondition, stopped bool) {
	if !stopped {
		return
	}
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.cond == apicontainer.WaitConditionRemoved {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.response()
		close(w.ch)
	}
	c.waiters = keep
}

func (c *Container) notifyOnly(cond apicontainer.WaitCondition) {
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.cond != cond {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.response()
		close(w.ch)
	}
	c.waiters = keep
}

// NotifyRemoved wakes the "removed" waiters; call without the lock held.
func (c *Container) NotifyRemoved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		w.ch <- c.response()
		close(w.ch)
	}
	c.waiters = nil
	ch := c.removedCh()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// Wait returns a channel that receives one response when cond is met:
// "not-running" (now, if it is not running), "next-exit", or "removed".
// Call without the lock held.
func (c *Container) Wait(ctx context.Context, cond apicontainer.WaitCondition) <-chan apicontainer.WaitResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(chan apicontainer.WaitResponse, 1)
	if cond == "" {
		cond = apicontainer.WaitConditionNotRunning
	}
	if cond == apicontainer.WaitConditionRemoved {
		select {
		case <-c.removedCh():
			out <- c.response()
			close(out)
			return out
		default:
		}
	}
	if cond == apicontainer.WaitConditionNotRunning && !c.State.Running {
		out <- c.response()
		close(out)
		return out
	}
	inner := make(chan apicontainer.WaitResponse, 1)
	c.waiters = append(c.waiters, waiter{cond: cond, ch: inner})
	go func() {
		select {
		case r, ok := <-inner:
			if ok {
				out <- r
			}
			close(out)
		case <-ctx.Done():
			close(out)
		}
	}()
	return out
}

// ToDisk writes config.v2.json and hostconfig.json atomically. Call with
// the lock held.
func (c *Container) ToDisk() error {
	if c.Root == "" {
		return nil
	}
	if _, err := os.Stat(c.Root); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := atomicWrite(filepath.Join(c.Root, "config.v2.json"), b); err != nil {
		return err
	}
	hb, err := json.Marshal(c.HostConfig)
	if err != nil {
		return err
	}
	return atomicWrite(filepath.Join(c.Root, "hostconfig.json"), hb)
}

func atomicWrite(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// load reads one container directory.
func load(dir string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", dir, err)
	}
	hb, err := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
	if err != nil {
		return nil, err
	}
	c.HostConfig = &apicontainer.HostConfig{}
	if err := json.Unmarshal(hb, c.HostConfig); err != nil {
		return nil, fmt.Errorf("parse %s hostconfig: %w", dir, err)
	}
	if c.ID == "" || c.Config == nil {
		return nil, fmt.Errorf("%s: incomplete container record", dir)
	}
	c.Root = dir
	if c.MountPoints == nil {
		c.MountPoints = map[string]*MountPoint{}
	}
	return c, nil
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// mounts renders the mount points for the API.
func (c *Container) mounts() []apicontainer.MountPoint {
	out := []apicontainer.MountPoint{}
	for _, m := range c.MountPoints {
		out = append(out, apicontainer.MountPoint{
			Type: m.Type, Name: m.Name, Source: m.Source, Destination: m.Destination,
			Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation,
		})
	}
	return out
}

// Summary renders the container as one row of GET /containers/json.
func (c *Container) Summary() apicontainer.Summary {
	s := apicontainer.Summary{
		ID:      c.ID,
		Names:   []string{c.Name},
		Image:   c.Config.Image,
		ImageID: c.ImageID,
		Command: strings.TrimSpace(strings.Join(append([]string{c.Path}, c.Args...), " ")),
		Created: c.Created.Unix(),
		Ports:   []apicontainer.PortSummary{},
		Labels:  c.Config.Labels,
		State:   apicontainer.ContainerState(c.StateString()),
		Status:  c.StatusString(),
		Mounts:  c.mounts(),
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if c.HostConfig != nil {
		s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	}
	if c.NetworkSettings != nil {
		s.NetworkSettings = &apicontainer.NetworkSettingsSummary{Networks: c.NetworkSettings.Networks}
	}
	return s
}

// InspectBase renders what the model knows of GET /containers/{id}/json.
func (c *Container) InspectBase() *apicontainer.InspectResponse {
	st := c.State
	r := &apicontainer.InspectResponse{
		ID:      c.ID,
		Created: c.Created.UTC().Format(time.RFC3339Nano),
		Path:    c.Path,
		Args:    c.Args,
		State: &apicontainer.State{
			Status:     apicontainer.ContainerState(c.StateString()),
			Running:    st.Running,
			Paused:     st.Paused,
			Restarting: st.Restarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Dead,
			Pid:        st.Pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  timeString(st.StartedAt),
			FinishedAt: timeString(st.FinishedAt),
		},
		Image:           c.ImageID,
		LogPath:         c.LogPath,
		Name:            c.Name,
		RestartCount:    c.RestartCount,
		Driver:          "overlay2",
		Platform:        "linux",
		HostConfig:      c.HostConfig,
		Config:          c.Config,
		NetworkSettings: c.NetworkSettings,
		Mounts:          c.mounts(),
		GraphDriver:     &storage.DriverData{Name: "overlay2", Data: map[string]string{}},
	}
	if c.Root != "" {
		r.HostnamePath = filepath.Join(c.Root, "hostname")
		r.HostsPath = filepath.Join(c.Root, "hosts")
		r.ResolvConfPath = filepath.Join(c.Root, "resolv.conf")
	}
	if r.Args == nil {
		r.Args = []string{}
	}
	return r
}
