package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

func start(t *testing.T, o Options) string {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	o.Log = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, o, func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve returned %v after shutdown", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return addr
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htp := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htp, []byte(fmt.Sprintf("u:%s\n", h)), 0o600); err != nil {
		t.Fatal(err)
	}
	open := start(t, Options{Root: filepath.Join(dir, "open")})
	locked := start(t, Options{Root: filepath.Join(dir, "locked"), Htpasswd: htp})
	tests := []struct {
		addr, user, pass string
		want             int
	}{
		{open, "", "", 200},
		{locked, "", "", 401},
		{locked, "u", "nope", 401},
		{locked, "u", "pw", 200},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", "http://"+tt.addr+"/v2/", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /v2/ on %s as %q: %d, want %d", tt.addr, tt.user, resp.StatusCode, tt.want)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{Root: t.TempDir(), TLSCert: "c.pem"},
		{Root: t.TempDir(), Htpasswd: "/nonexistent/htpasswd"},
	} {
		if err := Serve(context.Background(), o, nil); err == nil {
			t.Errorf("Serve(%+v) succeeded", o)
		}
	}
}

func TestGC(t *testing.T) {
	root := t.TempDir()
	o := Options{Root: root, Addr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, o, func(a string) { addrc <- a }) }()
	addr := <-addrc
	repo, err := name.NewRepository(addr+"/gc/test", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(512, 2)
	if err := remote.Write(repo.Tag("v1"), img); err != nil {
		t.Fatal(err)
	}
	orphan, _ := random.Layer(512, types.DockerLayer)
	if err := remote.WriteLayer(repo, orphan); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	od, _ := orphan.Digest()
	blob := filepath.Join(root, "docker/registry/v2/blobs/sha256", od.Hex[:2], od.Hex)
	if _, err := os.Stat(blob); err != nil {
		t.Fatalf("orphan blob not stored: %v", err)
	}
	if err := GC(context.Background(), root, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Errorf("gc kept the unreferenced blob (%v)", err)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if _, err := os.Stat(filepath.Join(root, "docker/registry/v2/blobs/sha256", d.Hex[:2], d.Hex)); err != nil {
			t.Errorf("gc removed a referenced layer: %v", err)
		}
	}
}
