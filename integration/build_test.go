package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// seedDockerfile is the Get Started guide's Dockerfile on the busybox base.
const seedDockerfile = `# Use an official Python runtime as a parent image
FROM base:2.7-slim

# Set the working directory to /app
WORKDIR /app

# Copy the current directory contents into the container at /app
ADD . /app

# Install any needed packages specified in requirements.txt
RUN cat requirements.txt > installed.txt && echo installed >> installed.txt

# Make port 80 available to the world outside this container
EXPOSE 80

# Define environment variable
ENV NAME World

# Run app.py when the container launches
CMD ["sh", "app.sh"]
`

func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func seedContext(t *testing.T) string {
	return writeContext(t, map[string]string{
		"Dockerfile":       seedDockerfile,
		"app.sh":           "echo \"Hello $NAME from $(hostname)\"\ncat /app/installed.txt\n",
		"requirements.txt": "Flask\nRedis\n",
	})
}

func inspectConfig(t *testing.T, d *testenv.Daemon, ref string) map[string]any {
	t.Helper()
	var out []struct{ Config map[string]any }
	if err := json.Unmarshal([]byte(d.MustDocker("image", "inspect", ref)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0].Config
}

func TestBuildSeedDockerCLI(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("base:2.7-slim")
	dir := seedContext(t)

	r := d.Run(nil, 120e9, "docker", "build", "-t", "friendlyhello", dir)
	if r.Code != 0 {
		t.Fatalf("docker build: %s", r)
	}
	for _, want := range []string{"Step 1/7 : FROM base:2.7-slim", "Step 4/7 : RUN cat requirements.txt", "Successfully built ", "Successfully tagged friendlyhello:latest"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("build output lacks %q:\n%s", want, r.Stdout)
		}
	}
	out := d.MustDocker("run", "--rm", "friendlyhello")
	if !strings.Contains(out, "Hello World from ") || !strings.Contains(out, "Flask\nRedis\ninstalled\n") {
		t.Errorf("run printed %q", out)
	}
	cfg := inspectConfig(t, d, "friendlyhello")
	if wd := cfg["WorkingDir"]; wd != "/app" {
		t.Errorf("WorkingDir = %v", wd)
	}
	if ports, _ := cfg["ExposedPorts"].(map[string]any); len(ports) != 1 || ports["80/tcp"] == nil {
		t.Errorf("ExposedPorts = %v", cfg["ExposedPorts"])
	}
	if env, _ := json.Marshal(cfg["Env"]); !strings.Contains(string(env), `"NAME=World"`) {
		t.Errorf("Env = %s", env)
	}
	if cmd, _ := json.Marshal(cfg["Cmd"]); string(cmd) != `["sh","app.sh"]` {
		t.Errorf("Cmd = %s", cmd)
	}
	// No build container is left.
	if ps := strings.TrimSpace(d.MustDocker("ps", "-aq")); ps != "" {
		t.Errorf("containers left after build: %s", ps)
	}
	// Intermediate images are hidden from `docker images`.
	if imgs := d.MustDocker("images", "-q"); len(strings.Fields(imgs)) != 2 {
		t.Errorf("images:\n%s", d.MustDocker("images"))
	}

	// The same build again comes from the cache, every step.
	r = d.Run(nil, 120e9, "docker", "build", "-t", "friendlyhello", dir)
	if r.Code != 0 {
		t.Fatalf("docker build again: %s", r)
	}
	if n := strings.Count(r.Stdout, "Using cache"); n != 6 {
		t.Errorf("second build used the cache %d times, want 6:\n%s", n, r.Stdout)
	}
}

func TestBuildSeedBerthCLIAndCache(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("base:2.7-slim")
	dir := seedContext(t)
	iid := filepath.Join(t.TempDir(), "iid")

	out := d.MustBerth("build", "-t", "friendlyhello", "-t", "friendlyhello:v1", "--iidfile", iid, dir)
	if !strings.Contains(out, "Successfully tagged friendlyhello:v1") {
		t.Errorf("berth build output:\n%s", out)
	}
	id, _ := os.ReadFile(iid)
	if !strings.HasPrefix(string(id), "sha256:") {
		t.Fatalf("iidfile holds %q", id)
	}
	if got := strings.TrimSpace(d.MustBerth("image", "inspect", "-f", "{{.Id}}", "friendlyhello:v1")); got != string(id) {
		t.Errorf("friendlyhello:v1 is %s, iidfile %s", got, id)
	}
	if out := d.MustBerth("run", "--rm", "friendlyhello"); !strings.Contains(out, "Hello World") {
		t.Errorf("run printed %q", out)
	}

	// The cache survives a daemon restart.
	d.Restart()
	out = d.MustBerth("build", "-q", "-t", "friendlyhello", dir)
	if strings.TrimSpace(out) != string(id) {
		t.Errorf("cached quiet build printed %q, want %s", out, id)
	}
	out = d.MustBerth("build", "-t", "friendlyhello", dir)
	if n := strings.Count(out, "Using cache"); n != 6 {
		t.Errorf("build after restart used the cache %d times, want 6:\n%s", n, out)
	}

	// Changing one file re-runs from the ADD that reads it.
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("Flask\nRedis\nsix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = d.MustBerth("build", "-t", "friendlyhello", dir)
	if n := strings.Count(out, "Using cache"); n != 1 {
		t.Errorf("build after a change used the cache %d times, want 1 (WORKDIR):\n%s", n, out)
	}
	if !strings.Contains(out, "Step 3/7 : ADD . /app\n ---> ") || strings.Contains(out, "Step 3/7 : ADD . /app\n ---> Using cache") {
		t.Errorf("ADD did not re-run:\n%s", out)
	}
	if out := d.MustDocker("run", "--rm", "friendlyhello"); !strings.Contains(out, "six\ninstalled") {
		t.Errorf("run after rebuild printed %q", out)
	}
	// --no-cache runs everything.
	out = d.MustBerth("build", "--no-cache", "-t", "friendlyhello", dir)
	if strings.Contains(out, "Using cache") {
		t.Errorf("--no-cache used the cache:\n%s", out)
	}
}

func TestBuildDockerPy(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("base:2.7-slim")
	dir := seedContext(t)
	script := `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag="pyhello")
print(img.id, img.tags)
print(c.containers.run("pyhello", remove=True).decode(), end="")
try:
    c.images.build(path=sys.argv[2], dockerfile="Nope")
except docker.errors.APIError as e:
    print("api error:", e.explanation)
`
	r := d.Run(nil, 120e9, "python3", "-c", script, d.Host(), dir)
	if r.Code != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	for _, want := range []string{"sha256:", "['pyhello:latest']", "Hello World", "api error: Cannot locate specified Dockerfile: Nope"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("docker-py output lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestBuildDockerCLIWithBuildkitOff(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("base:2.7-slim")
	dir := seedContext(t)
	r := d.Run(nil, 120e9, "env", "DOCKER_BUILDKIT=0", "docker", "build", "-q", "-t", "x", dir)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Fatalf("DOCKER_BUILDKIT=0 docker build -q: %s", r)
	}
}

func TestBuildMultiStageScratch(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"hello.go":      "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from scratch\") }\n",
		"go.mod":        "module hello\n\ngo 1.22\n",
		".dockerignore": "*.tmp\n!keep.tmp\n",
		"junk.tmp":      "x", "keep.tmp": "kept",
		"Dockerfile": `ARG BASE=busybox
FROM ${BASE} AS build
ARG GREETING=hi
WORKDIR /src
COPY --chmod=755 hello /out/hello
COPY *.tmp ./
RUN ls /src > /out/listing && echo "$GREETING" > /out/greeting

FROM scratch
COPY --from=build /out/ /
COPY --from=0 /src/keep.tmp /keep
ENTRYPOINT ["/hello"]
`,
	})
	gobin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", gobin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r := d.Run(nil, 120e9, "docker", "build", "--build-arg", "GREETING=bonjour", "-t", "hello", dir)
	if r.Code != 0 {
		t.Fatalf("docker build: %s", r)
	}
	if out := d.MustDocker("run", "--rm", "hello"); out != "hello from scratch\n" {
		t.Errorf("run printed %q", out)
	}
	// The scratch image holds only what was copied.
	rc := d.MustDocker("create", "--name", "h", "hello")
	_ = rc
	exp := d.Run(nil, 60e9, "sh", "-c", "docker export h | tar -t | sort")
	d.MustDocker("rm", "h")
	for _, want := range []string{"hello\n", "greeting\n", "listing\n", "keep\n"} {
		if !strings.Contains(exp.Stdout, want) {
			t.Errorf("scratch image lacks %q:\n%s", want, exp.Stdout)
		}
	}
	out := d.Run(nil, 60e9, "sh", "-c", "docker run --rm --entrypoint /x hello 2>&1; docker create --name g hello >/dev/null && docker cp g:/greeting - | tar -xO && docker cp g:/listing - | tar -xO; docker rm g >/dev/null")
	if !strings.Contains(out.Stdout, "bonjour") || !strings.Contains(out.Stdout, "keep.tmp") || strings.Contains(out.Stdout, "junk.tmp") {
		t.Errorf("build args or .dockerignore not applied: %s", out)
	}
	// --target stops at a stage.
	r = d.Run(nil, 120e9, "docker", "build", "--target", "build", "-t", "builder", dir)
	if r.Code != 0 || !strings.Contains(d.MustDocker("run", "--rm", "builder", "cat", "/out/greeting"), "hi") {
		t.Errorf("--target build: %s", r)
	}
}

func TestBuildBadInput(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	cases := []struct {
		name, dockerfile string
		want             []string
	}{
		{"syntax", "FROM busybox\nFOO bar\n", []string{"line 2", "Dockerfile", "unknown instruction: FOO"}},
		{"outside", "FROM busybox\nCOPY ../secret /x\n", []string{"outside the build context", "../secret"}},
		{"missing", "FROM busybox\nCOPY nothere /x\n", []string{"file not found in build context", "nothere"}},
		{"stage", "FROM busybox\nCOPY --from=nosuch /a /b\n", []string{"--from=nosuch", "no such stage"}},
		{"base", "FROM nosuchimage:1\n", []string{"FROM nosuchimage:1", "pull"}},
		{"run", "FROM busybox\nRUN echo some output; echo more output >&2; exit 3\n", []string{"returned a non-zero code: 3", "more output"}},
	}
	for _, c := range cases {
		dir := writeContext(t, map[string]string{"Dockerfile": c.dockerfile, "a": "a"})
		for _, tool := range []string{"docker", "berth"} {
			var r testenv.Result
			if tool == "docker" {
				r = d.Docker("build", dir)
			} else {
				r = d.Berth("build", "-q", dir)
			}
			if r.Code == 0 {
				t.Errorf("%s: %s build succeeded", c.name, tool)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(r.Stdout+r.Stderr, w) {
					t.Errorf("%s: %s build error lacks %q: %s", c.name, tool, w, r)
				}
			}
		}
	}
	// Nothing leaks: no container, no mount, no temporary context, and
	// only the images that finished steps (dangling, hidden) remain.
	if ps := strings.TrimSpace(d.MustDocker("ps", "-aq")); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(m), d.DataRoot+"/build") {
		t.Errorf("build mounts left")
	}
	for _, sub := range []string{"build/tmp", "build/mnt", "snapshots/active"} {
		if ents, _ := os.ReadDir(filepath.Join(d.DataRoot, sub)); len(ents) != 0 {
			t.Errorf("%s not empty after failed builds: %d entries", sub, len(ents))
		}
	}
}

func TestBuildInstructionsAndInputs(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		_, _ = w.Write([]byte("downloaded\n"))
	}))
	defer srv.Close()
	// A tar to ADD (auto-extracted).
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	_ = tw.WriteHeader(&tar.Header{Name: "inside/t.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("tar\n"))
	_ = tw.Close()
	dir := writeContext(t, map[string]string{
		"owned":      "o",
		"bundle.tar": tarBuf.String(),
		"Dockerfile": `FROM busybox
ONBUILD RUN echo triggered > /onbuild
LABEL stage=base
`,
	})
	d.MustDocker("build", "-t", "onbase", dir)
	df := `FROM onbase
SHELL ["/bin/sh", "-ec"]
ARG UID=4321
RUN adduser -D -u ${UID} app 2>/dev/null || echo "app:x:${UID}:${UID}::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:${UID}:" >> /etc/group
COPY --chown=app:app owned /home/app/owned
ADD bundle.tar /unpacked/
ADD --chmod=644 ` + srv.URL + `/file.txt /dl/
USER app
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
ENV GREETING="hello there" TARGET=world
WORKDIR $TARGET
ENTRYPOINT ["sh", "-c", "echo $GREETING $0 $(id -u) $(pwd); cat /onbuild /unpacked/inside/t.txt /dl/file.txt; stat -c %U /home/app/owned"]
CMD ["arg0"]
`
	if err := os.WriteFile(filepath.Join(t.TempDir(), "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The Dockerfile comes from stdin (-f -).
	r := d.Run(strings.NewReader(df), 120e9, testenv.Binary(t), "build", "-f", "-", "--network", "none", "--label", "via=cli", "-t", "full", dir)
	if r.Code != 0 {
		t.Fatalf("berth build -f -: %s", r)
	}
	out := d.MustDocker("run", "--rm", "full")
	for _, want := range []string{"hello there arg0 4321 /world", "triggered\ntar\ndownloaded\napp\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	var img []struct {
		Config struct {
			User, StopSignal string
			Volumes          map[string]any
			Labels           map[string]string
			Healthcheck      struct{ Test []string }
			Shell, OnBuild   []string
		}
	}
	if err := json.Unmarshal([]byte(d.MustDocker("image", "inspect", "full")), &img); err != nil {
		t.Fatal(err)
	}
	c := img[0].Config
	if c.User != "app" || c.StopSignal != "SIGINT" || c.Volumes["/data"] == nil || c.Labels["via"] != "cli" || c.Labels["stage"] != "base" ||
		strings.Join(c.Healthcheck.Test, " ") != "CMD-SHELL true" || strings.Join(c.Shell, " ") != "/bin/sh -ec" || len(c.OnBuild) != 0 {
		t.Errorf("image config: %+v", c)
	}

	// A Dockerfile outside the context, with the docker CLI.
	outside := filepath.Join(t.TempDir(), "Other.Dockerfile")
	_ = os.WriteFile(outside, []byte("FROM busybox\nCOPY owned /owned\nCMD [\"cat\", \"/owned\"]\n"), 0o644)
	d.MustDocker("build", "-f", outside, "-t", "outside", dir)
	if out := d.MustDocker("run", "--rm", "outside"); out != "o" {
		t.Errorf("outside Dockerfile build runs %q", out)
	}
	// A Dockerfile alone on stdin, and a tar context on stdin.
	r = d.Run(strings.NewReader("FROM busybox\nCMD [\"echo\", \"stdin\"]\n"), 60e9, "docker", "build", "-t", "fromstdin", "-")
	if r.Code != 0 || d.MustDocker("run", "--rm", "fromstdin") != "stdin\n" {
		t.Errorf("docker build - (Dockerfile): %s", r)
	}
	var ctxTar bytes.Buffer
	tw = tar.NewWriter(&ctxTar)
	dfb := []byte("FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n")
	_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dfb)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(dfb)
	_ = tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("tar\n"))
	_ = tw.Close()
	r = d.Run(bytes.NewReader(ctxTar.Bytes()), 60e9, testenv.Binary(t), "build", "-t", "tarstdin", "-")
	if r.Code != 0 || d.MustDocker("run", "--rm", "tarstdin") != "tar\n" {
		t.Errorf("berth build - (tar): %s", r)
	}
}

// A client that goes away mid-RUN stops the build: the container, its
// mounts and the temporary context are removed.
func TestBuildClientGoneCleansUp(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY Dockerfile /x\nRUN echo started; sleep 60\n"})
	cmd := exec.Command("docker", "build", dir)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the RUN step to start", func() bool { return strings.Contains(out.String(), "started") })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	testenv.Eventually(t, 30*time.Second, "the build container to go", func() bool {
		return strings.TrimSpace(d.MustDocker("ps", "-aq")) == ""
	})
	testenv.Eventually(t, 10*time.Second, "the build's temporary files to go", func() bool {
		for _, sub := range []string{"build/tmp", "build/mnt", "snapshots/active"} {
			if ents, _ := os.ReadDir(filepath.Join(d.DataRoot, sub)); len(ents) != 0 {
				return false
			}
		}
		return true
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeGoToolchainTar writes the host's Go toolchain (what `go build` of
// a standard-library program needs) as a tar under usr/local/go.
func writeGoToolchainTar(t *testing.T, p string) {
	t.Helper()
	goroot := strings.TrimSpace(string(must(exec.Command("go", "env", "GOROOT").Output())))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(goroot, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(goroot, path)
		top := strings.Split(rel, string(filepath.Separator))[0]
		switch {
		case rel == ".":
		case top != "bin" && top != "pkg" && top != "src" && top != "go.env" && top != "VERSION":
			return skip(fi)
		case rel == filepath.Join("src", "cmd") || fi.Name() == "testdata" || strings.HasSuffix(rel, "_test.go"):
			return skip(fi)
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(path)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.Join("usr/local/go", rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(path)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func skip(fi os.FileInfo) error {
	if fi.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// The multi-stage case: a static Go program compiled in one stage
// by a Go toolchain (copied in from the host as a test base) and copied
// into FROM scratch.
func TestBuildMultiStageGoToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles Go inside a build container")
	}
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	toolTar := filepath.Join(t.TempDir(), "go.tar")
	writeGoToolchainTar(t, toolTar)
	d.MustDocker("import", toolTar, "gotoolchain")
	dir := writeContext(t, map[string]string{
		"hello.go": "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello from scratch\\n\") }\n",
		"go.mod":   "module hello\n\ngo 1.22\n",
		"Dockerfile": `FROM busybox AS build
COPY --from=gotoolchain /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:/bin GOCACHE=/tmp/gocache HOME=/tmp CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath
WORKDIR /src
COPY hello.go go.mod ./
RUN mkdir -p /tmp && go build -o /hello . && /hello

FROM scratch
COPY --from=build /hello /hello
ENTRYPOINT ["/hello"]
`,
	})
	r := d.Run(nil, 300*time.Second, "docker", "build", "-t", "hello", dir)
	if r.Code != 0 {
		t.Fatalf("docker build: %s", r)
	}
	if out := d.MustDocker("run", "--rm", "hello"); out != "hello from scratch\n" {
		t.Errorf("run printed %q", out)
	}
	var img []struct{ RootFS struct{ Layers []string } }
	if err := json.Unmarshal([]byte(d.MustDocker("image", "inspect", "hello")), &img); err != nil || len(img[0].RootFS.Layers) != 1 {
		t.Errorf("the scratch image should have one layer: %v %+v", err, img)
	}
}

// Independent stages build at the same time; the output keeps the
// classic builder's order. Each stage's RUN waits (up to a minute) for a
// /go file that the test puts into its container only once both RUN
// containers exist at the same time: no timing assumption.
func TestBuildParallelStages(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	const wait = `i=0; until [ -e /go ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done; rm /go`
	dir := writeContext(t, map[string]string{"Dockerfile": `FROM busybox AS a
RUN echo from-a > /a; ` + wait + `
FROM busybox AS b
RUN echo from-b > /b; ` + wait + `
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
CMD ["cat", "/a", "/b"]
`})
	cmd := exec.Command("docker", "build", "-t", "par", dir)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var ids []string
	deadline := time.After(60 * time.Second)
	for len(ids) != 2 {
		select {
		case err := <-exited:
			t.Fatalf("docker build ended (%v) before both stages' RUN containers ran at once:\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("timed out after 60s waiting for both stages' RUN containers at once; ps shows %q; build output so far:\n%s", ids, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		ids = strings.Fields(d.MustDocker("ps", "-q"))
	}
	for _, id := range ids {
		d.MustDocker("exec", id, "touch", "/go")
	}
	if err := <-exited; err != nil {
		t.Fatalf("docker build: %v\n%s", err, out.String())
	}
	text := out.String()
	last := -1
	for i := 1; i <= 8; i++ {
		at := strings.Index(text, fmt.Sprintf("Step %d/8 :", i))
		if at < last {
			t.Fatalf("step %d out of order:\n%s", i, text)
		}
		last = at
	}
	if got := d.MustDocker("run", "--rm", "par"); got != "from-a\nfrom-b\n" {
		t.Errorf("run printed %q", got)
	}
}

// TestBuildContextEscapingSymlinks: a context may hold symlinks that point
// outside it (Docker sends them as they are); copying such a link copies
// the link, and only a path that goes through one is refused.
func TestBuildContextEscapingSymlinks(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", "in the context\n")
	if err := os.Symlink("../../../../../etc", filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	write("Dockerfile", "FROM busybox\nCOPY a /a\n")
	d.MustDocker("build", "-q", "-t", "unused-link", dir)

	write("Dockerfile", "FROM busybox\nCOPY evil /evil\n")
	d.MustDocker("build", "-q", "-t", "copied-link", dir)
	if got := strings.TrimSpace(d.MustDocker("run", "--rm", "copied-link", "readlink", "/evil")); got != "../../../../../etc" {
		t.Errorf("COPY of the link gave %q, want the link itself", got)
	}

	write("Dockerfile", "FROM busybox\nCOPY evil/passwd /p\n")
	r := d.Docker("build", "-q", "-t", "through-link", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, "forbidden path outside the build context") {
		t.Errorf("COPY through an escaping link: %s", r)
	}
}
