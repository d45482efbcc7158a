package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
)

// fakeDaemon serves a few Engine API endpoints on a unix socket.
type fakeDaemon struct {
	mu      sync.Mutex
	images  map[string]bool
	created []string
	pulled  []string
	host    string
	started chan struct{}
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{images: map[string]bool{}, started: make(chan struct{})}
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	errJSON := func(w http.ResponseWriter, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.51")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if i := strings.Index(p[1:], "/"); strings.HasPrefix(p, "/v1.") && i > 0 {
			p = p[i+1:]
		}
		switch {
		case strings.HasSuffix(p, "/attach"):
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			conn.Write([]byte("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"))
			<-d.started
			conn.Write(frame(stdcopy.Stdout, []byte("out line\n")))
			conn.Write(frame(stdcopy.Stderr, []byte("err line\n")))
			return
		case strings.HasSuffix(p, "/wait"):
			// Like the real daemon: headers first, the result when it exits.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-d.started
			_ = json.NewEncoder(w).Encode(map[string]any{"StatusCode": 3})
			return
		case strings.HasSuffix(p, "/start"):
			select {
			case <-d.started:
			default:
				close(d.started)
			}
			w.WriteHeader(204)
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		switch {
		case p == "/containers/json":
			_ = json.NewEncoder(w).Encode([]container.Summary{{ID: strings.Repeat("ab", 32), Names: []string{"/x"}, Image: "busybox", Command: "sh", Status: "Up 1 second", State: "running"}})
		case p == "/containers/create":
			var cfg container.Config
			_ = json.NewDecoder(r.Body).Decode(&cfg)
			if !d.images[cfg.Image] {
				errJSON(w, 404, "No such image: "+cfg.Image)
				return
			}
			d.created = append(d.created, cfg.Image)
			w.WriteHeader(201)
			_ = json.NewEncoder(w).Encode(map[string]any{"Id": strings.Repeat("c", 64), "Warnings": []string{}})
		case p == "/images/create":
			from := r.URL.Query().Get("fromImage")
			ref := from[strings.LastIndex(from, "/")+1:] + ":" + r.URL.Query().Get("tag")
			d.pulled = append(d.pulled, ref)
			if strings.HasPrefix(ref, "missing") {
				errJSON(w, 404, "pull access denied for missing, repository does not exist")
				return
			}
			d.images[strings.TrimSuffix(ref, ":latest")] = true
			w.Write([]byte(`{"status":"Pulling from library/busybox","id":"latest"}` + "\n"))
		case strings.HasPrefix(p, "/containers/") && r.Method == http.MethodDelete:
			errJSON(w, 404, "No such container: "+strings.TrimPrefix(p, "/containers/"))
		default:
			errJSON(w, 404, "page not found: "+p)
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	d.host = "unix://" + sock
	return d
}

func TestAgainstFakeDaemon(t *testing.T) {
	d := newFakeDaemon(t)

	a, out, errOut := testApp()
	if code := mainWith(a, []string{"-H", d.host, "ps", "--format", "{{.ID}} {{.Names}} {{.Command}}"}); code != 0 {
		t.Fatalf("ps: %d %s", code, errOut)
	}
	if out.String() != "abababababab x \"sh\"\n" {
		t.Errorf("ps = %q", out.String())
	}

	a, out, errOut = testApp()
	if code := mainWith(a, []string{"-H", d.host, "run", "-d", "busybox"}); code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	if out.String() != strings.Repeat("c", 64)+"\n" {
		t.Errorf("run -d stdout = %q", out.String())
	}
	if !strings.HasPrefix(errOut.String(), "Unable to find image 'busybox:latest' locally\n") {
		t.Errorf("run -d stderr = %q", errOut.String())
	}
	if len(d.pulled) != 1 || len(d.created) != 1 {
		t.Errorf("pulled %v created %v", d.pulled, d.created)
	}

	a, _, errOut = testApp()
	if code := mainWith(a, []string{"-H", d.host, "create", "missing"}); code != 125 {
		t.Errorf("create missing: code %d", code)
	}
	if !strings.Contains(errOut.String(), "berth: Error response from daemon: pull access denied") {
		t.Errorf("create missing stderr = %q", errOut.String())
	}

	a, _, errOut = testApp()
	if code := mainWith(a, []string{"-H", d.host, "rm", "nope"}); code != 1 {
		t.Errorf("rm: code %d", code)
	}
	if errOut.String() != "Error response from daemon: No such container: nope\n" {
		t.Errorf("rm stderr = %q", errOut.String())
	}
}

func TestRunAttachedExitCode(t *testing.T) {
	d := newFakeDaemon(t)
	d.images["busybox"] = true
	a, out, errOut := testApp()
	if code := mainWith(a, []string{"-H", d.host, "run", "--rm", "busybox", "sh", "-c", "exit 3"}); code != 3 {
		t.Fatalf("code = %d, stderr %q", code, errOut.String())
	}
	if out.String() != "out line\n" || errOut.String() != "err line\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}
