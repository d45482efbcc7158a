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
	"sort"
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
	// RemoveVolumes records, with RemovalInProgress, that the removal
	// asked for the anonymous volumes to go too (rm -v): a daemon that
	// resumes an interrupted removal honours it.
	RemoveVolumes bool `json:",omitempty"`
	// Health is the healthcheck state, nil without a healthcheck; the
	// daemon's health monitor owns its content.
	Health *apicontainer.Health `json:",omitempty"`
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
	// gone is set, under the lock, once a removal is about to delete Root:
	// from then on ToDisk writes nothing, so a late state change (the exit
	// monitor, a stop) cannot recreate files in a removed container's dir.
	gone bool
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

// StateString is the summary State: "created", "running", "paused",
// "restarting", "removing", "exited" or "dead". A restarting container
// counts as running (State.Running stays true while it waits to restart),
// as in Docker. Call with the lock held.
func (c *Container) StateString() string {
	s := c.State
	switch {
	case s.Running && s.Paused:
		return "paused"
	case s.Running && s.Restarting:
		return "restarting"
	case s.Running:
		return "running"
	case s.RemovalInProgress:
		return "removing"
	case s.Dead:
		return "dead"
	case s.StartedAt.IsZero():
		return "created"
	}
	return "exited"
}

// StatusString is the STATUS column of `ps`: "Up 5 seconds", "Up 2 minutes
// (Paused)", "Up 3 hours (healthy)", "Restarting (1) 2 seconds ago",
// "Exited (0) 3 seconds ago", "Created", "Removal In Progress", "Dead".
// Call with the lock held.
func (c *Container) StatusString() string {
	return c.statusAt(time.Now())
}

func (c *Container) statusAt(now time.Time) string {
	s := c.State
	if s.Running {
		switch {
		case s.Paused:
			return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(s.StartedAt)))
		case s.Restarting:
			return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
		case s.Health != nil && s.Health.Status != "" && s.Health.Status != apicontainer.NoHealthcheck:
			h := string(s.Health.Status)
			if s.Health.Status == apicontainer.Starting {
				h = "health: starting"
			}
			return fmt.Sprintf("Up %s (%s)", units.HumanDuration(now.Sub(s.StartedAt)), h)
		}
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	}
	switch {
	case s.RemovalInProgress:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.StartedAt.IsZero():
		return "Created"
	case s.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

// SetRunning records a start. Call with the lock held.
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
	c.HasBeenStartedBefore = true
}

// SetStopped records an exit (or a failed start, with errMsg) and wakes the
// "not-running" and "next-exit" waiters. Call with the lock held.
func (c *Container) SetStopped(code int, oom bool, finishedAt time.Time, errMsg string) {
	c.State.Running = false
	c.State.Paused = false
	c.State.Restarting = false
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.OOMKilled = oom
	c.State.Error = errMsg
	c.State.FinishedAt = finishedAt
	c.wake(false)
}

// SetRestarting records an exit after which the restart policy starts the
// container again. It stays Running (as in Docker) but its exit wakes the
// "not-running" and "next-exit" waiters. Call with the lock held.
func (c *Container) SetRestarting(code int, finishedAt time.Time) {
	c.State.Running = true
	c.State.Restarting = true
	c.State.Paused = false
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.FinishedAt = finishedAt
	c.wake(false)
}

// SetPaused marks the container paused. Call with the lock held.
func (c *Container) SetPaused() { c.State.Paused = true }

// SetUnpaused marks the container running again. Call with the lock held.
func (c *Container) SetUnpaused() { c.State.Paused = false }

// SetRemovalInProgress marks the start of a removal (removeVolumes: the
// anonymous volumes go too); a second concurrent removal is refused with a
// conflict. Call with the lock held.
func (c *Container) SetRemovalInProgress(removeVolumes bool) error {
	if c.State.RemovalInProgress {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("removal of container %s is already in progress", c.shortID()))
	}
	c.State.RemovalInProgress = true
	c.State.RemoveVolumes = removeVolumes
	return nil
}

// ResetRemovalInProgress undoes SetRemovalInProgress after a removal that
// failed before anything was deleted. Call with the lock held.
func (c *Container) ResetRemovalInProgress() {
	c.State.RemovalInProgress = false
	c.State.RemoveVolumes = false
}

// SetDead marks the container gone (removed, or its removal failed beyond
// repair). Call with the lock held.
func (c *Container) SetDead() {
	c.State.Dead = true
	c.State.RemovalInProgress = false
	c.State.RemoveVolumes = false
}

// SetGone marks the container as removed for good, just before its Root
// is deleted: it is Dead and ToDisk no longer writes anything. Call with
// the lock held.
func (c *Container) SetGone() {
	c.SetDead()
	c.gone = true
}

func (c *Container) shortID() string {
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
}

func (c *Container) response() apicontainer.WaitResponse {
	r := apicontainer.WaitResponse{StatusCode: int64(c.State.ExitCode)}
	if c.State.Error != "" {
		r.Error = &apicontainer.WaitExitError{Message: c.State.Error}
	}
	return r
}

// wake answers the exit waiters, and with removed the "removed" ones too.
// Called with the lock held; waiter channels are buffered.
func (c *Container) wake(removed bool) {
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.cond == apicontainer.WaitConditionRemoved && !removed {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.response()
		close(w.ch)
	}
	clear(c.waiters[len(keep):])
	c.waiters = keep
}

// NotifyRemoved wakes every waiter, "removed" ones included, and answers
// later "removed" waits at once. Call without the lock held.
func (c *Container) NotifyRemoved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wake(true)
	ch := c.removedCh()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// Wait returns a channel that receives one response when cond is met, then
// is closed: "not-running" (the default; at once if the container is not
// running), "next-exit" (the next exit, restart or not), or "removed". If
// ctx ends first the channel is closed without a response. Call without
// the lock held.
func (c *Container) Wait(ctx context.Context, cond apicontainer.WaitCondition) <-chan apicontainer.WaitResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(chan apicontainer.WaitResponse, 1)
	if cond == "" {
		cond = apicontainer.WaitConditionNotRunning
	}
	met := false
	switch cond {
	case apicontainer.WaitConditionRemoved:
		select {
		case <-c.removedCh():
			met = true
		default:
		}
	case apicontainer.WaitConditionNotRunning:
		met = !c.State.Running
	}
	if met {
		out <- c.response()
		close(out)
		return out
	}
	inner := make(chan apicontainer.WaitResponse, 1)
	c.waiters = append(c.waiters, waiter{cond: cond, ch: inner})
	go func() {
		defer close(out)
		select {
		case r, ok := <-inner:
			if ok {
				out <- r
			}
		case <-ctx.Done():
			c.dropWaiter(inner)
		}
	}()
	return out
}

func (c *Container) dropWaiter(ch chan apicontainer.WaitResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiters {
		if w.ch == ch {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return
		}
	}
}

// ToDisk writes <Root>/config.v2.json and <Root>/hostconfig.json, each
// atomically (temporary file, fsync, rename, fsync of the directory). A
// container without a Root (in memory only), or one marked gone by its
// removal, has nothing to write. Call with the lock held.
func (c *Container) ToDisk() error {
	if c.Root == "" || c.gone {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	if err := atomicWrite(filepath.Join(c.Root, "config.v2.json"), b); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	hb, err := json.Marshal(c.HostConfig)
	if err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	if err := atomicWrite(filepath.Join(c.Root, "hostconfig.json"), hb); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	return nil
}

// trashPrefix names a container dir being deleted (see RemoveRoot).
const trashPrefix = ".removing-"

// RemoveRoot deletes the container's directory. The directory is first
// renamed, atomically, to a hidden name, so that a daemon dying half-way
// through leaves no half-deleted record behind: New deletes such dirs.
// Call without the lock held, after SetGone.
func (c *Container) RemoveRoot() error {
	c.mu.Lock()
	root := c.Root
	c.mu.Unlock()
	if root == "" {
		return nil
	}
	trash := filepath.Join(filepath.Dir(root), trashPrefix+filepath.Base(root))
	if err := os.Rename(root, trash); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		// Renaming can fail (EBUSY); delete in place then.
		trash = root
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove container %s dir: %w", c.shortID(), err)
	}
	return nil
}

func atomicWrite(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
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

// mounts renders the mount points for the API, by destination.
func (c *Container) mounts() []apicontainer.MountPoint {
	out := []apicontainer.MountPoint{}
	dests := make([]string, 0, len(c.MountPoints))
	for d := range c.MountPoints {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		m := c.MountPoints[d]
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
	if h := c.State.Health; h != nil {
		s.Health = &apicontainer.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
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
			Health:     st.Health,
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
