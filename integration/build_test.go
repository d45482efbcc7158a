package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
