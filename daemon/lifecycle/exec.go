package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/runtime"
	"github.com/berth-project/berth/daemon/runtime/spec"
)

// execConfig is one `exec` instance: created, then started once.
type execConfig struct {
	mu          sync.Mutex
	id          string
	containerID string
	req         apicontainer.ExecCreateRequest
	running     bool
	started     bool
	exitCode    *int
	pid         int
	proc        *runtime.ExecProcess
}

// execStore indexes exec instances by ID.
type execStore struct {
	mu    sync.Mutex
	execs map[string]*execConfig
}

func newExecStore() *execStore { return &execStore{execs: map[string]*execConfig{}} }

func (s *execStore) get(id string) (*execConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execs[id]
	if e == nil {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such exec instance: %s", id))
	}
	return e, nil
}

// containerExited forgets the exec instances of a container that stopped.
func (s *execStore) containerExited(containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.execs {
		e.mu.Lock()
		done := e.containerID == containerID && !e.running
		e.mu.Unlock()
		if done && e.started {
			delete(s.execs, id)
		}
	}
}

// ExecCreate is the lifecycle side of api/backend's ExecCreate.
func (m *Manager) ExecCreate(ctx context.Context, name string, req *apicontainer.ExecCreateRequest) (string, error) {
	c, _, err := m.runningTask(name)
	if err != nil {
		return "", err
	}
	c.Lock()
	paused, restarting := c.State.Paused, c.State.Restarting
	c.Unlock()
	if paused {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.ID))
	}
	if restarting {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
	}
	if len(req.Cmd) == 0 {
		return "", errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	e := &execConfig{id: hex.EncodeToString(b), containerID: c.ID, req: *req}
	m.execs.mu.Lock()
	m.execs.execs[e.id] = e
	m.execs.mu.Unlock()
	attrs := ContainerAttrs(c)
	attrs["execID"] = e.id
	m.emit(events.ContainerEventType, events.Action("exec_create: "+joinArgs(req.Cmd)), c.ID, attrs)
	return e.id, nil
}

// ExecStart is the lifecycle side of api/backend's ExecStart.
func (m *Manager) ExecStart(ctx context.Context, id string, opts backend.ExecStartOptions) error {
	e, err := m.execs.get(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", id))
	}
	e.started = true
	e.running = true
	req := e.req
	e.mu.Unlock()
	finish := func(code int) {
		e.mu.Lock()
		e.running = false
		e.exitCode = &code
		e.mu.Unlock()
	}
	c, task, err := m.runningTask(e.containerID)
	if err != nil {
		finish(126)
		return err
	}
	c.Lock()
	cfg := c.Config
	rootfs := rootfsPath(c)
	c.Unlock()
	user := req.User
	if user == "" {
		user = cfg.User
	}
	uid, gid, groups, err := spec.ResolveUser(rootfs, user, nil)
	if err != nil {
		finish(126)
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	cwd := req.WorkingDir
	if cwd == "" {
		cwd = cfg.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	env := MergeEnv(cfg.Env, req.Env)
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=" + defaultPath}, env...)
	}
	if req.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	eo := runtime.ExecOptions{
		Args:           req.Cmd,
		Env:            env,
		Cwd:            cwd,
		UID:            uid,
		GID:            gid,
		AdditionalGids: groups,
		Tty:            req.Tty,
		ConsoleSize:    opts.ConsoleSize,
	}
	if req.Privileged {
		// Every capability the host allows: asking for one outside the
		// daemon's bounding set fails the exec ("unable to apply caps").
		eo.Capabilities = spec.HostCapabilities()
	}
	if !opts.Detach {
		if req.AttachStdin {
			eo.Stdin = opts.Stdin
		}
		if req.AttachStdout {
			eo.Stdout = opts.Stdout
		}
		if req.AttachStderr && !req.Tty {
			eo.Stderr = opts.Stderr
		}
	}
	proc, err := task.Exec(ctx, eo)
	if err != nil {
		finish(exitCodeForStartError(err))
		return fmt.Errorf("exec in container %s: %w", c.ID[:12], err)
	}
	e.mu.Lock()
	e.proc = proc
	e.pid = proc.Pid()
	e.mu.Unlock()
	attrs := ContainerAttrs(c)
	attrs["execID"] = e.id
	m.emit(events.ContainerEventType, events.Action("exec_start: "+joinArgs(req.Cmd)), c.ID, attrs)
	wait := func() {
		code, err := proc.Wait()
		if err != nil {
			m.log.Debug("exec wait", "exec", e.id, "err", err)
		}
		finish(code)
		attrs := ContainerAttrs(c)
		attrs["execID"] = e.id
		attrs["exitCode"] = fmt.Sprint(code)
		m.emit(events.ContainerEventType, events.ActionExecDie, c.ID, attrs)
	}
	if opts.Detach {
		go wait()
		return nil
	}
	wait()
	return nil
}

// defaultPath is the PATH of a container whose image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return true
		}
	}
	return false
}

func joinArgs(args []string) string {
	out := ""
	for i, a := range args {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out
}

// ExecInspect is the lifecycle side of api/backend's ExecInspect.
func (m *Manager) ExecInspect(ctx context.Context, id string) (*apicontainer.ExecInspectResponse, error) {
	e, err := m.execs.get(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &apicontainer.ExecInspectResponse{
		ID:          e.id,
		ContainerID: e.containerID,
		Running:     e.running,
		OpenStdin:   e.req.AttachStdin,
		OpenStdout:  e.req.AttachStdout,
		OpenStderr:  e.req.AttachStderr,
		Pid:         e.pid,
		ProcessConfig: &apicontainer.ExecProcessConfig{
			Tty:        e.req.Tty,
			Privileged: &e.req.Privileged,
			User:       e.req.User,
		},
	}
	if len(e.req.Cmd) > 0 {
		r.ProcessConfig.Entrypoint = e.req.Cmd[0]
		r.ProcessConfig.Arguments = e.req.Cmd[1:]
	}
	if e.exitCode != nil {
		code := *e.exitCode
		r.ExitCode = &code
	}
	return r, nil
}

// ExecResize is the lifecycle side of api/backend's ExecResize.
func (m *Manager) ExecResize(ctx context.Context, id string, height, width uint) error {
	e, err := m.execs.get(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	proc := e.proc
	e.mu.Unlock()
	if proc == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec %s is not running", id))
	}
	return proc.Resize(height, width)
}
