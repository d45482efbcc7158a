package visualizer

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/cli/command/internal/apitest"
)

func TestVisualizerCommand(t *testing.T) {
	routes := map[string]http.HandlerFunc{
		"GET /info":            apitest.JSON(system.Info{Name: "box", NCPU: 1}),
		"GET /containers/json": apitest.JSON([]container.Summary{}),
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"visualizer", "extra"}, `"berth visualizer" accepts no arguments`},
		{[]string{"visualizer", "--listen", "256.0.0.1:1"}, "listen on 256.0.0.1:1: "},
	} {
		_, c, _, _ := apitest.New(t, "", routes)
		err := apitest.Run(c, NewVisualizerCommand(c), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestServeStops: the server reads the daemon, and returns cleanly when
// its context ends (SIGINT/SIGTERM in the command).
func TestServeStops(t *testing.T) {
	routes := map[string]http.HandlerFunc{
		"GET /info":            apitest.JSON(system.Info{Name: "box", NCPU: 1}),
		"GET /containers/json": apitest.JSON([]container.Summary{}),
	}
	srv, c, _, _ := apitest.New(t, "", routes)
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, api, "127.0.0.1:0") }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := srv.Find("GET /containers/json"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon was never read: %+v", srv.Requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestBuildImage: the image's context is the Dockerfile and the binary,
// sent to /build with the tags; the build's output is printed.
func TestBuildImage(t *testing.T) {
	routes := map[string]http.HandlerFunc{
		"POST /build": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"stream":"Step 1/5 : FROM scratch\n"}` + "\n" + `{"stream":"Successfully tagged berth/visualizer:latest\n"}` + "\n"))
		},
	}
	srv, c, out, _ := apitest.New(t, "", routes)
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), Binary)
	if err := os.WriteFile(bin, []byte("\x7fELF static"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := buildImage(context.Background(), c, api, bin, []string{"viz:1", "viz:latest"}); err != nil {
		t.Fatal(err)
	}
	req, ok := srv.Find("POST /build")
	if !ok {
		t.Fatal("no build")
	}
	q, _ := url.ParseQuery(req.Query)
	if got := q["t"]; len(got) != 2 || got[0] != "viz:1" || got[1] != "viz:latest" {
		t.Errorf("tags %q", got)
	}
	files := map[string]string{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(req.Body))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name], modes[h.Name] = string(b), h.Mode
	}
	if files["Dockerfile"] != Dockerfile || files[Binary] != "\x7fELF static" || modes[Binary] != 0o755 || len(files) != 2 {
		t.Errorf("context: %q", files)
	}
	if !strings.Contains(out.String(), "Successfully tagged berth/visualizer:latest") {
		t.Errorf("output: %q", out.String())
	}
}
