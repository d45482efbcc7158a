package registry

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestNewEmptiesTempDir: the downloads of a pull a killed daemon left
// behind are removed by the next daemon.
func TestNewEmptiesTempDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	if _, err := New(Config{TempDir: dir}, discardLog()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("temp dir not created: %v", err)
	}
	for _, name := range []string{PullTempPrefix + "123", PushTempPrefix + "456"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial layer"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{TempDir: dir}, discardLog()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the temp dir: %v", entries)
	}
}

// TestDownloadUsesTempDir: a layer download lives in Config.TempDir, and
// one that fails (a digest mismatch, a cancelled pull) leaves nothing.
func TestDownloadUsesTempDir(t *testing.T) {
	content := []byte(strings.Repeat("layer bytes ", 1000))
	layer := static.NewLayer(content, types.DockerLayer)
	good, err := layer.Digest()
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := v1.NewHash("sha256:" + strings.Repeat("0", 64))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		want    v1.Hash
		wantErr bool
	}{
		{"complete", context.Background(), good, false},
		{"digest mismatch", context.Background(), bad, true},
		{"cancelled", cancelled, good, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tmp")
			c, err := New(Config{TempDir: dir}, discardLog())
			if err != nil {
				t.Fatal(err)
			}
			path, err := c.download(tt.ctx, layer, tt.want, "abc", func(Progress) {})
			if (err != nil) != tt.wantErr {
				t.Fatalf("download: %q, %v", path, err)
			}
			entries, _ := os.ReadDir(dir)
			if tt.wantErr {
				if len(entries) != 0 {
					t.Errorf("a failed download left %v", entries)
				}
				return
			}
			if filepath.Dir(path) != dir || !strings.HasPrefix(filepath.Base(path), PullTempPrefix) {
				t.Errorf("downloaded to %s, want a %s* file in %s", path, PullTempPrefix, dir)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != string(content) {
				t.Errorf("downloaded content: %v", err)
			}
		})
	}
}
