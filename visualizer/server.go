package visualizer

import (
	"embed"
	"io/fs"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

// Handler serves the page (GET /, with its script and style), the model
// as JSON (GET /api/model) and the model pushed on every change as
// Server-Sent Events (GET /api/events, one "model" event each).
func Handler(w *Watcher) http.Handler {
	return handler(w, 15*time.Second)
}

func handler(w *Watcher, keepAlive time.Duration) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(files))
	mux.HandleFunc("GET /api/model", func(rw http.ResponseWriter, r *http.Request) {
		_, enc := w.Model()
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Cache-Control", "no-store")
		_, _ = rw.Write(append(enc, '\n'))
	})
	mux.HandleFunc("GET /api/events", func(rw http.ResponseWriter, r *http.Request) {
		serveEvents(rw, r, w, keepAlive)
	})
	return mux
}

// serveEvents streams the model to one page until it goes away.
func serveEvents(rw http.ResponseWriter, r *http.Request, w *Watcher, keepAlive time.Duration) {
	flusher, ok := rw.(http.Flusher)
	if !ok {
		http.Error(rw, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	updates, cancel := w.Subscribe()
	defer cancel()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := rw.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		case enc := <-updates:
			// JSON has no raw newlines, so the model is one data line.
			if _, err := rw.Write(append(append([]byte("event: model\ndata: "), enc...), '\n', '\n')); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}
