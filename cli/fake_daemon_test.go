package cli

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"slices"
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
		case p == "/containers/prune":
			_ = json.NewEncoder(w).Encode(map[string]any{"ContainersDeleted": []string{"c1", "c2"}, "SpaceReclaimed": 1000})
		case p == "/networks/prune":
			_ = json.NewEncoder(w).Encode(map[string]any{"NetworksDeleted": []string{"n1"}})
		case p == "/volumes/prune":
			_ = json.NewEncoder(w).Encode(map[string]any{"VolumesDeleted": []string{"v1"}, "SpaceReclaimed": 3000})
		case p == "/images/prune":
			_ = json.NewEncoder(w).Encode(map[string]any{"ImagesDeleted": []map[string]string{{"Untagged": "a:1"}, {"Deleted": "sha256:ab"}}, "SpaceReclaimed": 2000})
		case p == "/networks/n1":
			_ = json.NewEncoder(w).Encode(map[string]any{"Name": "n1", "Driver": "bridge"})
		case p == "/info":
			_ = json.NewEncoder(w).Encode(map[string]any{"Containers": 2, "ContainersRunning": 1, "ServerVersion": "9.9", "Driver": "overlay2",
				"CgroupVersion": "2", "KernelVersion": "6.1", "MemTotal": 1 << 30, "NCPU": 2})
		case p == "/version":
			_ = json.NewEncoder(w).Encode(map[string]any{"Version": "9.9", "ApiVersion": "1.51", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
				"Platform": map[string]string{"Name": "berth"}, "Components": []map[string]any{{"Name": "containerd", "Version": "1.7", "Details": map[string]string{"GitCommit": "abc"}}}})
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

// frame multiplexes p as the Engine API does for non-tty streams.
func frame(stream stdcopy.StdType, p []byte) []byte {
	h := []byte{byte(stream), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	return append(h, p...)
}

// TestInfoAndVersion pins the plain (no --format) layout of info and version.
func TestInfoAndVersion(t *testing.T) {
	d := newFakeDaemon(t)
	tests := []struct {
		args  []string
		lines []string
	}{
		{[]string{"info"}, []string{"Client:", " Version:    " + Version, "Server:", " Containers: 2", "  Running: 1", " Server Version: 9.9",
			" Storage Driver: overlay2", " Cgroup Version: 2", " Kernel Version: 6.1", " CPUs: 2", " Total Memory: 1GiB"}},
		{[]string{"version"}, []string{"Client:", " Version:       " + Version, "Server: berth", " Engine:", "  Version:        9.9",
			"  API version:    1.51 (minimum version 1.24)", " containerd:", "  Version:     1.7", "  GitCommit:   abc"}},
	}
	for _, tt := range tests {
		a, out, errOut := testApp()
		if code := mainWith(a, append([]string{"-H", d.host}, tt.args...)); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut)
		}
		got := strings.Split(out.String(), "\n")
		for _, want := range tt.lines {
			if !slices.Contains(got, want) {
				t.Errorf("%v: no line %q in\n%s", tt.args, want, out)
			}
		}
	}
}

// TestPruneAndInspect pins the builders' output: prune reports, prompts and
// totals per noun, and inspect's documents and per-name errors.
func TestPruneAndInspect(t *testing.T) {
	d := newFakeDaemon(t)
	const prompt = "\nAre you sure you want to continue? [y/N] "
	tests := []struct {
		stdin          string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"", []string{"container", "prune", "-f"}, 0, "Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 1kB\n", ""},
		{"n\n", []string{"container", "prune"}, 0, "WARNING! This will remove all stopped containers." + prompt, ""},
		{"y\n", []string{"volume", "prune", "-a"}, 0, "WARNING! This will remove all local volumes not used by at least one container." + prompt +
			"Deleted Volumes:\nv1\n\nTotal reclaimed space: 3kB\n", ""},
		{"", []string{"network", "prune", "-f"}, 0, "Deleted Networks:\nn1\n", ""},
		{"", []string{"image", "prune", "-f", "-a"}, 0, "Deleted Images:\nUntagged: a:1\nDeleted: sha256:ab\n\nTotal reclaimed space: 2kB\n", ""},
		{"", []string{"system", "prune", "-f", "--volumes"}, 0, "Deleted Containers:\nc1\nc2\n\nDeleted Volumes:\nv1\n\nTotal reclaimed space: 3kB\n" +
			"Deleted Images:\nUntagged: a:1\nDeleted: sha256:ab\n\nTotal reclaimed space: 2kB\n", ""},
		// A bad --filter fails before the prompt, as docker's flag parsing does.
		{"y\n", []string{"container", "prune", "--filter", "bogus"}, 1, "", "Error: bad format of filter (expected name=value)\n"},
		{"", []string{"inspect", "nope"}, 1, "[]\n", "Error: No such object: nope\n"},
		{"", []string{"inspect", "--type", "bogus", "x"}, 1, "[]\n", "\"bogus\" is not a valid value for --type\n"},
		{"", []string{"network", "inspect", "-f", "{{.Driver}}", "n1", "n2", "n3"}, 1, "bridge\n",
			"Error response from daemon: page not found: /networks/n2\nError response from daemon: page not found: /networks/n3\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, out, errOut := testApp()
			a.In = strings.NewReader(tt.stdin)
			if code := mainWith(a, append([]string{"-H", d.host}, tt.args...)); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if out.String() != tt.stdout || errOut.String() != tt.stderr {
				t.Errorf("stdout %q\nstderr %q\nwant   %q\n       %q", out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}
