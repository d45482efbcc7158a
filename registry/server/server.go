// Package server is `berth registry serve`: the CNCF distribution registry
// (github.com/distribution/distribution/v3) embedded, with filesystem
// storage, optional htpasswd authentication and TLS, a pull-through cache
// mode, and garbage collection. It runs in the foreground, logs each
// request, and shuts down cleanly when its context ends.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/sirupsen/logrus"

	// Registered by import: the htpasswd access controller and the
	// filesystem storage driver.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// Options configure a registry server.
type Options struct {
	Addr     string // listen address, default 127.0.0.1:5000
	Root     string // storage directory
	Htpasswd string // bcrypt htpasswd file: enables basic auth
	TLSCert  string
	TLSKey   string
	// ProxyRemote makes the registry a pull-through cache of this
	// registry URL (e.g. https://registry-1.docker.io).
	ProxyRemote string
	ProxyUser   string
	ProxyPass   string
	Log         *slog.Logger
}

func (o *Options) config() (*configuration.Configuration, error) {
	if o.Root == "" {
		return nil, errors.New("--root is required")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", root, err)
	}
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Storage = configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": root},
		"delete":     configuration.Parameters{"enabled": true},
		"cache":      configuration.Parameters{"blobdescriptor": "inmemory"},
	}
	cfg.Log.Level = "warn"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = "berth-registry"
	if o.Htpasswd != "" {
		if _, err := os.Stat(o.Htpasswd); err != nil {
			return nil, fmt.Errorf("htpasswd file: %w", err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "berth-registry", "path": o.Htpasswd}}
	}
	if o.ProxyRemote != "" {
		cfg.Proxy = configuration.Proxy{RemoteURL: o.ProxyRemote, Username: o.ProxyUser, Password: o.ProxyPass}
	}
	return cfg, nil
}

// Serve runs the registry until ctx ends. ready, if set, is called with
// the bound address once it accepts connections.
func Serve(ctx context.Context, o Options, ready func(addr string)) error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:5000"
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	// distribution logs through logrus' standard logger; keep it to
	// warnings (the request log below says what happened).
	logrus.SetLevel(logrus.WarnLevel)
	app := handlers.NewApp(ctx, cfg)
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{
		Handler:           logRequests(app, log),
		ReadHeaderTimeout: 30 * time.Second,
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			l.Close()
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		l = tls.NewListener(l, srv.TLSConfig)
	}
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	log.Info("registry listening", "addr", l.Addr().String(), "scheme", scheme, "root", o.Root, "auth", o.Htpasswd != "", "proxy", o.ProxyRemote)
	if ready != nil {
		ready(l.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.Info("registry shutting down")
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	_ = app.Shutdown()
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequests logs one line per request, as a server should.
func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.bytes,
			"took", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// GC removes blobs no manifest references (and, with removeUntagged,
// manifests no tag references) from the storage at root. Run it while no
// registry serves root.
func GC(ctx context.Context, root string, dryRun, removeUntagged bool) error {
	drv := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
	reg, err := storage.NewRegistry(ctx, drv, storage.EnableDelete)
	if err != nil {
		return fmt.Errorf("open registry storage: %w", err)
	}
	return storage.MarkAndSweep(ctx, drv, reg, storage.GCOpts{DryRun: dryRun, RemoveUntagged: removeUntagged})
}
