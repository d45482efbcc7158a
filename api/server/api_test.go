package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// logBuffer collects log output so tests can assert on it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestServer(t testing.TB, b Backend) (*Server, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	return New(b, slog.New(slog.NewTextHandler(lb, nil)), Options{ServerVersion: "test"}), lb
}

func TestRoutes(t *testing.T) {
	s, _ := newTestServer(t, &fakeBackend{})
	h := s.Handler()
	tests := []struct {
		method, path, body string
		code               int
		contains           string // substring of the body
		ctype              string
	}{
		{"GET", "/_ping", "", 200, "OK", "text/plain"},
		{"HEAD", "/_ping", "", 200, "", ""},
		{"GET", "/v1.50/_ping", "", 200, "OK", ""},
		{"GET", "/v1.99/version", "", 400, `"message":"client version 1.99 is too new. Maximum supported API version is 1.51"`, "application/json"},
		{"GET", "/v1.12/version", "", 400, "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version", ""},
		{"GET", "/v1.24/version", "", 200, `"ApiVersion":"1.51"`, "application/json"},
		{"GET", "/version", "", 200, `"Version":"28.2.0"`, ""},
		{"GET", "/v1.51/info", "", 200, `"ID":"fake"`, ""},
		{"GET", "/nope", "", 404, "page not found", "application/json"},
		{"GET", "/v1.50/nope/deeper", "", 404, "page not found", ""},
		{"POST", "/v1.50/containers/c1/json", "", 404, "page not found", ""},
		{"POST", "/build", "", 200, "Step 1/1", "application/json"},
		{"POST", "/networks/create", `{"Name":"n"}`, 201, `"Id":"n1"`, ""},
		{"POST", "/networks/n1/connect", `{"Container":"c1"}`, 200, "", ""},
		{"POST", "/networks/n1/disconnect", `{"Container":"c1"}`, 200, "", ""},
		{"DELETE", "/networks/n1", "", 204, "", ""},
		{"POST", "/networks/prune", "", 200, "", ""},
		{"GET", "/swarm", "", 200, `"ID":"swarm1"`, "application/json"},
		{"GET", "/v1.50/services?filters=%7B%7D", "", 200, `"Name":"web"`, ""},
		{"GET", "/nodes/abc", "", 404, `{"message":"node abc not found"}`, ""},
		{"POST", "/containers/c1/update", "{}", 501, "not implemented by berth", ""},
		{"GET", "/system/df", "", 501, "not implemented", ""},
		// Containers.
		{"POST", "/containers/create?name=x", `{"Image":"busybox"}`, 201, `"Id":"c1","Warnings":[]`, ""},
		{"POST", "/containers/create", `{"Image":"nosuch"}`, 404, `{"message":"No such image: nosuch"}`, ""},
		{"POST", "/containers/create", `{`, 400, "invalid JSON", ""},
		{"GET", "/containers/json?all=1", "", 200, `"Id":"c1"`, ""},
		{"GET", "/containers/json?limit=x", "", 400, "invalid limit", ""},
		{"GET", "/containers/json?filters=%7Bbad", "", 400, "invalid filter", ""},
		{"GET", "/containers/c1/json?size=1", "", 200, `"Id":"c1"`, ""},
		{"GET", "/containers/zz/json", "", 404, `{"message":"No such container: zz"}`, ""},
		{"POST", "/containers/c1/start", "", 204, "", ""},
		{"POST", "/containers/c1/stop?t=3", "", 204, "", ""},
		{"POST", "/containers/c1/stop?t=x", "", 400, "invalid timeout", ""},
		{"POST", "/containers/c1/restart", "", 204, "", ""},
		{"POST", "/containers/c1/kill?signal=KILL", "", 409, `{"message":"container c1 is not running"}`, ""},
		{"POST", "/containers/c1/pause", "", 204, "", ""},
		{"POST", "/containers/c1/unpause", "", 204, "", ""},
		{"POST", "/containers/c1/rename?name=two", "", 204, "", ""},
		{"POST", "/containers/c1/resize?h=10&w=20", "", 200, "", ""},
		{"POST", "/containers/c1/resize?h=x", "", 400, "invalid resize", ""},
		{"POST", "/containers/c1/wait", "", 200, `{"StatusCode":3}`, ""},
		{"POST", "/containers/c1/wait?condition=bogus", "", 400, "invalid condition", ""},
		{"DELETE", "/containers/c1?force=1&v=1", "", 204, "", ""},
		{"DELETE", "/containers/zz", "", 404, "No such container: zz", ""},
		{"GET", "/containers/c1/top", "", 200, `"Titles":["PID","CMD"]`, ""},
		{"GET", "/containers/c1/stats?stream=false", "", 200, `"id":"c1"`, ""},
		{"GET", "/containers/c1/changes", "", 200, `[]`, ""},
		{"GET", "/containers/c1/export", "", 200, "tar", "application/x-tar"},
		{"GET", "/containers/c1/archive?path=/etc", "", 200, "tar", "application/x-tar"},
		{"PUT", "/containers/c1/archive?path=/tmp", "tar", 200, "", ""},
		{"PUT", "/containers/c1/archive", "tar", 400, "no path specified", ""},
		{"GET", "/containers/c1/archive", "", 400, "no path specified", ""},
		{"GET", "/containers/c1/archive?path=", "", 400, "no path specified", ""},
		{"POST", "/containers/prune", "", 200, `"ContainersDeleted"`, ""},
		{"POST", "/containers/c1/exec", `{"Cmd":["sh"]}`, 201, `{"Id":"e1"}`, ""},
		{"POST", "/exec/e1/start", `{"Detach":true}`, 200, "{}", ""},
		{"POST", "/exec/e1/resize?h=1&w=2", "", 200, "", ""},
		{"GET", "/exec/e1/json", "", 200, `"ID":"e1"`, ""},
		{"GET", "/exec/zz/json", "", 404, "No such exec instance: zz", ""},
		// Images.
		{"POST", "/images/create?fromSrc=-&repo=x", "tarbytes", 200, `{"status":"sha256:0123456789abcdef"}`, ""},
		{"POST", "/images/create?fromImage=nosuch&tag=latest", "", 404, "pull access denied for nosuch", ""},
		{"POST", "/images/create?fromImage=busybox&tag=1", "", 200, `"status":"Pulling from library/busybox:1"`, "application/json"},
		{"POST", "/images/create?fromImage=bad%20ref", "", 400, "invalid reference format", ""},
		{"POST", "/images/localhost:5000/app/push?tag=v1", "", 200, `The push refers to repository [localhost:5000/app:v1]`, "application/json"},
		{"POST", "/auth", `{"username":"u","password":"secret","serveraddress":"localhost:5000"}`, 200, `"Status":"Login Succeeded"`, ""},
		{"POST", "/auth", `{"username":"u","password":"wrong"}`, 401, "incorrect username or password", ""},
		{"GET", "/images/search?term=redis&limit=7", "", 200, `[{"star_count":3,"is_official":true,"name":"redis","is_automated":false,"description":"limit 7"}]`, ""},
		{"GET", "/images/search?term=nothing", "", 200, `[]`, ""},
		{"GET", "/images/search?term=x&limit=many", "", 400, "invalid limit", ""},
		{"GET", "/plugins", "", 200, `[]`, ""},
		{"GET", "/plugins/missing/json", "", 404, `plugin \"missing\" not found`, ""},
		{"POST", "/images/create", "", 400, "", ""},
		{"GET", "/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", "", 200, `"RepoTags":["busybox:latest"]`, ""},
		{"GET", "/images/busybox/json", "", 200, `"Id":"sha256:aa"`, ""},
		{"GET", "/images/docker.io/library/busybox:latest/json", "", 200, `"Id":"sha256:aa"`, ""},
		{"GET", "/images/nosuch/json", "", 404, "No such image: nosuch", ""},
		{"GET", "/images/busybox/history", "", 200, "[]", ""},
		{"POST", "/images/busybox/tag?repo=me/x&tag=1", "", 201, "", ""},
		{"POST", "/images/busybox/tag", "", 400, "repo is required", ""},
		{"DELETE", "/images/busybox", "", 200, `"Untagged":"busybox"`, ""},
		{"POST", "/images/prune", "", 200, "", ""},
		{"GET", "/images/get?names=busybox", "", 200, "tar", "application/x-tar"},
		{"GET", "/images/busybox/get", "", 200, "tar", ""},
		{"GET", "/images/get?names=nosuch", "", 404, "No such image: nosuch", ""},
		{"POST", "/images/load?quiet=1", "tar", 200, `{"stream":"Loaded image: busybox:latest\n"}`, ""},
		{"POST", "/commit?container=c1&repo=x", "", 201, `"Id":"sha256:bb"`, ""},
		// Volumes and networks.
		{"POST", "/volumes/create", `{"Name":"v2"}`, 201, `"Name":"v2"`, ""},
		{"GET", "/volumes", "", 200, `"Name":"v1"`, ""},
		{"GET", "/volumes/v1", "", 200, `"Driver":"local"`, ""},
		{"GET", "/volumes/v9", "", 404, "no such volume", ""},
		{"DELETE", "/volumes/v1?force=1", "", 204, "", ""},
		{"POST", "/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D", "", 200, "", ""},
		{"GET", "/networks", "", 200, "[]", ""},
		{"GET", "/networks/x", "", 404, "not found", ""},
		// Events (finite: until in the past).
		{"GET", "/events?until=1", "", 200, `"Action":"start"`, "application/json"},
		{"GET", "/events?until=1&filters=%7B%22type%22%3A%5B%22container%22%5D%7D", "", 200, `"Action":"start"`, "application/json"},
		{"GET", "/events?until=1&filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", "", 400, "invalid filter 'bogus'", ""},
		{"GET", "/events?until=1&filters=%7B%22type%22%3A%5B%22x%22%5D%7D", "", 400, "invalid filter 'type=x'", ""},
		{"GET", "/events?until=garbage", "", 400, `failed to parse value as time or duration: \"garbage\"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.code, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tt.contains)
			}
			if tt.ctype != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if rec.Header().Get("Api-Version") != APIVersion || rec.Header().Get("Ostype") != "linux" || !strings.HasPrefix(rec.Header().Get("Server"), "berth/") {
				t.Errorf("common headers missing: %v", rec.Header())
			}
			if rec.Code >= 400 {
				var e struct{ Message string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" {
					t.Errorf("error body %q is not {\"message\": ...}", rec.Body.String())
				}
			}
		})
	}
}

func TestPingHeaders(t *testing.T) {
	s, _ := newTestServer(t, &fakeBackend{})
	for _, m := range []string{"GET", "HEAD"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(m, "/_ping", nil))
		want := map[string]string{
			"API-Version": APIVersion, "Docker-Experimental": "false", "Ostype": "linux", "Builder-Version": "1",
			"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", m, k, got, v)
			}
		}
	}
}

func TestArchiveStatHeader(t *testing.T) {
	s, _ := newTestServer(t, &fakeBackend{})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("HEAD", "/containers/c1/archive?path=", nil))
	if rec.Code != 400 || rec.Header().Get("X-Docker-Container-Path-Stat") != "" {
		t.Fatalf("HEAD with an empty path: status %d, stat %q", rec.Code, rec.Header().Get("X-Docker-Container-Path-Stat"))
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("HEAD", "/containers/c1/archive?path=/etc", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	raw, err := base64.StdEncoding.DecodeString(rec.Header().Get("X-Docker-Container-Path-Stat"))
	if err != nil {
		t.Fatal(err)
	}
	var st container.PathStat
	if err := json.Unmarshal(raw, &st); err != nil || st.Name != "etc" || st.Size != 4096 || !st.Mode.IsDir() {
		t.Fatalf("path stat %s → %+v, %v", raw, st, err)
	}
}

func TestParseFilters(t *testing.T) {
	tests := []struct {
		raw     string
		want    Filters
		wantErr bool
	}{
		{"", Filters{}, false},
		{`{"label":{"a=b":true,"c":false}}`, Filters{"label": {"a=b": true}}, false},
		{`{"label":["a=b","c"],"status":["exited"]}`, Filters{"label": {"a=b": true, "c": true}, "status": {"exited": true}}, false},
		{`{"label":"x"}`, nil, true},
		{`{bad`, nil, true},
		{`[]`, nil, true},
	}
	for _, tt := range tests {
		got, err := parseFilters(tt.raw)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%q: err %v", tt.raw, err)
		}
		if err != nil {
			if statusCode(err) != 400 || !strings.Contains(err.Error(), "invalid filter") {
				t.Errorf("%q: error %v (status %d)", tt.raw, err, statusCode(err))
			}
			continue
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%q: got %v want %v", tt.raw, got, tt.want)
		}
		for k, vs := range tt.want {
			for v := range vs {
				if !got[k][v] {
					t.Errorf("%q: missing %s=%s in %v", tt.raw, k, v, got)
				}
			}
			if len(got[k]) != len(vs) {
				t.Errorf("%q: %s: got %v want %v", tt.raw, k, got[k], vs)
			}
		}
	}
}

func TestFiltersReachBackend(t *testing.T) {
	fb := &fakeBackend{}
	s, _ := newTestServer(t, fb)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", `/containers/json?filters=`+`%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D`, nil))
	if rec.Code != 200 || !fb.lastFilters["label"]["a=b"] {
		t.Fatalf("status %d filters %v", rec.Code, fb.lastFilters)
	}
}

func TestPanicBecomes500(t *testing.T) {
	fb := &fakeBackend{panicOn: "ContainerInspect"}
	s, logs := newTestServer(t, fb)
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/containers/c1/json", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") {
		t.Fatalf("status %d body %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "panic in API handler") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("panic not logged with a stack: %s", logs.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/_ping", nil))
	if rec.Code != 200 {
		t.Fatalf("server stopped serving after a panic: %d", rec.Code)
	}
}

// startUnix serves s on a unix socket in a temp dir and returns a client.
func startUnix(t *testing.T, s *Server) (string, *client.Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "api.sock")
	l, err := ListenUnix(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	cli, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return sock, cli
}

func TestListenUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a", "b.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sock, nil, 0o666); err != nil { // stale file
		t.Fatal(err)
	}
	l, err := ListenUnix(sock, os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	if _, err := ListenUnix(sock, -1); err == nil {
		t.Fatal("second listener on a live socket succeeded")
	}
}

func TestHijackAttach(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	ctx := context.Background()
	res, err := cli.ContainerAttach(ctx, "c1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if mt, ok := res.MediaType(); !ok || mt != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("media type %q %v", mt, ok)
	}
	if _, err := io.WriteString(res.Conn, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if err := res.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, res.Reader); err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO\n" || errb.String() != "bye\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestHijackAttachTTY(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	res, err := cli.ContainerAttach(context.Background(), "t1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if mt, _ := res.MediaType(); mt != "application/vnd.docker.raw-stream" {
		t.Errorf("media type %q", mt)
	}
	_, _ = io.WriteString(res.Conn, "abc")
	_ = res.CloseWrite()
	b, err := io.ReadAll(res.Reader)
	if err != nil || string(b) != "ABC" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func TestHijackAttachMissing(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	// The client reports only the status of a refused upgrade.
	_, err := cli.ContainerAttach(context.Background(), "zz", client.ContainerAttachOptions{Stream: true, Stdout: true})
	if err == nil || !strings.Contains(err.Error(), "received 404") {
		t.Fatalf("err %v", err)
	}
}

func TestHijackExec(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	ctx := context.Background()
	for _, tty := range []bool{false, true} {
		cr, err := cli.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true, AttachStderr: true, TTY: tty})
		if err != nil {
			t.Fatal(err)
		}
		res, err := cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{TTY: tty})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(res.Conn, "ping")
		if err := res.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if tty {
			_, err = io.Copy(&out, res.Reader)
		} else {
			_, err = stdcopy.StdCopy(&out, &errb, res.Reader)
		}
		res.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := "PINGbye\n"
		if !tty {
			want = "PING"
			if errb.String() != "bye\n" {
				t.Errorf("stderr %q", errb.String())
			}
		}
		if out.String() != want {
			t.Errorf("tty=%v: stdout %q want %q", tty, out.String(), want)
		}
	}
	cr, err := cli.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ExecStart(ctx, cr.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitFlushesHeaders(t *testing.T) {
	fb := &fakeBackend{waitC: make(chan container.WaitResponse, 1)}
	_, cli := startUnix(t, newServerWith(t, fb))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	// ContainerWait returns once the response headers arrived; the backend
	// has not answered yet, so it must not block.
	res := cli.ContainerWait(ctx, "c1", client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if time.Since(start) > 5*time.Second {
		t.Fatal("wait headers were not flushed early")
	}
	select {
	case r := <-res.Result:
		t.Fatalf("result %v before the container exited", r)
	case err := <-res.Error:
		t.Fatal(err)
	case <-time.After(100 * time.Millisecond):
	}
	fb.waitC <- container.WaitResponse{StatusCode: 7}
	select {
	case r := <-res.Result:
		if r.StatusCode != 7 {
			t.Fatalf("status %d", r.StatusCode)
		}
	case err := <-res.Error:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no wait result")
	}
}

func TestLogsMultiplexed(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	rc, err := cli.ContainerLogs(context.Background(), "c1", client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		t.Fatal(err)
	}
	if out.String() != "2024-01-02T03:04:05.000000006Z out line\n" || errb.String() != "2024-01-02T03:04:05.000000006Z err line\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	// With a tty the stream is raw.
	rc2, err := cli.ContainerLogs(context.Background(), "t1", client.ContainerLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	b, _ := io.ReadAll(rc2)
	if string(b) != "out line\n" {
		t.Fatalf("tty logs %q", b)
	}
}

func TestClientBasics(t *testing.T) {
	_, cli := startUnix(t, newServerOnly(t))
	ctx := context.Background()
	p, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil || p.APIVersion != APIVersion || p.OSType != "linux" {
		t.Fatalf("ping %+v %v", p, err)
	}
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	_, err = cli.ContainerInspect(ctx, "zz", client.ContainerInspectOptions{})
	if err == nil || !strings.Contains(err.Error(), "No such container: zz") {
		t.Fatalf("inspect missing: %v", err)
	}
}

func TestShutdownClosesHijacked(t *testing.T) {
	blockIn := &blockingBackend{fakeBackend: &fakeBackend{}, entered: make(chan struct{})}
	s, _ := newTestServer(t, blockIn)
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := ListenUnix(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	cli, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerAttach(context.Background(), "c1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	<-blockIn.entered
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// The hijacked stream ends.
	rd := make(chan error, 1)
	go func() { _, err := io.ReadAll(res.Reader); rd <- err }()
	select {
	case <-rd:
	case <-time.After(5 * time.Second):
		t.Fatal("hijacked connection still open after shutdown")
	}
}

// blockingBackend's attach reads stdin until the connection dies.
type blockingBackend struct {
	*fakeBackend
	entered chan struct{}
}

func (b *blockingBackend) ContainerAttach(ctx context.Context, name string, opts AttachOptions) error {
	close(b.entered)
	_, err := io.Copy(io.Discard, opts.Stdin)
	return err
}

func newServerOnly(t *testing.T) *Server { return newServerWith(t, &fakeBackend{}) }

func newServerWith(t *testing.T, b Backend) *Server {
	s, _ := newTestServer(t, b)
	return s
}

// TestDockerCLI runs the real docker CLI against the server: version
// negotiation, a container listing and multiplexed logs.
func TestDockerCLI(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed")
	}
	sock, _ := startUnix(t, newServerOnly(t))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.Version}}")
	if !strings.Contains(out, "1.51") || !strings.Contains(out, "28.2.0") {
		t.Errorf("docker version: %q", out)
	}
	out = run("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}}")
	if strings.TrimSpace(out) != "c1 one busybox" {
		t.Errorf("docker ps: %q", out)
	}
	// docker run: create, hijacked attach, wait (next-exit), start; the
	// fake's attach writes "bye" on stderr and the wait reports status 3.
	cmd := exec.Command(docker, "run", "--rm=false", "busybox", "true")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(b), "bye") {
		t.Errorf("docker run: %v\n%s", err, b)
	}
	out = run("exec", "c1", "true")
	if out != "no stdin\nbye\n" {
		t.Errorf("docker exec: %q", out)
	}
	cmd = exec.Command(docker, "import", "-", "me/imported")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
	cmd.Stdin = strings.NewReader("not really a tar")
	if b, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "sha256:0123456789abcdef" {
		t.Errorf("docker import: %v %q", err, b)
	}
	if out := run("volume", "ls", "-q"); strings.TrimSpace(out) != "v1" {
		t.Errorf("docker volume ls: %q", out)
	}
	out = run("logs", "c1")
	if !strings.Contains(out, "out line") || !strings.Contains(out, "err line") {
		t.Errorf("docker logs: %q", out)
	}
}

// TestDockerPy drives the server with docker-py (7.1): listing, logs and
// exec_run, which hijacks the connection through its own code.
func TestDockerPy(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("docker-py not installed")
	}
	sock, _ := startUnix(t, newServerOnly(t))
	script := `
import docker, sys
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto", timeout=20)
assert c.ping()
cs = c.containers.list(all=True)
assert [x.id for x in cs] == ["c1"], cs
ct = c.containers.get("c1")
logs = ct.logs(stdout=True, stderr=True)
assert b"out line" in logs and b"err line" in logs, logs
assert ct.attach(stdout=True, stderr=True, logs=True) == b"bye\n"
assert [v.name for v in c.volumes.list()] == ["v1"]
assert c.images.list()[0].tags == ["busybox:latest"]
assert c.containers.get("c1").wait()["StatusCode"] == 3
r = ct.exec_run(["true"])
assert r.output == b"no stdin\nbye\n", r
try:
    c.containers.get("zz")
    raise SystemExit("no error for a missing container")
except docker.errors.NotFound as e:
    assert "No such container: zz" in str(e), e
print("ok")
`
	out, err := exec.Command("python3", "-c", script, sock).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
}

// TestLogsWithoutTTYCallback: a backend that writes before reporting the
// tty still yields a multiplexed stream, not a crash.
func TestLogsWithoutTTYCallback(t *testing.T) {
	s, _ := newTestServer(t, &sloppyLogs{&fakeBackend{}})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/containers/c1/logs?stdout=1", nil))
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rec.Body); err != nil || out.String() != "x\n" {
		t.Fatalf("status %d out %q err %v", rec.Code, out.String(), err)
	}
}

type sloppyLogs struct{ *fakeBackend }

func (sloppyLogs) ContainerLogs(ctx context.Context, name string, opts LogsOptions, tty func(bool), write func(string, []byte, time.Time) error) error {
	return write("stdout", []byte("x\n"), time.Now())
}

// TestShutdownEndsStreams: cancelling Serve's context ends a live events
// stream instead of waiting for the shutdown timeout.
func TestShutdownEndsStreams(t *testing.T) {
	s, _ := newTestServer(t, &liveEvents{&fakeBackend{}})
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := ListenUnix(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	cli, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res := cli.Events(context.Background(), client.EventsListOptions{})
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with a live events stream", d)
	}
	select {
	case <-res.Err:
	case <-time.After(5 * time.Second):
		t.Error("events stream did not end")
	}
}

type liveEvents struct{ *fakeBackend }

func (liveEvents) SubscribeEvents(ctx context.Context, since, until time.Time, f Filters, live bool) ([]events.Message, <-chan events.Message, func()) {
	return nil, make(chan events.Message), func() {}
}

// FuzzRequests throws random requests at the router with the recover
// middleware left out, so any panic in routing or a handler fails.
func FuzzRequests(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/v1.50/containers/json?filters=%7B%22a%22%3A%5B%22b%22%5D%7D", ""},
		{"POST", "/containers/create?name=x", `{"Image":"busybox","HostConfig":{}}`},
		{"POST", "/v1.12/images/busybox/tag?repo=a", ""},
		{"GET", "/images/a/b/c/json", ""},
		{"POST", "/exec/e1/start", `{"Detach":true}`},
		{"POST", "/commit?container=c1", `{"Cmd":["x"]}`},
		{"GET", "/containers/c1/logs?tail=x&since=1.5", ""},
		{"GET", "/events?until=1&filters=%5B%5D", ""},
		{"DELETE", "/v1.999999999999999999999/x", ""},
		// Swarm mode.
		{"POST", "/v1.38/swarm/init", `{"DefaultAddrPool":["10.0.0.0/8"],"SubnetSize":24}`},
		{"POST", "/swarm/update?version=1&rotateWorkerToken=x", `{"Name":"default"}`},
		{"POST", "/nodes/n1/update?version=18446744073709551616", `{"Role":"worker"}`},
		{"GET", "/services?status=1&filters=%7B%22name%22%3A%5B%22web%22%5D%7D", ""},
		{"POST", "/v1.39/services/create", `{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Privileges":{"CredentialSpec":{"Config":"c"}},"Configs":[null,{"Runtime":{}}]},"Resources":{"Limits":{"Pids":1}}},"Mode":{"GlobalJob":{}}}`},
		{"POST", "/v1.43/services/s1/update?version=4", `{"TaskTemplate":{"ContainerSpec":{"Healthcheck":{},"Privileges":{},"Mounts":[{"TmpfsOptions":{"Options":[["a"]]}}]}}}`},
		{"GET", "/services/s1/logs?stdout=1&stderr=1&details=1&timestamps=1&tail=3&since=1.5", ""},
		{"GET", "/tasks/tktty/logs?stdout=1&follow=1", ""},
		{"POST", "/v1.36/secrets/create", `{"Templating":{"Name":"golang"}}`},
		{"POST", "/configs/cfg1/update?version=", ""},
		{"DELETE", "/secrets/sec1", ""},
		{"GET", "/swarm/unlockkey", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	s, _ := newTestServer(f, &fakeBackend{})
	h := s.versionMW(s.mux) // no recoverMW
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://berth"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		// Hijacking routes need a real connection; the recorder refuses
		// to hijack, which must surface as an error, not a panic. Live
		// event streams end with the context.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.ServeHTTP(httptest.NewRecorder(), req.WithContext(ctx))
	})
}

// readyBackend's attach registers (calls Ready) only when released.
type readyBackend struct {
	*fakeBackend
	release chan struct{}
}

func (b *readyBackend) ContainerAttach(ctx context.Context, name string, opts AttachOptions) error {
	<-b.release
	if err := opts.Ready(); err != nil {
		return err
	}
	_, err := io.WriteString(opts.Stderr, "bye\n")
	return err
}

// TestAttachAnsweredWhenRegistered: the upgrade of an attach is answered
// only once the backend has registered the session. Clients send start
// as soon as their attach is answered; answering earlier let a start
// overtake the attach, and `docker run` then waited forever.
func TestAttachAnsweredWhenRegistered(t *testing.T) {
	b := &readyBackend{fakeBackend: &fakeBackend{}, release: make(chan struct{})}
	sock, _ := startUnix(t, newServerWith(t, b))
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /v1.51/containers/c1/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf := make([]byte, 256)
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := conn.Read(buf); err == nil || n > 0 {
		t.Fatalf("the attach was answered before the backend registered it: %q", buf[:n])
	}
	close(b.release)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(got), "HTTP/1.1 101 UPGRADED") || !strings.Contains(string(got), "bye") {
		t.Errorf("attach answer: %q", got)
	}
}

// TestAttachErrorBeforeReadyIsHTTP: an attach the backend refuses before
// registering it gets an ordinary HTTP error, not an upgraded stream.
func TestAttachErrorBeforeReadyIsHTTP(t *testing.T) {
	sock, _ := startUnix(t, newServerWith(t, &fakeBackend{}))
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /v1.51/containers/missing/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 404") {
		t.Errorf("attach to a missing container: %q", buf[:n])
	}
}
