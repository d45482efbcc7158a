package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/snapshot"
)

type noRunner struct{}

func (noRunner) RunContainer(context.Context, RunRequest) (int, error) {
	return 0, fmt.Errorf("this test runs no RUN step")
}
func (noRunner) Pull(context.Context, string, func(string)) error {
	return fmt.Errorf("this test pulls nothing")
}

type textOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *textOutput) Stream(s string) { o.mu.Lock(); o.b.WriteString(s); o.mu.Unlock() }
func (o *textOutput) Aux(string)      {}

func newTestBuilder(t *testing.T) *Builder {
	t.Helper()
	root := t.TempDir()
	db, err := bolt.Open(filepath.Join(root, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	snaps, err := snapshot.New(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	images, err := image.New(root, db, snaps, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(filepath.Join(root, "build"), db, images, snaps, noRunner{}, log)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contextTar(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// Stages are built concurrently, and each expands its words ($VAR) at
// the same time as the others: their expansions must not mix (a shared
// shell.Lex once turned a FROM's image name into garbage). Run with
// -race to see any sharing.
func TestConcurrentStagesExpandTheirOwnWords(t *testing.T) {
	b := newTestBuilder(t)
	var df strings.Builder
	const stages = 12
	for i := 0; i < stages; i++ {
		fmt.Fprintf(&df, "FROM scratch AS s%d\nARG V=value-of-stage-%d\n", i, i)
		for j := 0; j < 20; j++ {
			fmt.Fprintf(&df, "ENV A%d=${V}-%d B%d=\"$V\"\n", j, j, j)
		}
		fmt.Fprintf(&df, "LABEL stage=${V}\n")
	}
	fmt.Fprintf(&df, "FROM s%d\nLABEL last=yes\n", stages-1)
	out := &textOutput{}
	id, err := b.Build(context.Background(), contextTar(t, map[string]string{"Dockerfile": df.String()}), Options{Tags: []string{"lex:test"}}, out)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out.b.String())
	}
	img, err := b.images.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("value-of-stage-%d", stages-1)
	if got := img.Config.Config.Labels["stage"]; got != want {
		t.Errorf("label stage = %q, want %q", got, want)
	}
	env := strings.Join(img.Config.Config.Env, " ")
	if !strings.Contains(env, "A19="+want+"-19") || !strings.Contains(env, "B0="+want) {
		t.Errorf("env = %s", env)
	}
}
