package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// TestRemovalInterruptedByDaemonKill: ten containers with published ports,
// a named and an anonymous volume are removed (rm -f -v) in parallel and
// the daemon is SIGKILLed in the middle. The restarted daemon finishes the
// removals: none of them is left, their anonymous volumes are gone, the
// named ones are free, and the names and ports can be used again.
func TestRemovalInterruptedByDaemonKill(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	const n = 10
	names := make([]string, n)
	ports := make([]int, n)
	ids := make([]string, n)
	for i := range n {
		names[i], ports[i] = fmt.Sprintf("victim%d", i), testenv.FreePort(t)
		ids[i] = strings.TrimSpace(d.MustDocker("run", "-d", "--name", names[i], "-p", fmt.Sprintf("%d:80", ports[i]),
			"-v", fmt.Sprintf("named%d:/named", i), "-v", "/anon", "busybox", "sleep", "1000"))
	}
	anon := map[string]bool{}
	for _, id := range ids {
		out := d.MustDocker("inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, id)
		if v := strings.TrimSpace(out); v != "" {
			anon[v] = true
		}
	}
	if len(anon) != n {
		t.Fatalf("found %d anonymous volumes, want %d", len(anon), n)
	}

	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Docker("rm", "-f", "-v", name) // fails when the daemon dies
		}()
	}
	// Kill the daemon once every removal has been recorded (its record
	// says removing, or its dir is gone already): ~40 ms in, while
	// most are in the middle of it.
	containers := filepath.Join(d.DataRoot, "containers")
	deadline := time.Now().Add(20 * time.Second)
	for !allRemovalsStarted(containers, ids) {
		if time.Now().After(deadline) {
			t.Fatal("the removals did not start")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(40 * time.Millisecond)
	d.Kill9()
	wg.Wait()
	interrupted := 0
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(containers, id)); err == nil {
			interrupted++
		}
	}
	t.Logf("%d of %d removals interrupted", interrupted, n)
	if interrupted == 0 {
		t.Fatal("every removal finished before the kill: the test did not exercise an interrupted removal")
	}

	d.Restart()
	if out := strings.TrimSpace(d.MustDocker("ps", "-a", "--format", "{{.Names}} {{.Status}}")); out != "" {
		t.Fatalf("containers left after the restart:\n%s", out)
	}
	if entries, _ := os.ReadDir(containers); len(entries) != 0 {
		t.Errorf("container dirs left: %v", entries)
	}
	vols := strings.Fields(d.MustDocker("volume", "ls", "-q"))
	for _, v := range vols {
		if anon[v] {
			t.Errorf("anonymous volume %s survived rm -v", v)
		}
	}
	for i := range n {
		// A named volume stays (as with Docker's rm -v) but is free.
		d.MustDocker("volume", "rm", fmt.Sprintf("named%d", i))
	}
	for i := range n {
		d.MustDocker("run", "-d", "--name", names[i], "-p", fmt.Sprintf("%d:80", ports[i]), "-v", "/anon", "busybox", "sleep", "1000")
	}
	d.MustDocker(append([]string{"rm", "-f", "-v"}, names...)...)
	if out := strings.TrimSpace(d.MustDocker("volume", "ls", "-q")); out != "" {
		t.Errorf("volumes left: %s", out)
	}
	d.Stop()
	testenv.CheckLeaks(t, d)
}

// allRemovalsStarted reports whether each container's record says it is
// being removed, or is gone.
func allRemovalsStarted(root string, ids []string) bool {
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(root, id, "config.v2.json"))
		if os.IsNotExist(err) {
			continue
		}
		var rec struct {
			State struct{ RemovalInProgress bool }
		}
		if err != nil || json.Unmarshal(b, &rec) != nil || !rec.State.RemovalInProgress {
			return false
		}
	}
	return true
}

// TestForceRemoveLeavesNoFiles: rm -f of a running container races its
// exit monitor's state write; the container's dir must go every time.
func TestForceRemoveLeavesNoFiles(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	containers := filepath.Join(d.DataRoot, "containers")
	for i := range 30 {
		id := strings.TrimSpace(d.MustDocker("run", "-d", "busybox", "sleep", "100"))
		d.MustDocker("rm", "-f", id)
		if entries, _ := os.ReadDir(containers); len(entries) != 0 {
			var left []string
			for _, e := range entries {
				files, _ := os.ReadDir(filepath.Join(containers, e.Name()))
				for _, f := range files {
					left = append(left, e.Name()[:12]+"/"+f.Name())
				}
			}
			t.Fatalf("round %d: rm -f left %v", i, left)
		}
	}
	d.Stop()
	testenv.CheckLeaks(t, d)
}

// TestRejectedLayersLeaveNoBlob: hostile tars refused by import and load
// leave no blob in the data root (the leak check counts blobs no image
// references), not even after a restart or an image prune.
func TestRejectedLayersLeaveNoBlob(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	for name, tarball := range hostileTars(t) {
		if r := d.Docker("import", tarball, "hostile:x"); r.Code == 0 {
			t.Fatalf("import of %s succeeded", name)
		}
		layer, err := os.ReadFile(tarball)
		if err != nil {
			t.Fatal(err)
		}
		archive := filepath.Join(t.TempDir(), "load.tar")
		// A good first layer (shared with nothing), the hostile one second.
		good := rootfsLayer(t, "etc/motd", name)
		if err := os.WriteFile(archive, imageArchive(t, good, layer), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := d.Docker("load", "-i", archive); r.Code == 0 {
			t.Fatalf("load of %s succeeded", name)
		}
	}
	if out := strings.TrimSpace(d.MustDocker("images", "-a", "--format", "{{.Repository}}")); out != "busybox" {
		t.Errorf("images after the hostile imports: %q", out)
	}
	d.Stop()
	testenv.CheckLeaks(t, d)
}

// rootfsLayer is a one-file layer tar.
func rootfsLayer(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageArchive is a `docker save` archive (manifest.json) of an image made
// of layers.
func imageArchive(t *testing.T, layers ...[]byte) []byte {
	t.Helper()
	var diffIDs, names []string
	for i, l := range layers {
		sum := sha256.Sum256(l)
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(sum[:]))
		names = append(names, fmt.Sprintf("l%d.tar", i))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{"hostile:load"}, "Layers": names}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	for i, l := range layers {
		add(names[i], l)
	}
	add("config.json", cfg)
	add("manifest.json", manifest)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestKilledPullLeavesNoTempFiles: a pull's download lives under the data
// root (not $TMPDIR), and what a daemon killed mid-pull left there is
// removed when the daemon starts again.
func TestKilledPullLeavesNoTempFiles(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	// Two layers: a pull of more than one layer downloads to temp files.
	ref := reg.Addr + "/slow/pull:v1"
	d.MustDocker("run", "--name", "mk", "busybox", "sh", "-c", "echo two > /two")
	d.MustDocker("commit", "mk", ref)
	d.MustDocker("rm", "mk")
	d.MustDocker("push", ref)
	d.MustDocker("rmi", "-f", ref)
	d.MustDocker("rmi", "-f", "busybox")

	// A proxy that sends the layer's first bytes, then stalls.
	target, _ := url.Parse("http://" + reg.Addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	release := make(chan struct{})
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.ContentLength > 1000 {
			resp.Body = &stallingBody{r: resp.Body, after: 64 << 10, release: release}
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: proxy}}
	srv.Start()
	defer func() {
		close(release) // Close waits for the stalled handler
		srv.Close()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Docker("pull", l.Addr().String()+"/slow/pull:v1") // fails when the daemon dies
	}()
	tmp := filepath.Join(d.DataRoot, "tmp")
	testenv.Eventually(t, 20*time.Second, "a pull download under <data-root>/tmp", func() bool {
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "berth-pull-") && fi.Size() > 0 {
				return true
			}
		}
		return false
	})
	d.Kill9()
	<-done
	d.Restart()
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left in %s after a restart: %v", tmp, entries)
	}
	if out := strings.TrimSpace(d.MustDocker("images", "-aq")); out != "" {
		t.Errorf("images after a killed pull: %q", out)
	}
	d.Stop()
	testenv.CheckLeaks(t, d)
}

// stallingBody passes after bytes through, then blocks until release.
type stallingBody struct {
	r       io.ReadCloser
	after   int
	n       int
	release <-chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.n >= b.after {
		<-b.release
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > b.after-b.n {
		p = p[:b.after-b.n]
	}
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}

func (b *stallingBody) Close() error { return b.r.Close() }
