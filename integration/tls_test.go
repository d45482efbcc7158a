package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/internal/testenv"
)

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate in dir (docker-machine's ca.pem, cert.pem, key.pem,
// server.pem, server-key.pem).
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	ca, err := certs.NewCA("berth test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("berth test daemon", []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.Client("berth test client", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteDir(dir, ca, srv, cl); err != nil {
		t.Fatal(err)
	}
}

// TestTLSDaemonMutualAuth serves the API on the unix socket and on
// tcp://127.0.0.1:PORT with --tlsverify, and reaches it as a docker-machine
// node is reached: DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for
// the docker and berth CLIs, a TLSConfig for docker-py. A client
// certificate of another CA, or none, is refused.
func TestTLSDaemonMutualAuth(t *testing.T) {
	dir := t.TempDir()
	writeCerts(t, dir)
	other := t.TempDir()
	writeCerts(t, other)
	noCert := t.TempDir()
	ca, err := os.ReadFile(filepath.Join(dir, certs.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noCert, certs.CAFile), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := testenv.StartDaemonArgs(t, "-H", "tcp://"+addr, "--tlsverify",
		"--tlscacert", filepath.Join(dir, certs.CAFile),
		"--tlscert", filepath.Join(dir, certs.ServerFile),
		"--tlskey", filepath.Join(dir, certs.ServerKeyFile))
	d.ImportBusybox("busybox")
	tcpEnv := func(certDir string) []string {
		return []string{"DOCKER_HOST=tcp://" + addr, "BERTH_HOST=tcp://" + addr, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certDir}
	}
	must := func(r testenv.Result, what string) string {
		t.Helper()
		if r.Code != 0 {
			t.Fatalf("%s: %s\ndaemon log:\n%s", what, r, d.Log())
		}
		return r.Stdout
	}
	for _, cli := range []string{"docker", testenv.Binary(t)} {
		name := filepath.Base(cli)
		env := tcpEnv(dir)
		if out := must(d.RunEnv(env, nil, 60*time.Second, cli, "info", "--format", "{{.ID}}"), name+" info"); strings.TrimSpace(out) == "" {
			t.Errorf("%s info over TLS: empty ID", name)
		}
		// Attach is a hijacked stream: it too runs over TLS.
		if out := must(d.RunEnv(env, nil, 60*time.Second, cli, "run", "--rm", "busybox", "echo", "hi"), name+" run"); out != "hi\n" {
			t.Errorf("%s run over TLS: %q", name, out)
		}
		for what, certDir := range map[string]string{"a client certificate of another CA": other, "no client certificate": noCert} {
			// The daemon is trusted (--tlscacert); the client's own
			// certificate is certDir's.
			args := []string{"--tlscacert", filepath.Join(dir, certs.CAFile), "version"}
			if r := d.RunEnv(tcpEnv(certDir), nil, 30*time.Second, cli, args...); r.Code == 0 || !strings.Contains(r.Stderr, "certificate") {
				t.Errorf("%s with %s: want a refused handshake, got %s", name, what, r)
			}
		}
	}
	// The unix socket still answers, alongside.
	if out := d.MustBerth("version", "--format", "{{.Server.Os}}"); strings.TrimSpace(out) != "linux" {
		t.Errorf("berth version over the unix socket: %q", out)
	}

	py := fmt.Sprintf(`
import docker
tls = docker.tls.TLSConfig(client_cert=(%q, %q), ca_cert=%q, verify=True)
c = docker.DockerClient(base_url="tcp://%s", tls=tls)
print(c.ping())
`, filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile), filepath.Join(dir, certs.CAFile), addr)
	// requests would verify with $REQUESTS_CA_BUNDLE or $CURL_CA_BUNDLE
	// instead of the TLSConfig's CA when they are set.
	pyEnv := []string{"REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE="}
	if out := must(d.RunEnv(pyEnv, nil, 60*time.Second, "python3", "-c", py), "docker-py ping"); strings.TrimSpace(out) != "True" {
		t.Errorf("docker-py ping over TLS: %q", out)
	}
}

// TestTLSDaemonRefusesPlainTCP: a tcp:// host without --tls or
// --tlsverify, or TLS whose certificates cannot be loaded, stops the
// daemon at start, before it touches any state.
func TestTLSDaemonRefusesPlainTCP(t *testing.T) {
	tmp := t.TempDir()
	port := testenv.FreePort(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain tcp", []string{"-H", fmt.Sprintf("tcp://127.0.0.1:%d", port)}, "binding to an unauthenticated TCP address is refused: use --tlsverify"},
		{"missing certificates", []string{"-H", fmt.Sprintf("tcp://127.0.0.1:%d", port), "--tlsverify", "--tlscacert", filepath.Join(tmp, "ca.pem"),
			"--tlscert", filepath.Join(tmp, "server.pem"), "--tlskey", filepath.Join(tmp, "server-key.pem")}, "could not load X509 key pair"},
		{"fd://", []string{"-H", "fd://"}, "fd:// (systemd socket activation) is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dataRoot := filepath.Join(tmp, "data-"+strings.ReplaceAll(tt.name, " ", "-"))
			args := append([]string{"daemon", "--data-root", dataRoot, "--exec-root", filepath.Join(tmp, "exec"),
				"--config-file", filepath.Join(tmp, "absent.json")}, tt.args...)
			// An absent --config-file given on the command line is an
			// error: write an empty one.
			if err := os.WriteFile(filepath.Join(tmp, "absent.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(ctx, testenv.Binary(t), args...).CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("daemon did not refuse to start (%v):\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("daemon error: %s\nwant %q", out, tt.want)
			}
			if _, err := os.Stat(dataRoot); err == nil {
				t.Errorf("refused daemon created %s", dataRoot)
			}
		})
	}
}
