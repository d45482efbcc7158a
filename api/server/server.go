// Package server serves the Docker Engine API on unix sockets and TLS TCP
// listeners: routing (versioned /v1.NN/... and unversioned paths), version
// negotiation, Docker's JSON errors, streaming and connection hijacking for
// attach and exec. Handlers translate HTTP to Backend calls; they hold no state.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/internal/version"
)

// API versions: the newest this server speaks and the oldest it accepts.
const (
	APIVersion    = backend.APIVersion
	MinAPIVersion = backend.MinAPIVersion
)

// Options tune the server.
type Options struct {
	// ServerVersion is the engine version in the Server header.
	ServerVersion string
}

// Server is the Engine API server.
type Server struct {
	b    Backend
	log  *slog.Logger
	opts Options
	mux  *http.ServeMux

	mu    sync.Mutex
	conns map[net.Conn]bool // hijacked connections, closed on shutdown
	// shutdown is set once Serve has closed conns: a later hijack is
	// refused.
	shutdown bool
}

// New builds a server over b.
func New(b Backend, logger *slog.Logger, opts Options) *Server {
	if opts.ServerVersion == "" {
		opts.ServerVersion = version.Version
	}
	s := &Server{b: b, log: logger, opts: opts, mux: http.NewServeMux(), conns: map[net.Conn]bool{}}
	s.routes()
	return s
}

// ListenUnix listens on a unix socket at path with mode 0660, owned by gid
// (if >= 0). A stale socket file is replaced.
func ListenUnix(path string, gid int) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if conn, err := net.Dial("unix", path); err == nil {
		conn.Close()
		return nil, fmt.Errorf("another daemon is listening on %s", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Serve serves the API on every listener until ctx ends, then shuts down:
// all listeners close and hijacked streams are cut. A listener that fails
// shuts the others down too and its error is returned.
func (s *Server) Serve(ctx context.Context, ls ...net.Listener) error {
	if len(ls) == 0 {
		return errors.New("serve: no listener")
	}
	// Requests run under a context that ends at shutdown, so streaming
	// handlers (events, logs --follow, wait, stats) return promptly.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		// net/http's own complaints (a refused TLS handshake…) go to
		// the daemon's log.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelInfo),
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- hs.Serve(l) }()
	}
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	s.shutdown = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	// Shutdown closes every listener hs.Serve was given.
	_ = hs.Shutdown(sctx)
	return err
}

// Handler is the whole API as an http.Handler.
func (s *Server) Handler() http.Handler {
	return s.recoverMW(s.versionMW(s.mux))
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

type ctxKey int

const versionKey ctxKey = 0

// versionMW strips and checks the /v1.NN prefix and sets common headers.
func (s *Server) versionMW(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", APIVersion)
		w.Header().Set("Server", "berth/"+s.opts.ServerVersion+" (linux)")
		w.Header().Set("Ostype", "linux")
		version := APIVersion
		if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
			version = m[1]
			if versionLess(APIVersion, version) {
				writeError(w, badRequest(fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, APIVersion)))
				return
			}
			if versionLess(version, MinAPIVersion) {
				writeError(w, badRequest(fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, MinAPIVersion)))
				return
			}
			r2 := r.Clone(context.WithValue(r.Context(), versionKey, version))
			r2.URL.Path = m[2]
			r2.URL.RawPath = ""
			r = r2
		} else {
			r = r.WithContext(context.WithValue(r.Context(), versionKey, version))
		}
		next.ServeHTTP(w, r)
	})
}

// versionLess compares "1.NN" versions.
func versionLess(a, b string) bool {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := 0; i < 2; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// recoverMW turns a handler panic into a 500; the daemon keeps serving.
func (s *Server) recoverMW(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in API handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, fmt.Errorf("internal error handling %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

var errHijacked = errors.New("connection hijacked")
