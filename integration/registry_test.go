package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	registrytypes "github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/testenv"
)

func TestRegistryPushPullRoundTrip(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busybox"))
	ref := reg.Addr + "/demo/helloworld:v1.0.0"

	// The real docker CLI.
	d.MustDocker("tag", "busybox", ref)
	out := d.MustDocker("push", ref)
	if !strings.Contains(out, "v1.0.0: digest: sha256:") {
		t.Fatalf("push output:\n%s", out)
	}
	if dig := d.MustDocker("images", "--digests", "--format", "{{.Repository}} {{.Digest}}"); !strings.Contains(dig, reg.Addr+"/demo/helloworld sha256:") {
		t.Errorf("images --digests after push:\n%s", dig)
	}
	d.MustDocker("rmi", ref)
	out = d.MustDocker("pull", ref)
	if !strings.Contains(out, "Digest: sha256:") || !strings.Contains(out, "Status:") {
		t.Errorf("pull output:\n%s", out)
	}
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", ref)); got != id {
		t.Errorf("image ID after the round trip = %s, want %s", got, id)
	}

	// A fresh pull (no layer present) through the berth CLI, then run.
	d.MustDocker("rmi", "-f", "busybox", ref)
	d.MustBerth("pull", ref)
	if got := strings.TrimSpace(d.MustBerth("inspect", "-f", "{{.Id}}", ref)); got != id {
		t.Errorf("image ID after berth pull = %s, want %s", got, id)
	}
	if out := d.MustBerth("run", "--rm", ref, "echo", "from the registry"); out != "from the registry\n" {
		t.Errorf("run after pull printed %q", out)
	}
	// run of a missing image pulls it, as docker does.
	d.MustDocker("rmi", ref)
	if out := d.MustDocker("run", "--rm", ref, "echo", "pulled by run"); !strings.Contains(out, "pulled by run") {
		t.Errorf("docker run of a missing image: %q", out)
	}
	d.MustBerth("push", ref)

	// A build whose FROM image is not here pulls it.
	d.MustDocker("rmi", ref)
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+ref+"\nRUN echo built > /built\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("build", "-t", "from-registry", ctxDir)
	if out := d.MustDocker("run", "--rm", "from-registry", "cat", "/built"); out != "built\n" {
		t.Errorf("image built FROM a pulled base: %q", out)
	}
	// A two-layer image: its layers download in parallel.
	two := reg.Addr + "/demo/two:v1"
	d.MustDocker("tag", "from-registry", two)
	d.MustDocker("push", two)
	twoID := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", two))
	d.MustDocker("rmi", "-f", "from-registry", two, ref)
	if out := d.MustDocker("pull", two); strings.Count(out, "Pull complete") != 2 {
		t.Errorf("pull of a two-layer image:\n%s", out)
	}
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", two)); got != twoID {
		t.Errorf("two-layer image ID %s, want %s", got, twoID)
	}
	if out := d.MustDocker("run", "--rm", two, "cat", "/built"); out != "built\n" {
		t.Errorf("two-layer image content: %q", out)
	}
	d.MustDocker("pull", ref)

	// Errors in Docker's words.
	if r := d.Docker("pull", reg.Addr+"/nosuch/repo:latest"); r.Code == 0 || !strings.Contains(r.Stderr, "not found") && !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("pull of a missing repo: %s", r)
	}
	if r := d.Docker("push", reg.Addr+"/never/tagged:v1"); r.Code == 0 || !strings.Contains(r.Stderr, "does not exist locally") {
		t.Errorf("push of a missing tag: %s", r)
	}
	free := testenv.FreePort(t)
	if r := d.Docker("pull", fmt.Sprintf("127.0.0.1:%d/x:y", free)); r.Code == 0 {
		t.Errorf("pull from an unreachable registry succeeded")
	}

	// push --all-tags.
	d.MustDocker("tag", ref, reg.Addr+"/demo/all:a")
	d.MustDocker("tag", ref, reg.Addr+"/demo/all:b")
	d.MustDocker("push", "--all-tags", reg.Addr+"/demo/all")
	d.MustDocker("rmi", reg.Addr+"/demo/all:a", reg.Addr+"/demo/all:b")
	d.MustBerth("pull", reg.Addr+"/demo/all:b")
	d.MustDocker("pull", reg.Addr+"/demo/all:a")

	// docker-py.
	script := fmt.Sprintf(`
import docker
c = docker.DockerClient(base_url=%q)
c.images.get(%q).tag(%q, tag="py")
for line in c.images.push(%q, tag="py", stream=True, decode=True):
    if "error" in line: raise SystemExit(line["error"])
c.images.remove(%q)
img = c.images.pull(%q, tag="py")
print("pulled", img.id)
`, d.Host(), ref, reg.Addr+"/demo/helloworld", reg.Addr+"/demo/helloworld", reg.Addr+"/demo/helloworld:py", reg.Addr+"/demo/helloworld")
	r := d.Run(nil, 60*time.Second, "python3", "-c", script)
	if r.Code != 0 || !strings.Contains(r.Stdout, "pulled "+id) {
		t.Errorf("docker-py push/pull: %s", r)
	}
}

func TestRegistryTLSAndLogin(t *testing.T) {
	hostIP := testenv.HostIP(t)
	dir := t.TempDir()
	ca, cert, key := testenv.WriteTLS(t, dir, net.ParseIP(hostIP))
	htp := testenv.WriteHtpasswd(t, dir, "alice", "s3cret")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Host: hostIP, Htpasswd: htp, TLSCert: cert, TLSKey: key})
	// The daemon trusts the registry's CA through a certs.d directory.
	certsDir := filepath.Join(dir, "certs.d")
	if err := os.MkdirAll(filepath.Join(certsDir, reg.Addr), 0o755); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(ca)
	if err := os.WriteFile(filepath.Join(certsDir, reg.Addr, "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	d := testenv.StartDaemonArgs(t, "--certs-dir", certsDir)
	d.ImportBusybox("busybox")
	cfgDir := t.TempDir()
	docker := func(args ...string) testenv.Result {
		return d.Run(nil, 60*time.Second, "env", append([]string{"DOCKER_CONFIG=" + cfgDir, "docker"}, args...)...)
	}
	berth := func(args ...string) testenv.Result {
		return d.Run(nil, 60*time.Second, "env", append([]string{"DOCKER_CONFIG=" + cfgDir, testenv.Binary(t)}, args...)...)
	}
	ref := reg.Addr + "/team/app:v1"
	d.MustDocker("tag", "busybox", ref)
	if r := docker("push", ref); r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "auth") {
		t.Errorf("push without login: %s", r)
	}
	if r := docker("login", "-u", "alice", "-p", "wrong", reg.Addr); r.Code == 0 || !strings.Contains(r.Stderr, "unauthorized") {
		t.Errorf("login with a wrong password: %s", r)
	}
	if r := docker("login", "-u", "alice", "-p", "s3cret", reg.Addr); r.Code != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("docker login: %s", r)
	}
	if r := docker("push", ref); r.Code != 0 {
		t.Fatalf("docker push after login: %s", r)
	}
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", ref))
	d.MustDocker("rmi", "-f", "busybox", ref)
	if r := docker("pull", ref); r.Code != 0 {
		t.Fatalf("docker pull: %s", r)
	}
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", ref)); got != id {
		t.Errorf("image ID after TLS round trip = %s, want %s", got, id)
	}
	// The berth CLI: its own login writes the same config.json.
	if r := berth("logout", reg.Addr); r.Code != 0 {
		t.Errorf("berth logout: %s", r)
	}
	if r := berth("pull", ref); r.Code == 0 {
		t.Errorf("berth pull after logout succeeded")
	}
	if r := d.Run(strings.NewReader("s3cret\n"), 60*time.Second, "env", "DOCKER_CONFIG="+cfgDir, testenv.Binary(t), "login", "-u", "alice", "--password-stdin", reg.Addr); r.Code != 0 {
		t.Fatalf("berth login: %s", r)
	}
	d.MustDocker("rmi", ref)
	if r := berth("pull", ref); r.Code != 0 {
		t.Fatalf("berth pull after login: %s", r)
	}
	if r := berth("run", "--rm", ref, "true"); r.Code != 0 {
		t.Errorf("run after TLS pull: %s", r)
	}
}

// TestRegistryTamperedBlob: a registry that serves a layer whose bytes do
// not match its digest makes the pull fail, and no image appears.
func TestRegistryTamperedBlob(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	d.MustDocker("tag", "busybox", reg.Addr+"/x/y:v1")
	d.MustDocker("push", reg.Addr+"/x/y:v1")
	d.MustDocker("rmi", "-f", "busybox", reg.Addr+"/x/y:v1")

	target, _ := url.Parse("http://" + reg.Addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.ContentLength > 1000 {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0xff
			resp.Body = io.NopCloser(bytes.NewReader(b))
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: proxy}}
	srv.Start()
	defer srv.Close()
	bad := l.Addr().String() + "/x/y:v1"
	r := d.Docker("pull", bad)
	if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "digest") {
		t.Fatalf("pull of a tampered blob: %s", r)
	}
	if out := d.MustDocker("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); strings.TrimSpace(out) != "" {
		t.Errorf("images after a failed pull:\n%s", out)
	}
	// The honest registry still works, and the image is whole.
	d.MustDocker("pull", reg.Addr+"/x/y:v1")
	d.MustDocker("run", "--rm", reg.Addr+"/x/y:v1", "true")
}

// TestRegistryIndexSelectsPlatform: a manifest list with the host's
// platform and another one pulls the host's image.
func TestRegistryIndexSelectsPlatform(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	single := reg.Addr + "/multi/app:amd"
	d.MustDocker("tag", "busybox", single)
	d.MustDocker("push", single)
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busybox"))

	hostRef, err := name.ParseReference(single, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	hostImg, err := remote.Image(hostRef)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: hostImg, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	listRef, err := name.ParseReference(reg.Addr+"/multi/app:list", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(listRef, idx); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("rmi", "-f", "busybox", single)
	d.MustDocker("pull", reg.Addr+"/multi/app:list")
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", reg.Addr+"/multi/app:list")); got != id {
		t.Errorf("index pull chose %s, want the host platform's %s", got, id)
	}
	if r := d.Docker("pull", "--platform", "linux/s390x", reg.Addr+"/multi/app:list"); r.Code == 0 {
		t.Errorf("pull of a platform the index lacks succeeded")
	}
}

// TestRegistryDebianDistribution: berth interoperates with a registry it
// did not write — Debian's docker-registry (CNCF distribution 2.8),
// installed by .ci/run.
func TestRegistryDebianDistribution(t *testing.T) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (apt-get install docker-registry; .ci/run does)")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	logf, _ := os.Create(filepath.Join(dir, "registry.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	testenv.Eventually(t, 10*time.Second, "docker-registry to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	ref := addr + "/debian/interop:v1"
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busybox"))
	d.MustDocker("tag", "busybox", ref)
	d.MustDocker("push", ref)
	d.MustDocker("rmi", "-f", "busybox", ref)
	d.MustDocker("pull", ref)
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", ref)); got != id {
		t.Errorf("image ID through docker-registry = %s, want %s", got, id)
	}
	d.MustBerth("run", "--rm", ref, "true")
}

// TestRegistryMirrorFromDaemonJSON: Docker Hub is out of reach here, so a
// Hub image comes from the registry-mirrors of daemon.json.
func TestRegistryMirrorFromDaemonJSON(t *testing.T) {
	seed := testenv.StartDaemon(t)
	seed.ImportBusybox("busybox")
	mirror := testenv.StartRegistry(t, testenv.RegistryOptions{})
	seed.MustDocker("tag", "busybox", mirror.Addr+"/library/busybox:latest")
	seed.MustDocker("push", mirror.Addr+"/library/busybox:latest")
	id := strings.TrimSpace(seed.MustDocker("inspect", "-f", "{{.Id}}", "busybox"))

	cfg := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"registry-mirrors": ["http://%s"]}`, mirror.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := testenv.StartDaemonArgs(t, "--config-file", cfg)
	out := d.MustDocker("pull", "busybox")
	if !strings.Contains(out, "Status: Downloaded newer image for busybox:latest") {
		t.Errorf("pull through the mirror:\n%s", out)
	}
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busybox")); got != id {
		t.Errorf("mirrored image ID = %s, want %s", got, id)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte("{not json"), 0o644)
	r := d.Run(nil, 10*time.Second, testenv.Binary(t), "daemon", "--config-file", bad, "--host", "unix://"+filepath.Join(t.TempDir(), "x.sock"))
	if r.Code == 0 || !strings.Contains(r.Stderr, "invalid daemon config") {
		t.Errorf("daemon with a malformed daemon.json: %s", r)
	}
}

// TestRegistryPullThroughCache: `berth registry serve --proxy-remote`
// serves what the remote has and keeps a copy.
func TestRegistryPullThroughCache(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	origin := testenv.StartRegistry(t, testenv.RegistryOptions{})
	d.MustDocker("tag", "busybox", origin.Addr+"/library/app:v1")
	d.MustDocker("push", origin.Addr+"/library/app:v1")
	id := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "busybox"))
	cache := testenv.StartRegistry(t, testenv.RegistryOptions{ProxyRemote: "http://" + origin.Addr})
	d.MustDocker("rmi", "-f", "busybox", origin.Addr+"/library/app:v1")
	d.MustDocker("pull", cache.Addr+"/library/app:v1")
	if got := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", cache.Addr+"/library/app:v1")); got != id {
		t.Errorf("image through the cache = %s, want %s", got, id)
	}
	blobs, _ := filepath.Glob(filepath.Join(cache.Root, "docker/registry/v2/blobs/sha256/*/*"))
	if len(blobs) == 0 {
		t.Errorf("the pull-through cache kept no blobs")
	}
}

// TestRegistryDistributionInspect: GET /distribution/{name}/json asks the
// registry for what a reference names, without pulling: the digest `docker
// push` printed, the platform of a single manifest, those of an index;
// the X-Registry-Auth header reaches a registry that wants a login; errors
// carry dockerd's statuses; `docker service create` pins the digest.
func TestRegistryDistributionInspect(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ref := reg.Addr + "/dist/app:v1"
	d.MustDocker("tag", "busybox", ref)
	out := d.MustDocker("push", ref)
	m := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("push output:\n%s", out)
	}
	pushed, size := m[1], m[2]
	arch := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Architecture}}", "busybox"))

	api := d.HTTPClient()
	inspect := func(name, auth string) (int, registrytypes.DistributionInspect, string) {
		t.Helper()
		req, err := http.NewRequest("GET", "http://berth/v1.51/distribution/"+name+"/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("X-Registry-Auth", auth)
		}
		resp, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var di registrytypes.DistributionInspect
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &di); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
		}
		return resp.StatusCode, di, string(body)
	}

	// The pushed manifest, by tag and by digest, and the image still
	// only local: nothing was pulled.
	for _, name := range []string{ref, reg.Addr + "/dist/app@" + pushed} {
		code, di, body := inspect(name, "")
		if code != 200 || di.Descriptor.Digest.String() != pushed || fmt.Sprint(di.Descriptor.Size) != size ||
			di.Descriptor.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
			t.Errorf("inspect %s: %d %s; want digest %s size %s", name, code, body, pushed, size)
		}
		if len(di.Platforms) != 1 || di.Platforms[0].OS != "linux" || di.Platforms[0].Architecture != arch {
			t.Errorf("inspect %s: platforms %+v, want linux/%s", name, di.Platforms, arch)
		}
	}

	// An index: its own digest and its manifests' platforms.
	hostRef, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	hostImg, err := remote.Image(hostRef)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: hostImg, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}},
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}},
	)
	listRef, err := name.ParseReference(reg.Addr+"/dist/app:multi", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(listRef, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	code, di, body := inspect(reg.Addr+"/dist/app:multi", "")
	if code != 200 || di.Descriptor.Digest.String() != idxDigest.String() || len(di.Platforms) != 2 ||
		di.Platforms[0].Architecture != arch || di.Platforms[1].Architecture != "arm" || di.Platforms[1].Variant != "v7" {
		t.Errorf("inspect of an index: %d %s; want digest %s and two platforms", code, body, idxDigest)
	}

	// docker-py's APIClient.inspect_distribution.
	script := fmt.Sprintf(`
import docker
c = docker.APIClient(base_url=%q)
print(c.inspect_distribution(%q)["Descriptor"]["digest"])
`, d.Host(), ref)
	if r := d.Run(nil, 60*time.Second, "python3", "-c", script); r.Code != 0 || strings.TrimSpace(r.Stdout) != pushed {
		t.Errorf("docker-py inspect_distribution: %s", r)
	}

	// What the endpoint is for: `docker service create` pins the image
	// to its digest (and does not warn that it could not).
	initSwarm(t, d)
	if r := d.Docker("service", "create", "--detach", "--stop-grace-period", "1s", "--name", "pinned", ref, "sleep", "300"); r.Code != 0 || strings.Contains(r.Stderr, "could not be accessed on a registry") {
		t.Errorf("service create: %s", r)
	}
	if got := strings.TrimSpace(d.MustDocker("service", "inspect", "-f", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", "pinned")); got != ref+"@"+pushed {
		t.Errorf("service image = %s, want %s@%s", got, ref, pushed)
	}
	d.MustDocker("service", "rm", "pinned")

	// Errors.
	free := testenv.FreePort(t)
	for _, tt := range []struct {
		name     string
		code     int
		contains string
	}{
		{reg.Addr + "/dist/app:nope", 404, "manifest unknown"},
		{reg.Addr + "/no/such:v1", 404, "manifest unknown"},
		{"UPPER/case", 400, "invalid reference format"},
		{fmt.Sprintf("127.0.0.1:%d/x:y", free), 500, "connection refused"},
	} {
		if code, _, body := inspect(tt.name, ""); code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("inspect %s: %d %s; want %d with %q", tt.name, code, body, tt.code, tt.contains)
		}
	}

	// A registry that wants a login: 401 without credentials, the
	// digest with them.
	htp := testenv.WriteHtpasswd(t, t.TempDir(), "alice", "s3cret")
	locked := testenv.StartRegistry(t, testenv.RegistryOptions{Htpasswd: htp})
	lockedRef, err := name.ParseReference(locked.Addr+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(lockedRef, hostImg, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	if code, _, body := inspect(locked.Addr+"/team/app:v1", ""); code != 401 || !strings.Contains(body, "unauthorized: authentication required") {
		t.Errorf("inspect without credentials: %d %s", code, body)
	}
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"alice","password":"s3cret","serveraddress":"` + locked.Addr + `"}`))
	if code, di, body := inspect(locked.Addr+"/team/app:v1", auth); code != 200 || di.Descriptor.Digest.String() != pushed {
		t.Errorf("inspect with credentials: %d %s; want digest %s", code, body, pushed)
	}
}

// TestSearch is `docker search` against a registry that has the v1
// search API (a stand-in for Docker Hub on loopback) and one that has not.
func TestSearch(t *testing.T) {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/search" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(registrytypes.SearchResults{Query: r.URL.Query().Get("q"), Results: []registrytypes.SearchResult{
			{Name: "redis", Description: "an in-memory store", StarCount: 100, IsOfficial: true},
			{Name: "someone/redis", StarCount: 2},
		}})
	}))
	defer hub.Close()
	v2only := httptest.NewServer(http.NotFoundHandler())
	defer v2only.Close()
	d := testenv.StartDaemon(t)
	host := strings.TrimPrefix(hub.URL, "http://")

	out := d.MustDocker("search", "--format", "{{.Name}} {{.StarCount}} {{.IsOfficial}}", host+"/redis")
	if out != "redis 100 [OK]\nsomeone/redis 2 \n" {
		t.Errorf("search = %q", out)
	}
	if out := d.MustDocker("search", "--filter", "is-official=true", "--format", "{{.Name}}", host+"/redis"); out != "redis\n" {
		t.Errorf("search --filter is-official = %q", out)
	}
	if out := d.MustDocker("search", "--limit", "1", "--format", "{{.Name}}", host+"/redis"); out != "redis\n" {
		t.Errorf("search --limit 1 = %q", out)
	}
	if r := d.Docker("search", "--filter", "colour=red", host+"/redis"); r.Code == 0 || !strings.Contains(r.Stderr, "invalid filter 'colour'") {
		t.Errorf("search with a bad filter: %s", r)
	}
	if r := d.Docker("search", strings.TrimPrefix(v2only.URL, "http://")+"/redis"); r.Code == 0 || !strings.Contains(r.Stderr, "unexpected status code 404") {
		t.Errorf("search on a registry without v1 search: %s", r)
	}
}
