package imageshare

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

// Exporter is the engine's side of serving: its image store's inspect
// and save.
type Exporter interface {
	ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error)
	ImageExport(ctx context.Context, names []string, w io.Writer) error
}

// Server serves this node's images to the swarm's other nodes.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen serves exp's images on addr ("ip:port") over TLS with the
// node's identity, to swarm nodes only.
func Listen(addr string, exp Exporter, ids IdentitySource, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve images on %s: %w", addr, err)
	}
	s := &Server{ln: ln, srv: &http.Server{
		Handler:           Handler(exp, log),
		TLSConfig:         serverConfig(ids),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go func() {
		if err := s.srv.Serve(tls.NewListener(ln, s.srv.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("swarm image server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving; transfers under way are cut.
func (s *Server) Close() error { return s.srv.Close() }

// Handler answers GET /images/<id> (a full image ID, "sha256:…") with a
// `docker save` tar of that image, 404 when this node does not have it.
func Handler(exp Exporter, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /images/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := digest.Parse(r.PathValue("id"))
		if err != nil || id.Algorithm() != digest.SHA256 {
			http.Error(w, "want a full image ID (sha256:…)", http.StatusBadRequest)
			return
		}
		img, err := exp.ImageInspect(r.Context(), id.String())
		if err != nil || img.ID != id.String() {
			http.Error(w, "No such image: "+id.String(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		cw := &countingWriter{w: w}
		if err := exp.ImageExport(r.Context(), []string{id.String()}, cw); err != nil {
			if cw.n == 0 {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			// Cut the connection: the peer sees a broken transfer, never
			// a short tar.
			log.Debug("serve image", "image", id, "err", err)
			panic(http.ErrAbortHandler)
		}
		peer := "?"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		log.Info("served image to swarm node", "image", shortID(id), "node", peer, "bytes", cw.n)
	})
	return mux
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func shortID(id digest.Digest) string {
	return strings.TrimPrefix(id.String(), "sha256:")[:12]
}
