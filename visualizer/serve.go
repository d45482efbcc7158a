package visualizer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve runs the visualizer for api on the TCP address listen until ctx
// ends: it says where it listens on out, follows the engine and serves
// the page, then shuts down cleanly.
func Serve(ctx context.Context, api API, listen string, out io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	w := NewWatcher(api, Options{Logger: log})
	srv := &http.Server{Handler: Handler(w), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	fmt.Fprintf(out, "Visualizer listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("serve the visualizer: %w", err)
	}
	return nil
}
