package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
)

// TestCommitWhiteout runs a container-like snapshot over an imported
// image, deletes and adds files through the overlay mount, commits the
// upper dir and checks that the 2-layer result mounts with the deletion.
func TestCommitWhiteout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	ctx := context.Background()
	s := newStore(t)
	base, err := s.Import(ctx, rootfsTar(t, map[string]string{"etc/keep": "k", "etc/gone": "g"}), ImportOptions{Ref: "base"})
	if err != nil {
		t.Fatal(err)
	}
	mount := func(key string, chain digest.Digest) (string, func()) {
		t.Helper()
		if err := s.snaps.Prepare(ctx, key, chain); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "rootfs")
		_ = os.Mkdir(target, 0o755)
		if err := s.snaps.Mount(ctx, key, chain, target); err != nil {
			t.Fatal(err)
		}
		return target, func() {
			if err := s.snaps.Unmount(ctx, target); err != nil {
				t.Error(err)
			}
		}
	}
	root, done := mount("ctr", base.ChainID)
	if err := os.Remove(filepath.Join(root, "etc/gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "added"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	done() // unmounted, as a stopped container; the upper dir stays
	defer s.snaps.Remove(ctx, "ctr")
	diff, err := archive.Tar(ctx, s.snaps.UpperDir("ctr"), archive.TarOptions{OverlayWhiteouts: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := base.Config
	cfg.Config.Cmd = []string{"sh"}
	img, err := s.Commit(ctx, CommitOptions{Parent: base.ID, Diff: diff, Config: cfg, Author: "me", Comment: "c", CreatedBy: "sh", Ref: "committed:v1"})
	diff.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Config.RootFS.DiffIDs) != 2 || img.Parent != base.ID || img.RepoTags[0] != "committed:v1" {
		t.Fatalf("committed image %+v", img)
	}
	// The diff blob carries Docker's whiteout.
	rc, _ := s.ReadBlob(img.Config.RootFS.DiffIDs[1])
	names := tarNames(t, rc)
	if !strings.Contains(names, "etc/.wh.gone") || !strings.Contains(names, "added") {
		t.Errorf("committed layer entries: %s", names)
	}
	root2, done2 := mount("ctr2", img.ChainID)
	defer s.snaps.Remove(ctx, "ctr2")
	defer done2()
	if _, err := os.Stat(filepath.Join(root2, "etc/gone")); !os.IsNotExist(err) {
		t.Errorf("deleted file visible in the committed image: %v", err)
	}
	for f, want := range map[string]string{"etc/keep": "k", "added": "new"} {
		if b, err := os.ReadFile(filepath.Join(root2, f)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", f, b, err)
		}
	}
	hist, err := s.History(ctx, "committed:v1")
	if err != nil || len(hist) != 2 || hist[0].ID != img.ID.String() || hist[0].Comment != "c" || hist[1].Comment != "Imported from -" {
		t.Errorf("history = %+v, %v", hist, err)
	}
	// The parent cannot go while its child exists.
	if _, err := s.Delete(ctx, base.ID.String(), true, false, nil); err == nil || !strings.Contains(err.Error(), "dependent child images") {
		t.Errorf("delete of a parent: %v", err)
	}
	// Untagged, the parent goes with its child.
	if _, err := s.Delete(ctx, "base", false, false, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Delete(ctx, "committed:v1", false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(resp); strings.Count(got, "D ") != 4 {
		t.Errorf("delete with parent pruning = %s", got)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("%d images left", len(list))
	}
}

func tarNames(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	tr := tar.NewReader(r)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ",")
}

// TestSaveIsDockerAndOCI checks the layout of a saved archive.
func TestSaveIsDockerAndOCI(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img, err := s.Import(ctx, rootfsTar(t, map[string]string{"a": "b"}), ImportOptions{Ref: "x/y:z"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Save(ctx, []string{"x/y:z"}, &buf); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var manifest []struct {
		Config           string
		RepoTags, Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %s %v", files["manifest.json"], err)
	}
	if manifest[0].Config != "blobs/sha256/"+img.ID.Encoded() || manifest[0].RepoTags[0] != "x/y:z" || files[manifest[0].Layers[0]] == nil {
		t.Errorf("manifest.json = %+v", manifest)
	}
	var index ocispec.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %s", files["index.json"])
	}
	d := index.Manifests[0]
	if d.Annotations["io.containerd.image.name"] != "docker.io/x/y:z" || d.Annotations[ocispec.AnnotationRefName] != "z" {
		t.Errorf("index annotations %v", d.Annotations)
	}
	mb := files["blobs/sha256/"+d.Digest.Encoded()]
	if digest.FromBytes(mb) != d.Digest {
		t.Fatalf("manifest blob does not match its digest")
	}
	var m ocispec.Manifest
	_ = json.Unmarshal(mb, &m)
	if m.Config.Digest != img.ID || digest.FromBytes(files["blobs/sha256/"+m.Layers[0].Digest.Encoded()]) != m.Layers[0].Digest {
		t.Errorf("OCI manifest %+v", m)
	}
	if !strings.Contains(string(files["oci-layout"]), `"imageLayoutVersion":"1.0.0"`) {
		t.Errorf("oci-layout = %s", files["oci-layout"])
	}
}

// TestLoadLegacyDockerArchive loads the layout docker save wrote before
// version 25: <id>/layer.tar (a shared layer as a symlink), <id>.json
// configs, manifest.json and repositories.
func TestLoadLegacyDockerArchive(t *testing.T) {
	ctx := context.Background()
	layer := rootfsTar(t, map[string]string{"bin/sh": "#!"}).Bytes()
	diffID := digest.FromBytes(layer)
	config := func(env string) []byte {
		cfg := dockerspec.DockerOCIImage{}
		cfg.Architecture, cfg.OS = "amd64", "linux"
		cfg.Config.Env = []string{env}
		cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}
		b, _ := json.Marshal(cfg)
		return b
	}
	c1, c2 := config("A=1"), config("A=2")
	id1, id2 := digest.FromBytes(c1), digest.FromBytes(c2)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h tar.Header, body []byte) {
		h.Size = int64(len(body))
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		h.Mode = 0o644
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	add(tar.Header{Name: "aaaa/", Typeflag: tar.TypeDir}, nil)
	add(tar.Header{Name: "aaaa/VERSION"}, []byte("1.0"))
	add(tar.Header{Name: "aaaa/layer.tar"}, layer)
	add(tar.Header{Name: "bbbb/", Typeflag: tar.TypeDir}, nil)
	add(tar.Header{Name: "bbbb/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../aaaa/layer.tar"}, nil)
	add(tar.Header{Name: id1.Encoded() + ".json"}, c1)
	add(tar.Header{Name: id2.Encoded() + ".json"}, c2)
	manifest := `[{"Config":"` + id1.Encoded() + `.json","RepoTags":["busybox:latest"],"Layers":["aaaa/layer.tar"]},` +
		`{"Config":"` + id2.Encoded() + `.json","RepoTags":null,"Layers":["bbbb/layer.tar"]}]`
	add(tar.Header{Name: "manifest.json"}, []byte(manifest))
	add(tar.Header{Name: "repositories"}, []byte(`{"busybox":{"latest":"`+id1.Encoded()+`"}}`))
	_ = tw.Close()

	s := newStore(t)
	var out []string
	if err := s.Load(ctx, &buf, func(l string) { out = append(out, l) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(out, "|") != "Loaded image: busybox:latest|Loaded image ID: "+id2.String() {
		t.Errorf("load printed %q", out)
	}
	img, err := s.Get(ctx, "busybox")
	if err != nil || img.ID != id1 || img.Config.Config.Env[0] != "A=1" {
		t.Fatalf("busybox = %+v, %v", img, err)
	}
	if _, err := s.Get(ctx, id2.Encoded()[:10]); err != nil {
		t.Errorf("second image: %v", err)
	}
}

// TestLoadRefusesHostileArchive: a layer path that is a symlink out of
// the archive must not read host files.
func TestLoadRefusesHostileArchive(t *testing.T) {
	ctx := context.Background()
	host := filepath.Join(t.TempDir(), "secret")
	_ = os.WriteFile(host, []byte("secret"), 0o600)
	diffID := digest.FromString("secret")
	cfg := dockerspec.DockerOCIImage{}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}
	c, _ := json.Marshal(cfg)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "l.tar", Typeflag: tar.TypeSymlink, Linkname: host})
	_ = tw.WriteHeader(&tar.Header{Name: "c.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c))})
	_, _ = tw.Write(c)
	m := []byte(`[{"Config":"c.json","Layers":["l.tar"]}]`)
	_ = tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m))})
	_, _ = tw.Write(m)
	_ = tw.Close()
	s := newStore(t)
	if err := s.Load(ctx, &buf, func(string) {}); err == nil {
		t.Fatal("loaded a layer through a symlink to the host")
	}
}

func BenchmarkImport20MB(b *testing.B) {
	files := map[string]string{}
	chunk := strings.Repeat("berth layer data ", 1<<12) // 68 KiB
	for i := 0; len(files)*len(chunk) < 20<<20; i++ {
		files[filepath.Join("d", string(rune('a'+i%26)), strings.Repeat("f", 1+i%5)+string(rune('0'+i%10))+"-"+digest.FromString(chunk + string(rune(i))).Encoded()[:8])] = chunk
	}
	data := rootfsTar(b, files).Bytes()
	ctx := context.Background()
	s := newStoreTB(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := s.Import(ctx, bytes.NewReader(data), ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := s.Delete(ctx, img.ID.String(), true, false, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
