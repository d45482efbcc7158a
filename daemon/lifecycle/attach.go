package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/logger/jsonfile"
	"github.com/berth-project/berth/daemon/runtime"
)

// pendingAttach is an attach session that arrived before its container
// started (`docker run` attaches first, then starts). The runtime wires it
// into the container's stdio before the process runs, so no output is lost.
type pendingAttach struct {
	s    *runtime.AttachStreams
	done chan error // receives the start error (nil on success)
}

func (p *pendingAttach) streams() *runtime.AttachStreams {
	if p == nil {
		return nil
	}
	return p.s
}

func (p *pendingAttach) started(err error) {
	if p == nil {
		return
	}
	p.done <- err
}

// takePendingAttach removes and returns the attach waiting for id; m.mu held.
func (m *Manager) takePendingAttach(id string) *pendingAttach {
	if m.pending == nil {
		return nil
	}
	p := m.pending[id]
	delete(m.pending, id)
	return p
}

// HasTTY is the lifecycle side of api/backend's ContainerHasTTY.
func (m *Manager) HasTTY(ctx context.Context, name string) (bool, error) {
	c, err := m.containers.Get(name)
	if err != nil {
		return false, err
	}
	c.Lock()
	defer c.Unlock()
	return c.Config.Tty, nil
}

// Attach is the lifecycle side of api/backend's ContainerAttach.
func (m *Manager) Attach(ctx context.Context, name string, opts backend.AttachOptions) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	cfg := c.Config
	st := c.State
	c.Unlock()
	if st.Paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot attach to a paused container"))
	}
	if opts.Logs {
		tty := cfg.Tty
		err := jsonfile.Read(ctx, c.LogPath, jsonfile.ReadOptions{Tail: -1}, func(e jsonfile.Entry) error {
			w := opts.Stdout
			if e.Stream == "stderr" && !tty {
				w = opts.Stderr
			}
			if w == nil {
				return nil
			}
			_, err := w.Write(e.Line)
			return err
		})
		if err != nil && !errors.Is(err, io.EOF) {
			m.log.Debug("attach: replay logs", "id", c.ID, "err", err)
		}
	}
	if !opts.Stream {
		return nil
	}
	var stdin io.Reader
	var detached chan struct{}
	if opts.Stdin != nil && cfg.OpenStdin {
		keys, err := parseDetachKeys(opts.DetachKeys)
		if err != nil {
			return err
		}
		detached = make(chan struct{})
		stdin = newDetachReader(opts.Stdin, keys, func() { close(detached) })
	}
	streams := &runtime.AttachStreams{Stdin: stdin, Stdout: opts.Stdout, Stderr: opts.Stderr}
	if cfg.Tty {
		streams.Stderr = nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if detached != nil {
		go func() {
			select {
			case <-detached:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	m.emit(events.ContainerEventType, events.ActionAttach, c.ID, ContainerAttrs(c))

	m.mu.Lock()
	task := m.tasks[c.ID]
	if task == nil && !st.Running {
		// Not started yet: queue the session for the next start.
		if m.pending == nil {
			m.pending = map[string]*pendingAttach{}
		}
		done := make(chan error, 1)
		streams.Done = make(chan error, 1)
		m.pending[c.ID] = &pendingAttach{s: streams, done: done}
		m.mu.Unlock()
		if err := ready(opts); err != nil {
			m.mu.Lock()
			if p := m.pending[c.ID]; p != nil && p.s == streams {
				delete(m.pending, c.ID)
			}
			m.mu.Unlock()
			return err
		}
		select {
		case err := <-done:
			if err != nil {
				return nil // the start error goes to the start call
			}
		case <-ctx.Done():
			m.mu.Lock()
			if p := m.pending[c.ID]; p != nil && p.s == streams {
				delete(m.pending, c.ID)
			}
			m.mu.Unlock()
			return nil
		}
		select {
		case err := <-streams.Done:
			return err
		case <-ctx.Done():
			return nil
		}
	}
	m.mu.Unlock()
	if task == nil {
		return errdefs.ErrConflict.WithMessage("You cannot attach to a stopped container, start it first")
	}
	if err := ready(opts); err != nil {
		return err
	}
	err = task.Attach(ctx, *streams)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ready tells the caller the session is registered (backend.AttachOptions.Ready).
func ready(opts backend.AttachOptions) error {
	if opts.Ready == nil {
		return nil
	}
	return opts.Ready()
}

// parseDetachKeys parses Docker's detach key spec ("ctrl-p,ctrl-q", "a,b").
func parseDetachKeys(spec string) ([]byte, error) {
	if spec == "" {
		return []byte{16, 17}, nil // ctrl-p, ctrl-q
	}
	var out []byte
	for _, k := range strings.Split(spec, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			ch := k[5]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
			case ch == '@':
				out = append(out, 0)
			case ch >= '[' && ch <= '_':
				out = append(out, ch-'['+27)
			default:
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid detach keys (%s) provided", spec))
			}
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid detach keys (%s) provided", spec))
		}
	}
	return out, nil
}

// errDetached ends an attach session's stdin when the user typed the
// detach keys; unlike io.EOF it leaves the container's stdin open.
var errDetached = errors.New("detached")

// detachReader passes stdin through until the detach key sequence is seen;
// then it calls onDetach and reports errDetached. Bytes of a partial sequence are
// held back and released if the sequence breaks.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int
	pending  []byte
	onDetach func()
	once     sync.Once
	done     bool
}

func newDetachReader(r io.Reader, keys []byte, onDetach func()) *detachReader {
	return &detachReader{r: r, keys: keys, onDetach: onDetach}
}

func (dr *detachReader) Read(p []byte) (int, error) {
	if dr.done {
		return 0, errDetached
	}
	if len(dr.pending) > 0 && dr.matched == 0 {
		n := copy(p, dr.pending)
		dr.pending = dr.pending[n:]
		return n, nil
	}
	buf := make([]byte, len(p))
	n, err := dr.r.Read(buf)
	out := p[:0]
	for _, b := range buf[:n] {
		if dr.matched > 0 && b != dr.keys[dr.matched] {
			// The sequence broke: release what was held back.
			out = append(out, dr.pending...)
			dr.pending = dr.pending[:0]
			dr.matched = 0
		}
		if len(dr.keys) > 0 && b == dr.keys[dr.matched] {
			dr.matched++
			dr.pending = append(dr.pending, b)
			if dr.matched == len(dr.keys) {
				dr.done = true
				dr.once.Do(dr.onDetach)
				return len(out), errDetached
			}
			continue
		}
		out = append(out, b)
	}
	if len(out) > len(p) {
		// Released held-back bytes overflowed: keep the rest for next time.
		dr.pending = append(append([]byte{}, out[len(p):]...), dr.pending...)
		out = out[:len(p)]
	}
	return len(out), err
}

// Resize is the lifecycle side of api/backend's ContainerResize.
func (m *Manager) Resize(ctx context.Context, name string, height, width uint) error {
	_, task, err := m.runningTask(name)
	if err != nil {
		return err
	}
	return task.Resize(height, width)
}

// Logs is the lifecycle side of api/backend's ContainerLogs.
func (m *Manager) Logs(ctx context.Context, name string, opts backend.LogsOptions, tty func(bool), write func(stream string, line []byte, t time.Time) error) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	if !opts.Stdout && !opts.Stderr {
		return errdefs.ErrInvalidArgument.WithMessage("You must choose at least one stream")
	}
	c.Lock()
	isTTY := c.Config.Tty
	maxFiles := 1
	if c.HostConfig != nil {
		_, maxFiles, _ = logOptions(c.HostConfig.LogConfig.Config)
	}
	c.Unlock()
	tty(isTTY)
	ro := jsonfile.ReadOptions{Since: opts.Since, Until: opts.Until, Tail: opts.Tail, MaxFiles: maxFiles}
	if opts.Follow && IsRunning(c) {
		ro.Follow = true
		stopped := c.Wait(ctx, apicontainer.WaitConditionNotRunning)
		done := make(chan struct{})
		go func() {
			select {
			case <-stopped:
			case <-ctx.Done():
			}
			close(done)
		}()
		ro.Done = done
	}
	err = jsonfile.Read(ctx, c.LogPath, ro, func(e jsonfile.Entry) error {
		if (e.Stream == "stderr" && !opts.Stderr) || (e.Stream != "stderr" && !opts.Stdout) {
			return nil
		}
		return write(e.Stream, e.Line, e.Time)
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
