package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
)

// muxWriter writes Docker's multiplexed stream: an 8-byte header (stream,
// 0, 0, 0, big-endian length) before each chunk.
type muxWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (m *muxWriter) writeFrame(stream byte, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := m.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := m.w.Write(p)
	return err
}

type streamWriter struct {
	m      *muxWriter
	stream byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.m.writeFrame(s.stream, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// hijack takes over the connection and writes the upgrade (or raw stream)
// response header.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Tracked before the client can see the answer, so a shutdown that
	// follows it always closes this stream; one after shutdown began is
	// closed at once.
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		conn.Close()
		return nil, nil, errors.New("server is shutting down")
	}
	s.conns[conn] = true
	s.mu.Unlock()
	ctype := "application/vnd.docker.multiplexed-stream"
	if tty {
		ctype = "application/vnd.docker.raw-stream"
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: %s\r\n\r\n", ctype, APIVersion)
	} else {
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nApi-Version: %s\r\n\r\n", ctype, APIVersion)
	}
	if err := rw.Flush(); err != nil {
		s.release(conn)
		return nil, nil, err
	}
	return conn, rw, nil
}

func (s *Server) release(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

// closeWrite half-closes so the client sees the end of output.
func closeWrite(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// connWriter writes to the hijacked conn (after any buffered data).
type connWriter struct {
	rw *bufio.ReadWriter
	mu sync.Mutex
	// holdUntil delays the first write (see newConnWriter).
	holdUntil time.Time
}

// pyClientHold is how long output is held back after the response header
// for docker-py, which parses the header with a buffered reader and then
// reads the stream from the raw socket: bytes that arrive together with the
// header would be lost.
const pyClientHold = 50 * time.Millisecond

func newConnWriter(r *http.Request, rw *bufio.ReadWriter) *connWriter {
	c := &connWriter{rw: rw}
	if strings.HasPrefix(r.Header.Get("User-Agent"), "docker-sdk-python") {
		c.holdUntil = time.Now().Add(pyClientHold)
	}
	return c
}

func (c *connWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holdUntil.IsZero() {
		time.Sleep(time.Until(c.holdUntil))
		c.holdUntil = time.Time{}
	}
	n, err := c.rw.Write(p)
	if err == nil {
		err = c.rw.Flush()
	}
	return n, err
}

func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	q := r.URL.Query()
	tty, err := s.b.ContainerHasTTY(r.Context(), id)
	if err != nil {
		return err
	}
	// The upgrade is answered only when the backend has registered the
	// session (Ready): a client sends start once its attach is answered,
	// and a start must not miss the attach.
	h := &lazyHijack{s: s, w: w, r: r, tty: tty}
	opts := AttachOptions{Logs: boolQuery(q.Get("logs")), Stream: boolQuery(q.Get("stream")), DetachKeys: q.Get("detachKeys"), Ready: h.ready}
	if boolQuery(q.Get("stdin")) {
		opts.Stdin = lazyReader{h}
	}
	if tty {
		if boolQuery(q.Get("stdout")) || boolQuery(q.Get("stderr")) {
			opts.Stdout = lazyWriter{h, 0}
		}
	} else {
		if boolQuery(q.Get("stdout")) {
			opts.Stdout = lazyWriter{h, 1}
		}
		if boolQuery(q.Get("stderr")) {
			opts.Stderr = lazyWriter{h, 2}
		}
	}
	err = s.b.ContainerAttach(r.Context(), id, opts)
	if !h.started() {
		if err != nil {
			return err // still plain HTTP: an ordinary error response
		}
		if herr := h.ready(); herr != nil {
			return herr
		}
	}
	if h.conn == nil {
		return errHijacked
	}
	defer s.release(h.conn)
	if err != nil {
		s.log.Debug("attach ended", "id", id, "err", err)
		if !tty {
			_ = h.mw.writeFrame(2, []byte(errMessage(err)+"\n"))
		}
	}
	closeWrite(h.conn)
	return errHijacked
}

// lazyHijack takes the connection over on first need (see containerAttach).
type lazyHijack struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	tty  bool
	mu   sync.Mutex
	err  error
	done bool
	conn net.Conn
	rw   *bufio.ReadWriter
	in   *connReader
	cw   *connWriter
	mw   *muxWriter
}

func (h *lazyHijack) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		h.conn, h.rw, h.err = h.s.hijack(h.w, h.r, h.tty)
		if h.err == nil {
			h.in = &connReader{buf: h.rw.Reader, conn: h.conn}
			h.cw = newConnWriter(h.r, h.rw)
			h.mw = &muxWriter{w: h.cw}
		}
	}
	return h.err
}

func (h *lazyHijack) started() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done
}

type lazyReader struct{ h *lazyHijack }

func (l lazyReader) Read(p []byte) (int, error) {
	if err := l.h.ready(); err != nil {
		return 0, err
	}
	return l.h.in.Read(p)
}

// connReader reads a hijacked connection's client bytes: what net/http
// had buffered, then the connection itself. Reading through net/http's
// buffer past its end would cancel the request's context at the client's
// half-close (net/http treats a read error there as the client going
// away), and with it the output still to come.
type connReader struct {
	buf  *bufio.Reader
	conn net.Conn
}

func (c *connReader) Read(p []byte) (int, error) {
	if c.buf.Buffered() > 0 {
		return c.buf.Read(p[:min(len(p), c.buf.Buffered())])
	}
	return c.conn.Read(p)
}

// lazyWriter writes one stream: 0 is the raw tty stream, 1 and 2 are
// multiplexed stdout and stderr.
type lazyWriter struct {
	h      *lazyHijack
	stream byte
}

func (l lazyWriter) Write(p []byte) (int, error) {
	if err := l.h.ready(); err != nil {
		return 0, err
	}
	if l.stream == 0 {
		return l.h.cw.Write(p)
	}
	return streamWriter{m: l.h.mw, stream: l.stream}.Write(p)
}

func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req apicontainer.ExecStartRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ins, err := s.b.ExecInspect(r.Context(), id)
	if err != nil {
		return err
	}
	if ins.Running || ins.ExitCode != nil {
		return &statusError{http.StatusConflict, fmt.Sprintf("Error: Exec command %s has already run", id)}
	}
	if req.Detach {
		if err := s.b.ExecStart(r.Context(), id, ExecStartOptions{Detach: true, ConsoleSize: req.ConsoleSize}); err != nil {
			return err
		}
		writeJSON(w, 200, map[string]string{})
		return nil
	}
	tty := ins.ProcessConfig != nil && ins.ProcessConfig.Tty
	conn, rw, err := s.hijack(w, r, tty)
	if err != nil {
		return err
	}
	defer s.release(conn)
	cw := newConnWriter(r, rw)
	opts := ExecStartOptions{ConsoleSize: req.ConsoleSize}
	if ins.OpenStdin {
		opts.Stdin = &connReader{buf: rw.Reader, conn: conn}
	}
	if tty {
		opts.Stdout, opts.Stderr = cw, cw
	} else {
		mw := &muxWriter{w: cw}
		opts.Stdout = streamWriter{m: mw, stream: 1}
		opts.Stderr = streamWriter{m: mw, stream: 2}
	}
	if err := s.b.ExecStart(r.Context(), id, opts); err != nil {
		msg := errMessage(err) + "\n"
		if tty {
			_, _ = cw.Write([]byte(msg))
		} else {
			_ = (&muxWriter{w: cw}).writeFrame(2, []byte(msg))
		}
	}
	closeWrite(conn)
	return errHijacked
}
