package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/daemon/snapshot"
)

func newStore(t *testing.T) *Store { return newStoreTB(t) }

func newStoreTB(t testing.TB) *Store {
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
	s, err := New(root, db, snaps, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rootfsTar(t testing.TB, files map[string]string) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	return &buf
}

func TestImportGetTagDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img, err := s.Import(ctx, rootfsTar(t, map[string]string{"etc/hostname": "x\n"}), ImportOptions{Ref: "busybox", Changes: []string{"ENV A=1", `CMD ["sh"]`, "EXPOSE 80", "WORKDIR /app"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", img.ID.String(), img.ID.Encoded()[:12], img.ID.Encoded()[:3]} {
		got, err := s.Get(ctx, ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("Get(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := s.Get(ctx, "nosuch"); !errdefs.IsNotFound(err) || err.Error() != "No such image: nosuch" {
		t.Errorf("Get(nosuch) error = %v", err)
	}
	cfg := img.Config.Config
	if len(cfg.Env) != 1 || cfg.Env[0] != "A=1" || cfg.Cmd[0] != "sh" || cfg.WorkingDir != "/app" {
		t.Errorf("changes not applied: %+v", cfg)
	}
	if _, ok := cfg.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("EXPOSE 80 missing: %v", cfg.ExposedPorts)
	}
	if err := s.Tag(ctx, img.ID, "localhost:5000/me/bb:v1"); err != nil {
		t.Fatal(err)
	}
	img, _ = s.Get(ctx, "busybox")
	if strings.Join(img.RepoTags, ",") != "busybox:latest,localhost:5000/me/bb:v1" {
		t.Errorf("RepoTags = %v", img.RepoTags)
	}
	noUse := func(digest.Digest) (string, bool) { return "", false }
	if _, err := s.Delete(ctx, img.ID.Encoded()[:12], false, false, noUse); !errdefs.IsConflict(err) {
		t.Errorf("delete by ID with two tags: %v", err)
	}
	resp, err := s.Delete(ctx, "localhost:5000/me/bb:v1", false, false, noUse)
	if err != nil || len(resp) != 1 || resp[0].Untagged == "" {
		t.Fatalf("untag: %+v %v", resp, err)
	}
	inUse := func(digest.Digest) (string, bool) { return strings.Repeat("c", 64), true }
	if _, err := s.Delete(ctx, img.ID.String(), true, false, inUse); !errdefs.IsConflict(err) || err.Error() != "conflict: unable to delete "+img.ID.Encoded()[:12]+" (cannot be forced) - image is being used by running container cccccccccccc" {
		t.Errorf("delete of an image a running container uses: %v", err)
	}
	resp, err = s.Delete(ctx, "busybox", false, false, noUse)
	if err != nil || len(resp) != 3 || resp[1].Deleted != img.ID.String() || resp[2].Deleted != img.ChainID.String() {
		t.Fatalf("delete: %+v %v", resp, err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("images left: %d", len(list))
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := newStore(t)
	img, err := a.Import(ctx, rootfsTar(t, map[string]string{"hello": "world"}), ImportOptions{Ref: "hello:v1"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.Save(ctx, []string{"hello:v1"}, &buf); err != nil {
		t.Fatal(err)
	}
	b := newStore(t)
	var lines []string
	if err := b.Load(ctx, &buf, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "hello:v1")
	if err != nil || got.ID != img.ID {
		t.Fatalf("loaded %v, %v; want ID %s", got, err, img.ID)
	}
	if len(lines) != 1 || lines[0] != "Loaded image: hello:v1" {
		t.Errorf("load printed %q", lines)
	}
}

func TestLoadRejectsTamperedLayer(t *testing.T) {
	ctx := context.Background()
	a := newStore(t)
	if _, err := a.Import(ctx, rootfsTar(t, map[string]string{"hello": "world"}), ImportOptions{Ref: "hello:v1"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.Save(ctx, []string{"hello:v1"}, &buf); err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(buf.Bytes(), []byte("world"), []byte("WORLD"), 1)
	b := newStore(t)
	err := b.Load(ctx, bytes.NewReader(tampered), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("load of a tampered layer: %v", err)
	}
	if list, _ := b.List(ctx); len(list) != 0 {
		t.Errorf("a partial image was stored")
	}
}

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		change string
		check  func(c dockerspec.DockerOCIImageConfig) bool
		err    bool
	}{
		{`ENV PATH=/bin FOO="a b"`, func(c dockerspec.DockerOCIImageConfig) bool { return len(c.Env) == 2 && c.Env[1] == "FOO=a b" }, false},
		{`ENV LEGACY value with spaces`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Env[1] == "LEGACY=value with spaces" }, false},
		{`CMD echo hi`, func(c dockerspec.DockerOCIImageConfig) bool { return strings.Join(c.Cmd, "|") == "/bin/sh|-c|echo hi" }, false},
		{`ENTRYPOINT ["/bin/app","-v"]`, func(c dockerspec.DockerOCIImageConfig) bool { return len(c.Entrypoint) == 2 }, false},
		{`LABEL a=b c="d e"`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Labels["c"] == "d e" }, false},
		{`USER 1000:1000`, func(c dockerspec.DockerOCIImageConfig) bool { return c.User == "1000:1000" }, false},
		{`VOLUME /data`, func(c dockerspec.DockerOCIImageConfig) bool { _, ok := c.Volumes["/data"]; return ok }, false},
		{`EXPOSE 53/udp 8080`, func(c dockerspec.DockerOCIImageConfig) bool { return len(c.ExposedPorts) == 2 }, false},
		{`EXPOSE 8000-8002/udp`, func(c dockerspec.DockerOCIImageConfig) bool {
			_, ok := c.ExposedPorts["8001/udp"]
			return len(c.ExposedPorts) == 3 && ok
		}, false},
		{`ENV PATH=/app:$PATH`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Env[0] == "PATH=/app:/usr/bin" }, false},
		{`ENV B=${UNSET:-dflt} C=\$X`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Env[1] == "B=dflt" && c.Env[2] == "C=$X" }, false},
		{`WORKDIR rel/../app`, func(c dockerspec.DockerOCIImageConfig) bool { return c.WorkingDir == "/base/app" }, false},
		{`ENTRYPOINT /bin/app`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Cmd == nil && len(c.Entrypoint) == 3 }, false},
		{`HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost`, func(c dockerspec.DockerOCIImageConfig) bool {
			h := c.Healthcheck
			return h != nil && h.Retries == 2 && h.Interval.Seconds() == 5 && strings.Join(h.Test, "|") == "CMD-SHELL|wget -q localhost"
		}, false},
		{`HEALTHCHECK NONE`, func(c dockerspec.DockerOCIImageConfig) bool { return c.Healthcheck.Test[0] == "NONE" }, false},
		{`ONBUILD RUN make`, func(c dockerspec.DockerOCIImageConfig) bool { return c.OnBuild[0] == "RUN make" }, false},
		{`STOPSIGNAL SIGTERM`, func(c dockerspec.DockerOCIImageConfig) bool { return c.StopSignal == "SIGTERM" }, false},
		{`ONBUILD ONBUILD RUN x`, nil, true},
		{`HEALTHCHECK --bogus=1 CMD x`, nil, true},
		{`EXPOSE abc`, nil, true},
		{`EXPOSE 80/icmp`, nil, true},
		{`RUN make`, nil, true},
		{`SHELL ["/bin/bash","-c"]`, nil, true},
		{`LABEL novalue`, nil, true},
	}
	for _, tt := range tests {
		var img dockerspec.DockerOCIImage
		img.Config.Env = []string{"PATH=/usr/bin"}
		img.Config.Cmd = []string{"inherited"}
		img.Config.WorkingDir = "/base"
		err := ApplyChanges(&img, []string{tt.change})
		if (err != nil) != tt.err {
			t.Errorf("%q: err = %v", tt.change, err)
			continue
		}
		if err == nil && !tt.check(img.Config) {
			t.Errorf("%q: config %+v", tt.change, img.Config)
		}
	}
}

func FuzzApplyChanges(f *testing.F) {
	for _, s := range []string{`ENV a=b`, `CMD ["x"]`, `LABEL "a b"=c`, `EXPOSE 1-2/tcp`, `WORKDIR rel`, `ENV A=${B:-x} C=$D`, `HEALTHCHECK --interval=1s CMD ["x"]`, `ONBUILD RUN x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, change string) {
		var img dockerspec.DockerOCIImage
		img.Config.Env = []string{"B=1", "D=2"}
		if err := ApplyChanges(&img, []string{change}); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("error of the wrong kind: %v", err)
		}
	})
}
