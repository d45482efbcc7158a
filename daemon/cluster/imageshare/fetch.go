package imageshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

// Loader is the engine's side of fetching: its image store's load, and
// delete for what a load should not have kept.
type Loader interface {
	ImageLoad(ctx context.Context, r io.Reader, out func(line string)) error
	ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]image.DeleteResponse, error)
}

// Peer is another node's image server.
type Peer struct {
	Node string // SwarmKit node ID: its certificate's common name
	Addr string // "ip:port"
}

// ErrNotShared is returned when no peer has the image.
var ErrNotShared = errors.New("no other node of the swarm has the image")

var errAbsent = errors.New("absent")

// Fetcher brings images from other nodes into this node's engine. One
// image is fetched once at a time: tasks asking for it meanwhile wait
// for that transfer.
type Fetcher struct {
	loader Loader
	ids    IdentitySource
	log    *slog.Logger

	mu       sync.Mutex
	inflight map[digest.Digest]*flight
}

type flight struct {
	done chan struct{}
	peer Peer
	err  error
}

// NewFetcher returns a fetcher loading into loader, connecting with the
// identity ids gives.
func NewFetcher(loader Loader, ids IdentitySource, log *slog.Logger) *Fetcher {
	if log == nil {
		log = slog.Default()
	}
	return &Fetcher{loader: loader, ids: ids, log: log, inflight: map[digest.Digest]*flight{}}
}

// Fetch asks peers one by one for the image with ID id and loads the
// first one that has it, verified (see verified); it returns the peer
// that served it. A peer that fails or serves something else is passed
// over.
func (f *Fetcher) Fetch(ctx context.Context, id digest.Digest, peers []Peer) (Peer, error) {
	if err := id.Validate(); err != nil {
		return Peer{}, fmt.Errorf("image ID %q: %w", id, err)
	}
	f.mu.Lock()
	if fl, ok := f.inflight[id]; ok {
		f.mu.Unlock()
		select {
		case <-fl.done:
			return fl.peer, fl.err
		case <-ctx.Done():
			return Peer{}, ctx.Err()
		}
	}
	fl := &flight{done: make(chan struct{})}
	f.inflight[id] = fl
	f.mu.Unlock()
	fl.peer, fl.err = f.fetch(ctx, id, peers)
	f.mu.Lock()
	delete(f.inflight, id)
	f.mu.Unlock()
	close(fl.done)
	return fl.peer, fl.err
}

func (f *Fetcher) fetch(ctx context.Context, id digest.Digest, peers []Peer) (Peer, error) {
	if len(peers) == 0 {
		return Peer{}, ErrNotShared
	}
	ident, err := f.ids()
	if err != nil {
		return Peer{}, err
	}
	var failed []string
	for _, p := range peers {
		start := time.Now()
		err := f.fetchFrom(ctx, ident, p, id)
		if err == nil {
			f.log.Info("image fetched from swarm node", "image", shortID(id), "node", p.Node, "addr", p.Addr, "took", time.Since(start).Round(time.Millisecond))
			return p, nil
		}
		if ctx.Err() != nil {
			return Peer{}, ctx.Err()
		}
		if !errors.Is(err, errAbsent) {
			f.log.Warn("image from swarm node refused", "image", shortID(id), "node", p.Node, "err", err)
			failed = append(failed, fmt.Sprintf("%s: %v", p.Node, err))
		}
	}
	if len(failed) > 0 {
		return Peer{}, fmt.Errorf("%w (%s)", ErrNotShared, strings.Join(failed, "; "))
	}
	return Peer{}, ErrNotShared
}

func (f *Fetcher) fetchFrom(ctx context.Context, ident *Identity, p Peer, id digest.Digest) error {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:       clientConfig(ident, p.Node),
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.Addr+"/images/"+id.String(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return errAbsent
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	body := verified(resp.Body, id)
	defer body.Close()
	var loaded []string
	err = f.loader.ImageLoad(ctx, body, func(line string) {
		if s, ok := strings.CutPrefix(line, "Loaded image ID: "); ok {
			loaded = append(loaded, s)
		}
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	ok := false
	for _, l := range loaded {
		if l == id.String() {
			ok = true
			continue
		}
		// Not what was asked for: not kept.
		if _, err := f.loader.ImageDelete(context.WithoutCancel(ctx), l, false, false); err != nil {
			f.log.Warn("remove image a swarm node sent instead", "image", l, "err", err)
		}
	}
	if !ok {
		return fmt.Errorf("served %v, not %s", loaded, id)
	}
	return nil
}
