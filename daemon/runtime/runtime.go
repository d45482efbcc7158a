// Package runtime runs containers on libcontainer. Each container has a
// shim — the berth binary re-exec'd as `berth shim` in its own session —
// that creates the container, is the parent of its processes, owns their
// stdio (writing the json-file log and fanning output out to attached
// clients) and records the exit status, so containers outlive the daemon
// and a restarted daemon re-attaches to them (live restore).
package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime starts and finds containers' shims.
type Runtime struct {
	root string // per-container dirs
	exe  string // binary run as the shim
	log  *slog.Logger

	// A standby shim: started ahead of need, waiting for the directory of
	// the container it will run, so starting a container does not wait
	// for a process to exec and the Go runtime to boot (~10 ms).
	mu      sync.Mutex
	standby *standbyShim
	closed  bool
}

// standbyDelay is how long after a start the next standby shim is spawned.
const standbyDelay = 40 * time.Millisecond

type standbyShim struct {
	cmd   *exec.Cmd
	dirW  *os.File // the container dir is written here
	ready *os.File // the shim's ready pipe
	done  chan struct{}
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithExecutable sets the binary re-exec'd as the shim (default: this one).
func WithExecutable(path string) Option { return func(r *Runtime) { r.exe = path } }

// New opens the runtime state under root (<exec-root>/runtime).
func New(root string, logger *slog.Logger, opts ...Option) (*Runtime, error) {
	if err := os.MkdirAll(filepath.Join(root, "s"), 0o700); err != nil {
		return nil, fmt.Errorf("create runtime root: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "lc"), 0o700); err != nil {
		return nil, fmt.Errorf("create runtime root: %w", err)
	}
	r := &Runtime{root: root, log: logger}
	for _, o := range opts {
		o(r)
	}
	if r.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		r.exe = exe
	}
	go r.refill()
	return r, nil
}

// refill starts a standby shim if there is none.
func (r *Runtime) refill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.standby != nil {
		return
	}
	sb, err := r.spawnStandby()
	if err != nil {
		r.log.Warn("start standby shim", "err", err)
		return
	}
	r.standby = sb
}

func (r *Runtime) spawnStandby() (*standbyShim, error) {
	dirR, dirW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		dirR.Close()
		dirW.Close()
		return nil, err
	}
	cmd := exec.Command(r.exe, "shim", "--standby", r.root)
	cmd.ExtraFiles = []*os.File{readyW, dirR} // fd 3: ready, fd 4: the dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = r.root
	err = cmd.Start()
	readyW.Close()
	dirR.Close()
	if err != nil {
		dirW.Close()
		readyR.Close()
		return nil, fmt.Errorf("start standby shim: %w", err)
	}
	sb := &standbyShim{cmd: cmd, dirW: dirW, ready: readyR, done: make(chan struct{})}
	// Reaped by us while we live; after that, by init.
	go func() { _ = cmd.Wait(); close(sb.done) }()
	return sb, nil
}

// takeStandby hands the standby shim the container dir, or returns nil
// when there is none (the caller then starts a shim itself).
func (r *Runtime) takeStandby(dir string) *standbyShim {
	r.mu.Lock()
	sb := r.standby
	r.standby = nil
	r.mu.Unlock()
	// The next standby starts a moment later, so its exec does not compete
	// for the CPU with the container being started now.
	time.AfterFunc(standbyDelay, r.refill)
	if sb == nil {
		return nil
	}
	_, err := sb.dirW.WriteString(dir + "\n")
	sb.dirW.Close()
	if err != nil {
		sb.ready.Close()
		return nil
	}
	return sb
}

// Close stops the standby shim. Running containers' shims are not touched.
func (r *Runtime) Close() {
	r.mu.Lock()
	r.closed = true
	sb := r.standby
	r.standby = nil
	r.mu.Unlock()
	if sb == nil {
		return
	}
	sb.dirW.Close() // the standby reads EOF and exits
	sb.ready.Close()
	select {
	case <-sb.done:
	case <-time.After(2 * time.Second):
		_ = sb.cmd.Process.Kill()
	}
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, id) }

// sockPath is the shim's socket. Unix socket paths are limited to 108
// bytes, so sockets live in a short directory under a shortened ID.
func (r *Runtime) sockPath(id string) string {
	short := id
	if len(short) > 32 {
		short = short[:32]
	}
	return filepath.Join(r.root, "s", short+".sock")
}

// StateRoot is libcontainer's state root.
func (r *Runtime) stateRoot() string { return filepath.Join(r.root, "lc") }

// AttachStreams are one attach session's streams. Done, if set, receives
// the session's end (nil when the process exited and all output was sent).
type AttachStreams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Done           chan error
}

// StartOptions describe a container to start.
type StartOptions struct {
	ID          string
	Spec        *specs.Spec
	OpenStdin   bool
	StdinOnce   bool
	LogPath     string
	LogMaxSize  int64
	LogMaxFiles int
	ConsoleSize *[2]uint
	// Attach, if set, is connected before the process runs, so it sees all
	// of the output; its session runs in the background and ends on Done.
	Attach *AttachStreams
}

// Task is a running (or finished, not yet deleted) container.
type Task struct {
	r   *Runtime
	id  string
	pid int
}

// ID is the container ID.
func (t *Task) ID() string { return t.id }

// Pid is the host PID of the container's init process.
func (t *Task) Pid() int { return t.pid }

// Start spawns the shim, which creates the container with its process
// stopped just before exec; attaches opts.Attach; then lets it run.
func (r *Runtime) Start(ctx context.Context, opts StartOptions) (_ *Task, retErr error) {
	dir := r.dir(opts.ID)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create runtime dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			r.cleanup(opts.ID)
		}
	}()
	cfg := ShimConfig{
		ID: opts.ID, Spec: opts.Spec, StateRoot: r.stateRoot(), Socket: r.sockPath(opts.ID), OpenStdin: opts.OpenStdin, StdinOnce: opts.StdinOnce,
		LogPath: opts.LogPath, LogMaxSize: opts.LogMaxSize, LogMaxFiles: opts.LogMaxFiles, ConsoleSize: opts.ConsoleSize,
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	var rd *os.File
	var shimProc *os.Process
	var shimDone <-chan struct{} // closed when the shim has exited
	if sb := r.takeStandby(dir); sb != nil {
		rd, shimProc, shimDone = sb.ready, sb.cmd.Process, sb.done
	} else {
		var wr *os.File
		rd, wr, err = os.Pipe()
		if err != nil {
			return nil, err
		}
		logf, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			wr.Close()
			rd.Close()
			return nil, err
		}
		cmd := exec.Command(r.exe, "shim", dir)
		cmd.Stdin = nil
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.ExtraFiles = []*os.File{wr}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Dir = dir
		err = cmd.Start()
		wr.Close()
		logf.Close()
		if err != nil {
			rd.Close()
			return nil, fmt.Errorf("start shim: %w", err)
		}
		// The shim is reaped by us while we live; after that, by init.
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		shimProc, shimDone = cmd.Process, done
	}
	defer rd.Close()
	var ready Response
	if err := json.NewDecoder(bufio.NewReader(rd)).Decode(&ready); err != nil {
		_ = shimProc.Kill()
		logTail, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
		return nil, fmt.Errorf("shim did not start: %v: %s", err, strings.TrimSpace(lastLine(string(logTail))))
	}
	if ready.Error != "" {
		_ = shimProc.Kill()
		return nil, errors.New(ready.Error)
	}
	t := &Task{r: r, id: opts.ID, pid: ready.Pid}
	defer func() {
		if retErr != nil {
			// The shim created the container: it would serve it until a
			// delete, which no one will send. Kill the container, let the
			// shim reap it and delete its state, and make sure it is gone.
			t.discard(context.WithoutCancel(ctx), shimProc, shimDone)
		}
	}()
	if opts.Attach != nil {
		attached := make(chan error, 1)
		go func() {
			err := t.attach(context.Background(), *opts.Attach, attached)
			if opts.Attach.Done != nil {
				opts.Attach.Done <- err
			}
		}()
		if err := <-attached; err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
	}
	if _, err := t.call(ctx, Request{Op: "start"}); err != nil {
		return nil, err
	}
	return t, nil
}

// discardTimeout bounds how long discard waits for a shim to go.
const discardTimeout = 10 * time.Second

// discard ends a task that Start gives up on after its shim created the
// container (ctx cancelled, an attach or the start request failed): it
// kills the container, waits for the shim to reap it, and deletes it, so
// the shim exits; a shim that does not is killed.
func (t *Task) discard(ctx context.Context, shimProc *os.Process, shimDone <-chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, discardTimeout)
	defer cancel()
	if err := t.Signal(syscall.SIGKILL); err != nil {
		t.r.log.Debug("kill discarded container", "id", t.id, "err", err)
	}
	if _, err := t.Wait(ctx); err != nil {
		t.r.log.Debug("wait for discarded container", "id", t.id, "err", err)
	}
	if err := t.Delete(ctx); err != nil {
		t.r.log.Warn("delete discarded container", "id", t.id, "err", err)
	}
	select {
	case <-shimDone:
	case <-ctx.Done():
		t.r.log.Warn("shim of discarded container did not exit, killing it", "id", t.id)
		_ = shimProc.Kill()
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Forget removes whatever runtime state a container has left: it kills and
// destroys a libcontainer container no shim looks after any more, and
// removes its runtime dir and socket. Used when the shim is gone.
func (r *Runtime) Forget(id string) { r.cleanup(id) }

func (r *Runtime) cleanup(id string) {
	if c, err := libcontainer.Load(r.stateRoot(), id); err == nil {
		_ = c.Signal(syscall.SIGKILL)
		_ = c.Destroy()
	}
	_ = os.RemoveAll(r.dir(id))
	_ = os.Remove(r.sockPath(id))
}

// Restore finds a container's task after a daemon restart: its live shim,
// or the exit status the shim recorded.
func (r *Runtime) Restore(ctx context.Context, id string) (*Task, error) {
	dir := r.dir(id)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return nil, fmt.Errorf("no runtime state for %s", id)
	}
	t := &Task{r: r, id: id}
	if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
		t.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if conn, err := net.Dial("unix", r.sockPath(id)); err == nil {
		conn.Close()
		return t, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "exit.json")); err == nil {
		return t, nil
	}
	return nil, fmt.Errorf("shim of %s is gone and recorded no exit", id)
}

// List returns the IDs with runtime state.
func (r *Runtime) List() ([]string, error) {
	entries, err := os.ReadDir(r.root)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "lc" && e.Name() != "s" {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// dial opens a connection to the shim and sends req; it returns the
// response and the connection, positioned after the response line.
func (t *Task) dial(ctx context.Context, req Request) (net.Conn, *bufio.Reader, *Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", t.r.sockPath(t.id))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect to shim of %s: %w", t.id[:min(12, len(t.id))], err)
	}
	if err := writeJSONLine(conn, req); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReader(conn)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	line, err := br.ReadBytes('\n')
	if !stop() {
		conn.Close()
		return nil, nil, nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("shim of %s: %w", t.id[:min(12, len(t.id))], err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	if resp.Error != "" {
		conn.Close()
		return nil, nil, nil, shimError(resp.Error)
	}
	return conn, br, &resp, nil
}

// shimError is an error the shim answered with (as opposed to failing to
// reach it).
type shimError string

func (e shimError) Error() string { return string(e) }

func (t *Task) call(ctx context.Context, req Request) (*Response, error) {
	conn, _, resp, err := t.dial(ctx, req)
	if err != nil {
		return nil, err
	}
	conn.Close()
	return resp, nil
}

func (t *Task) recordedExit() (ExitStatus, bool) {
	b, err := os.ReadFile(filepath.Join(t.r.dir(t.id), "exit.json"))
	if err != nil {
		return ExitStatus{}, false
	}
	var st ExitStatus
	if json.Unmarshal(b, &st) != nil {
		return ExitStatus{}, false
	}
	return st, true
}

// Exited reports whether the shim has recorded the process's exit (it
// ended, e.g. while the daemon was down, and awaits its delete).
func (t *Task) Exited() bool {
	_, ok := t.recordedExit()
	return ok
}

// Wait blocks until the container's process exits.
func (t *Task) Wait(ctx context.Context) (ExitStatus, error) {
	conn, _, resp, err := t.dial(ctx, Request{Op: "wait"})
	if err != nil {
		if ctx.Err() != nil {
			return ExitStatus{}, ctx.Err()
		}
		if st, ok := t.recordedExit(); ok {
			return st, nil
		}
		return ExitStatus{}, err
	}
	conn.Close()
	if resp.Status == nil {
		if st, ok := t.recordedExit(); ok {
			return st, nil
		}
		return ExitStatus{}, fmt.Errorf("shim of %s sent no exit status", t.id[:min(12, len(t.id))])
	}
	return *resp.Status, nil
}

// Signal sends sig to the container's init process.
func (t *Task) Signal(sig syscall.Signal) error {
	c, err := libcontainer.Load(t.r.stateRoot(), t.id)
	if err != nil {
		return fmt.Errorf("signal %s: %w", t.id[:min(12, len(t.id))], err)
	}
	return c.Signal(sig)
}

// Pause freezes the container.
func (t *Task) Pause() error {
	c, err := libcontainer.Load(t.r.stateRoot(), t.id)
	if err != nil {
		return err
	}
	return c.Pause()
}

// Resume thaws the container.
func (t *Task) Resume() error {
	c, err := libcontainer.Load(t.r.stateRoot(), t.id)
	if err != nil {
		return err
	}
	return c.Resume()
}

// Stats reads the container's cgroup statistics.
func (t *Task) Stats() (*cgroups.Stats, error) {
	c, err := libcontainer.Load(t.r.stateRoot(), t.id)
	if err != nil {
		return nil, err
	}
	st, err := c.Stats()
	if err != nil {
		return nil, err
	}
	return st.CgroupStats, nil
}

// Processes lists the host PIDs in the container.
func (t *Task) Processes() ([]int, error) {
	c, err := libcontainer.Load(t.r.stateRoot(), t.id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
}

// Resize changes the container's tty size.
func (t *Task) Resize(height, width uint) error {
	_, err := t.call(context.Background(), Request{Op: "resize", Height: height, Width: width})
	return err
}

// Attach streams the container's output to s until the process exits or
// ctx ends, and forwards s.Stdin.
func (t *Task) Attach(ctx context.Context, s AttachStreams) error {
	return t.attach(ctx, s, nil)
}

func (t *Task) attach(ctx context.Context, s AttachStreams, attached chan<- error) error {
	conn, br, _, err := t.dial(ctx, Request{Op: "attach", Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil})
	if attached != nil {
		attached <- err
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.Stdin != nil {
		go forwardStdin(conn, s.Stdin)
	}
	_, err = pumpFrames(br, s.Stdout, s.Stderr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// forwardStdin frames an attach client's stdin to the shim. A clean EOF
// is sent as FrameStdinEOF; any other end of the reader (a detach) just
// closes the connection, leaving the process's stdin open.
func forwardStdin(conn net.Conn, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if werr := WriteFrame(conn, FrameStdout, buf[:n]); werr != nil {
				return
			}
		}
		if errors.Is(err, io.EOF) {
			_ = WriteFrame(conn, FrameStdinEOF, nil)
			return
		}
		if err != nil {
			conn.Close()
			return
		}
	}
}

// pumpFrames copies frames to the writers until the exit frame.
func pumpFrames(r io.Reader, stdout, stderr io.Writer) (int, error) {
	for {
		kind, p, err := ReadFrame(r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return -1, nil
			}
			return -1, err
		}
		switch kind {
		case FrameStdout:
			if stdout != nil {
				if _, err := stdout.Write(p); err != nil {
					return -1, err
				}
			}
		case FrameStderr:
			if stderr != nil {
				if _, err := stderr.Write(p); err != nil {
					return -1, err
				}
			}
		case FrameExit:
			code, _ := strconv.Atoi(string(p))
			return code, nil
		}
	}
}

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Args, Env       []string
	Cwd             string
	UID, GID        uint32
	AdditionalGids  []uint32
	Tty             bool
	ConsoleSize     *[2]uint
	Capabilities    []string
	NoNewPrivileges bool
	Stdin           io.Reader
	Stdout, Stderr  io.Writer
}

// ExecProcess is a process started with Exec.
type ExecProcess struct {
	t      *Task
	id     string
	pid    int
	done   chan struct{}
	code   int
	err    error
	mu     sync.Mutex
	closer io.Closer
}

// Exec starts a process in the container; its output streams to the
// writers until it exits.
func (t *Task) Exec(ctx context.Context, o ExecOptions) (*ExecProcess, error) {
	req := &ExecReq{Args: o.Args, Env: o.Env, Cwd: o.Cwd, UID: o.UID, GID: o.GID, AdditionalGids: o.AdditionalGids,
		Tty: o.Tty, ConsoleSize: o.ConsoleSize, Capabilities: o.Capabilities, NoNewPrivileges: o.NoNewPrivileges}
	conn, br, resp, err := t.dial(ctx, Request{Op: "exec", Exec: req, Stdin: o.Stdin != nil})
	if err != nil {
		return nil, err
	}
	p := &ExecProcess{t: t, pid: resp.Pid, id: strconv.Itoa(resp.Pid), done: make(chan struct{}), closer: conn}
	if o.Stdin != nil {
		go func() {
			_, _ = io.Copy(conn, o.Stdin)
			if uc, ok := conn.(*net.UnixConn); ok {
				_ = uc.CloseWrite()
			}
		}()
	}
	go func() {
		defer close(p.done)
		defer conn.Close()
		code, err := pumpFrames(br, o.Stdout, o.Stderr)
		p.mu.Lock()
		p.code, p.err = code, err
		if code < 0 && err == nil {
			p.err = errors.New("exec: connection to shim lost")
		}
		p.mu.Unlock()
	}()
	return p, nil
}

// Pid is the host PID of the exec'd process.
func (p *ExecProcess) Pid() int { return p.pid }

// Wait returns the exit code once the process ended and its output was
// delivered.
func (p *ExecProcess) Wait() (int, error) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code, p.err
}

// Resize changes the exec's tty size.
func (p *ExecProcess) Resize(height, width uint) error {
	_, err := p.t.call(context.Background(), Request{Op: "exec-resize", ExecID: p.id, Height: height, Width: width})
	return err
}

// Signal signals the exec'd process.
func (p *ExecProcess) Signal(sig syscall.Signal) error {
	return syscall.Kill(p.pid, sig)
}

// Delete destroys the finished container's state and ends its shim.
func (t *Task) Delete(ctx context.Context) error {
	conn, _, _, err := t.dial(ctx, Request{Op: "delete"})
	var se shimError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("delete %s: %w: %w", t.id[:min(12, len(t.id))], errdefs.ErrConflict, err)
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The shim is gone: clean up what it would have.
		t.r.cleanup(t.id)
		return nil
	}
	conn.Close()
	// The shim removes its dir as it exits; make sure.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(t.r.sockPath(t.id)); os.IsNotExist(err) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.r.cleanup(t.id)
	return nil
}
