// Package shim is the per-container supervisor (`berth shim DIR`). It
// creates the container with libcontainer and is the parent of its
// processes; it owns their stdio, writes the json-file log, streams output
// to attached clients, runs exec'd processes, and records the exit status
// in DIR/exit.json so that no exit is lost while the daemon is down.
package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/daemon/logger/jsonfile"
	"github.com/berth-project/berth/daemon/runtime"

	"github.com/berth-project/berth/internal/rlimit"
)

// Main runs the shim for the container whose runtime dir is args[0]. File
// descriptor 3 is the ready pipe: the shim writes one JSON Response line
// (the pid, or the error) once the container is created.
func Main(args []string) int {
	ready := os.NewFile(3, "ready")
	if len(args) == 2 && args[0] == "--standby" {
		// Started ahead of need: wait for the container's dir on fd 4.
		dir, err := awaitDir(os.NewFile(4, "dir"))
		if err != nil {
			return 0 // the daemon went away or closed the standby
		}
		args = []string{dir}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: berth shim DIR")
		return 2
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTERM)
	s, err := newShim(args[0], log)
	if err != nil {
		writeReady(ready, runtime.Response{Error: err.Error()})
		return 1
	}
	writeReady(ready, runtime.Response{Pid: s.pid})
	go s.exitWhenOrphaned()
	s.serve()
	return 0
}

// orphanPoll is how often a shim whose container exited checks that its
// socket is still the one at its path.
const orphanPoll = 200 * time.Millisecond

// exitWhenOrphaned ends the shim once its container has exited and its
// socket is gone from its path (removed, or replaced by another shim's):
// the runtime forgot the container without a delete reaching the shim, so
// no one can ever ask it for anything again. A shim whose socket is still
// there stays, with the exit status, for the daemon (live restore).
func (s *shim) exitWhenOrphaned() {
	<-s.exited
	for {
		if cur, err := os.Stat(s.cfg.Socket); err != nil || !os.SameFile(s.sock, cur) {
			break
		}
		time.Sleep(orphanPoll)
	}
	s.log.Info("socket gone after exit: runtime state was removed, exiting")
	// The runtime's clean-up may have run before the process was reaped,
	// when the container could not be destroyed yet. Destroy it now, if
	// the state under the ID is still this shim's container (and not that
	// of a later one with the same ID).
	if c, err := libcontainer.Load(s.cfg.StateRoot, s.cfg.ID); err == nil {
		if st, err := c.State(); err == nil && st.InitProcessPid == s.pid {
			if err := c.Destroy(); err != nil {
				s.log.Warn("destroy container", "err", err)
			}
		}
	}
	os.Exit(0)
}

// awaitDir reads the container dir a standby shim is given, then moves
// into it and sends stdout and stderr to its shim.log, as a shim started
// for that container would have.
func awaitDir(f *os.File) (string, error) {
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(line)
	if err := os.Chdir(dir); err != nil {
		return "", err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(logf.Fd()), fd); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func writeReady(f *os.File, r runtime.Response) {
	if f == nil {
		return
	}
	b, _ := json.Marshal(r)
	_, _ = f.Write(append(b, '\n'))
	f.Close()
}

type client struct {
	conn           net.Conn
	stdout, stderr bool
	mu             sync.Mutex
}

type shim struct {
	dir  string
	cfg  runtime.ShimConfig
	log  *slog.Logger
	ctr  *libcontainer.Container
	proc *libcontainer.Process
	pid  int
	l    net.Listener
	sock os.FileInfo // the socket file as created, to tell it is still ours
	logw *jsonfile.Writer

	console *os.File // pty master with a tty
	stdinW  *os.File // write end of the process's stdin, with OpenStdin

	mu       sync.Mutex
	clients  map[*client]bool
	status   *runtime.ExitStatus
	exited   chan struct{}
	stdinUse bool                // a client already used stdin (StdinOnce)
	execs    map[string]*os.File // exec id → its console
	started  bool

	output sync.WaitGroup
}

func newShim(dir string, log *slog.Logger) (*shim, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	s := &shim{dir: dir, log: log, clients: map[*client]bool{}, exited: make(chan struct{}), execs: map[string]*os.File{}}
	if err := json.Unmarshal(b, &s.cfg); err != nil {
		return nil, fmt.Errorf("shim config: %w", err)
	}
	spec := s.cfg.Spec
	lcfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: s.cfg.ID, Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("container config: %w", err)
	}
	if s.logw, err = jsonfile.NewWriter(s.cfg.LogPath, s.cfg.LogMaxSize, s.cfg.LogMaxFiles); err != nil {
		return nil, err
	}
	_ = os.Remove(s.cfg.Socket)
	s.l, err = net.Listen("unix", s.cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("shim listen: %w", err)
	}
	_ = os.Chmod(s.cfg.Socket, 0o600)
	if s.sock, err = os.Stat(s.cfg.Socket); err != nil {
		s.l.Close()
		return nil, fmt.Errorf("shim listen: %w", err)
	}
	ctr, err := libcontainer.Create(s.cfg.StateRoot, s.cfg.ID, lcfg)
	if err != nil {
		s.l.Close()
		return nil, fmt.Errorf("create container: %w", err)
	}
	s.ctr = ctr
	p := &libcontainer.Process{
		Args: spec.Process.Args, Env: spec.Process.Env, Cwd: spec.Process.Cwd,
		UID: int(spec.Process.User.UID), GID: int(spec.Process.User.GID), Init: true,
		Rlimits: rlimits(spec.Process.Rlimits),
	}
	for _, g := range spec.Process.User.AdditionalGids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	var consoleParent *os.File
	var childEnds []*os.File
	if spec.Process.Terminal {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, s.fail(err)
		}
		consoleParent = parent
		p.ConsoleSocket = child
		childEnds = append(childEnds, child)
		if cs := s.cfg.ConsoleSize; cs != nil {
			p.ConsoleHeight, p.ConsoleWidth = uint16(cs[0]), uint16(cs[1])
		}
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, s.fail(err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return nil, s.fail(err)
		}
		p.Stdout, p.Stderr = outW, errW
		childEnds = append(childEnds, outW, errW)
		s.output.Add(2)
		go s.pump(outR, "stdout")
		go s.pump(errR, "stderr")
		if s.cfg.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return nil, s.fail(err)
			}
			p.Stdin = inR
			childEnds = append(childEnds, inR)
			s.stdinW = inW
		}
	}
	if err := ctr.Start(p); err != nil {
		for _, f := range childEnds {
			f.Close()
		}
		return nil, s.fail(startError(err))
	}
	for _, f := range childEnds {
		f.Close()
	}
	s.proc = p
	if consoleParent != nil {
		master, err := utils.RecvFile(consoleParent)
		consoleParent.Close()
		if err != nil {
			_ = ctr.Signal(syscall.SIGKILL)
			return nil, s.fail(fmt.Errorf("receive console: %w", err))
		}
		s.console = master
		s.output.Add(1)
		go s.pump(master, "stdout")
	}
	if s.pid, err = p.Pid(); err != nil {
		return nil, s.fail(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(s.pid)), 0o600)
	go s.waitExit()
	return s, nil
}

// startError makes libcontainer's start errors read like Docker's.
func startError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "exec: "); i >= 0 {
		return errors.New("failed to create task for container: " + msg[i:])
	}
	return fmt.Errorf("failed to create task for container: %w", err)
}

func (s *shim) fail(err error) error {
	if s.ctr != nil {
		_ = s.ctr.Destroy()
	}
	if s.l != nil {
		s.l.Close()
	}
	if s.logw != nil {
		s.logw.Close()
	}
	return err
}

func rlimits(in []specs.POSIXRlimit) []configs.Rlimit {
	var out []configs.Rlimit
	for _, r := range in {
		if t, ok := rlimit.Resource(r.Type); ok {
			out = append(out, configs.Rlimit{Type: t, Hard: r.Hard, Soft: r.Soft})
		}
	}
	return out
}

// pump copies one output stream to the log and the attached clients.
func (s *shim) pump(r *os.File, stream string) {
	defer s.output.Done()
	buf := make([]byte, 32<<10)
	var partial []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			s.broadcast(stream, chunk)
			now := time.Now()
			data := append(partial, chunk...)
			partial = nil
			for len(data) > 0 {
				i := strings.IndexByte(string(data), '\n')
				if i < 0 {
					if stream == "stdout" && s.console != nil {
						// A tty prompt has no newline: log it as is.
						_ = s.logw.Write(stream, data, now)
					} else {
						partial = append([]byte{}, data...)
					}
					break
				}
				_ = s.logw.Write(stream, data[:i+1], now)
				data = data[i+1:]
			}
		}
		if err != nil {
			if len(partial) > 0 {
				_ = s.logw.Write(stream, partial, time.Now())
			}
			r.Close()
			return
		}
	}
}

func (s *shim) broadcast(stream string, p []byte) {
	kind := byte(runtime.FrameStdout)
	if stream == "stderr" {
		kind = runtime.FrameStderr
	}
	s.mu.Lock()
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		if (kind == runtime.FrameStdout && c.stdout) || (kind == runtime.FrameStderr && c.stderr) {
			clients = append(clients, c)
		}
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.mu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err := runtime.WriteFrame(c.conn, kind, p)
		c.mu.Unlock()
		if err != nil {
			s.drop(c)
		}
	}
}

func (s *shim) drop(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	c.conn.Close()
}

// waitExit reaps the init process and records how it ended.
func (s *shim) waitExit() {
	ps, err := s.proc.Wait()
	code := 255
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			switch {
			case ws.Signaled():
				code = 128 + int(ws.Signal())
			default:
				code = ws.ExitStatus()
			}
		}
	} else if err != nil {
		s.log.Warn("wait for container process", "err", err)
	}
	// Output ends when every process holding the pipes is gone; the pid
	// namespace dies with its init, so this is prompt.
	done := make(chan struct{})
	go func() { s.output.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if s.console != nil {
			s.console.Close()
		}
	}
	st := &runtime.ExitStatus{Code: code, OOMKilled: s.oomKilled(), ExitedAt: time.Now().UTC()}
	b, _ := json.Marshal(st)
	tmp := filepath.Join(s.dir, "exit.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		if f, err := os.Open(tmp); err == nil {
			_ = f.Sync()
			f.Close()
		}
		_ = os.Rename(tmp, filepath.Join(s.dir, "exit.json"))
	}
	s.logw.Close()
	s.mu.Lock()
	s.status = st
	clients := s.clients
	s.clients = map[*client]bool{}
	s.mu.Unlock()
	close(s.exited)
	for c := range clients {
		c.mu.Lock()
		_ = runtime.WriteFrame(c.conn, runtime.FrameExit, []byte(strconv.Itoa(code)))
		c.mu.Unlock()
		c.conn.Close()
	}
}

// oomKilled reads the memory cgroup's OOM kill counter.
func (s *shim) oomKilled() bool {
	st, err := s.ctr.State()
	if err != nil {
		return false
	}
	if p := st.CgroupPaths["memory"]; p != "" {
		if n := readKey(filepath.Join(p, "memory.oom_control"), "oom_kill"); n > 0 {
			return true
		}
	}
	if p := st.CgroupPaths[""]; p != "" {
		if n := readKey(filepath.Join(p, "memory.events"), "oom_kill"); n > 0 {
			return true
		}
	}
	return false
}

func readKey(path, key string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// serve answers requests until the container is deleted.
func (s *shim) serve() {
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.handle(conn)
	}
}

func (s *shim) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	var req runtime.Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(conn, runtime.Response{Error: "bad request"})
		conn.Close()
		return
	}
	switch req.Op {
	case "start":
		s.mu.Lock()
		already := s.started
		s.started = true
		s.mu.Unlock()
		if !already {
			if err := s.ctr.Exec(); err != nil {
				// Nothing ran: tear the container down and go away; the
				// runtime removes the rest.
				reply(conn, runtime.Response{Error: startError(err).Error()})
				conn.Close()
				_ = s.ctr.Signal(syscall.SIGKILL)
				_ = s.ctr.Destroy()
				os.Exit(1)
			}
		}
		reply(conn, runtime.Response{Pid: s.pid})
		conn.Close()
	case "wait":
		select {
		case <-s.exited:
		case <-connClosed(conn, br):
			conn.Close()
			return
		}
		s.mu.Lock()
		st := s.status
		s.mu.Unlock()
		reply(conn, runtime.Response{Status: st})
		conn.Close()
	case "attach":
		s.attach(conn, br, req)
	case "resize":
		if s.console != nil {
			_ = unix.IoctlSetWinsize(int(s.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(req.Height), Col: uint16(req.Width)})
		}
		reply(conn, runtime.Response{})
		conn.Close()
	case "exec":
		s.exec(conn, br, req)
	case "exec-resize":
		s.mu.Lock()
		c := s.execs[req.ExecID]
		s.mu.Unlock()
		if c != nil {
			_ = unix.IoctlSetWinsize(int(c.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(req.Height), Col: uint16(req.Width)})
		}
		reply(conn, runtime.Response{})
		conn.Close()
	case "delete":
		select {
		case <-s.exited:
		default:
			reply(conn, runtime.Response{Error: "container is still running"})
			conn.Close()
			return
		}
		if err := s.ctr.Destroy(); err != nil {
			s.log.Warn("destroy container", "err", err)
		}
		s.l.Close()
		_ = os.Remove(s.cfg.Socket)
		_ = os.RemoveAll(s.dir)
		reply(conn, runtime.Response{})
		conn.Close()
		os.Exit(0)
	default:
		reply(conn, runtime.Response{Error: "unknown op " + req.Op})
		conn.Close()
	}
}

// connClosed fires when the peer hangs up.
func connClosed(conn net.Conn, br *bufio.Reader) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, br)
		close(ch)
	}()
	return ch
}

func reply(conn net.Conn, r runtime.Response) {
	b, _ := json.Marshal(r)
	_, _ = conn.Write(append(b, '\n'))
}

func (s *shim) attach(conn net.Conn, br *bufio.Reader, req runtime.Request) {
	c := &client{conn: conn, stdout: req.Stdout, stderr: req.Stderr}
	if s.console != nil {
		c.stderr = false
	}
	// The response line must precede any frame: hold the client's write
	// lock until it is sent.
	c.mu.Lock()
	s.mu.Lock()
	st := s.status
	if st == nil {
		s.clients[c] = true
	}
	s.mu.Unlock()
	reply(conn, runtime.Response{Pid: s.pid})
	c.mu.Unlock()
	if st != nil {
		_ = runtime.WriteFrame(conn, runtime.FrameExit, []byte(strconv.Itoa(st.Code)))
		conn.Close()
		return
	}
	var in io.Writer
	switch {
	case s.console != nil:
		in = s.console
	case s.stdinW != nil:
		in = s.stdinW
	}
	if !req.Stdin || in == nil {
		// Wait for the client to go away.
		<-connClosed(conn, br)
		s.drop(c)
		return
	}
	for {
		kind, p, err := runtime.ReadFrame(br)
		if err != nil {
			// The client went away (a detach): stdin stays open.
			return
		}
		switch kind {
		case runtime.FrameStdout:
			if _, err := in.Write(p); err != nil {
				return
			}
		case runtime.FrameStdinEOF:
			if !s.cfg.StdinOnce {
				return
			}
			if s.stdinW != nil {
				// The client closed its stdin: so does the process. A tty
				// is left open, as dockerd does: the docker CLI closes its
				// connection when the user detaches with Ctrl-P Ctrl-Q.
				_ = s.stdinW.Close()
			}
			return
		}
	}
}

// exec runs one process in the container and streams it over conn.
func (s *shim) exec(conn net.Conn, br *bufio.Reader, req runtime.Request) {
	defer conn.Close()
	e := req.Exec
	if e == nil {
		reply(conn, runtime.Response{Error: "exec: no process"})
		return
	}
	p := &libcontainer.Process{Args: e.Args, Env: e.Env, Cwd: e.Cwd, UID: int(e.UID), GID: int(e.GID)}
	if sp := s.cfg.Spec; sp != nil && sp.Process != nil {
		// An exec'd process has the container's --ulimit values, as on Docker.
		p.Rlimits = rlimits(sp.Process.Rlimits)
	}
	for _, g := range e.AdditionalGids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	if len(e.Capabilities) > 0 {
		p.Capabilities = &configs.Capabilities{Bounding: e.Capabilities, Effective: e.Capabilities, Permitted: e.Capabilities}
	}
	if e.NoNewPrivileges {
		t := true
		p.NoNewPrivileges = &t
	}
	var wmu sync.Mutex
	// Frames may only follow the response line: output that arrives
	// before it waits at this gate.
	replied := make(chan struct{})
	var gate sync.Once
	open := func() { gate.Do(func() { close(replied) }) }
	defer open()
	frame := func(kind byte, b []byte) {
		<-replied
		wmu.Lock()
		defer wmu.Unlock()
		_ = runtime.WriteFrame(conn, kind, b)
	}
	var outputs sync.WaitGroup
	copyOut := func(r io.ReadCloser, kind byte) {
		defer outputs.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				frame(kind, append([]byte{}, buf[:n]...))
			}
			if err != nil {
				r.Close()
				return
			}
		}
	}
	var consoleParent *os.File
	var childEnds []*os.File
	var stdinW io.WriteCloser
	if e.Tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			reply(conn, runtime.Response{Error: err.Error()})
			return
		}
		consoleParent, p.ConsoleSocket = parent, child
		childEnds = append(childEnds, child)
		if cs := e.ConsoleSize; cs != nil {
			p.ConsoleHeight, p.ConsoleWidth = uint16(cs[0]), uint16(cs[1])
		}
	} else {
		outR, outW, _ := os.Pipe()
		errR, errW, _ := os.Pipe()
		p.Stdout, p.Stderr = outW, errW
		childEnds = append(childEnds, outW, errW)
		if req.Stdin {
			inR, inW, _ := os.Pipe()
			p.Stdin = inR
			childEnds = append(childEnds, inR)
			stdinW = inW
		}
		outputs.Add(2)
		go copyOut(outR, runtime.FrameStdout)
		go copyOut(errR, runtime.FrameStderr)
	}
	if err := s.ctr.Run(p); err != nil {
		for _, f := range childEnds {
			f.Close()
		}
		reply(conn, runtime.Response{Error: startError(err).Error()})
		return
	}
	for _, f := range childEnds {
		f.Close()
	}
	pid, _ := p.Pid()
	id := strconv.Itoa(pid)
	if consoleParent != nil {
		master, err := utils.RecvFile(consoleParent)
		consoleParent.Close()
		if err != nil {
			_ = p.Signal(syscall.SIGKILL)
			_, _ = p.Wait()
			reply(conn, runtime.Response{Error: "exec console: " + err.Error()})
			return
		}
		s.mu.Lock()
		s.execs[id] = master
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.execs, id)
			s.mu.Unlock()
		}()
		stdinW = master
		outputs.Add(1)
		go copyOut(master, runtime.FrameStdout)
	}
	wmu.Lock()
	reply(conn, runtime.Response{Pid: pid})
	wmu.Unlock()
	open()
	if stdinW != nil {
		go func() {
			_, err := io.Copy(stdinW, br)
			if err == nil && !e.Tty {
				stdinW.Close()
			}
		}()
	}
	ps, _ := p.Wait()
	code := 255
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ws.ExitStatus()
			}
		}
	}
	done := make(chan struct{})
	go func() { outputs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	frame(runtime.FrameExit, []byte(strconv.Itoa(code)))
}
