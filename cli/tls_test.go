package cli

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/certs"
)

// tlsMaterial writes a CA, a server certificate for 127.0.0.1 and a
// client certificate into a docker-machine style directory.
func tlsMaterial(t *testing.T) string {
	t.Helper()
	ca, err := certs.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := ca.Server("server", []string{"127.0.0.1"}, time.Hour)
	cl, _ := ca.Client("client", time.Hour)
	dir := t.TempDir()
	if err := certs.WriteDir(dir, ca, srv, cl); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTLSDaemon runs the CLI against a daemon that requires a client
// certificate, configured as the docker CLI is: the environment, the
// flags, and their mistakes.
func TestTLSDaemon(t *testing.T) {
	dir := tlsMaterial(t)
	other := tlsMaterial(t)
	p := func(d, f string) string { return filepath.Join(d, f) }
	cfg, err := certs.ServerConfig(p(dir, certs.CAFile), p(dir, certs.ServerFile), p(dir, certs.ServerKeyFile), true)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.51")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Write([]byte("OK"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := "tcp://" + srv.Listener.Addr().String()
	tlsFlags := []string{"--tlsverify", "--tlscacert", p(dir, certs.CAFile), "--tlscert", p(dir, certs.CertFile), "--tlskey", p(dir, certs.KeyFile)}

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // "" = success
	}{
		{name: "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}},
		{name: "BERTH_HOST", env: map[string]string{"BERTH_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}},
		{name: "any DOCKER_TLS_VERIFY value verifies", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "0", "DOCKER_CERT_PATH": other}, wantErr: "certificate"},
		{name: "flags", args: append([]string{"-H", host}, tlsFlags...)},
		{name: "flags with =", args: []string{"--host=" + host, "--tlsverify=true", "--tlscacert=" + p(dir, certs.CAFile), "--tlscert=" + p(dir, certs.CertFile), "--tlskey=" + p(dir, certs.KeyFile)}},
		{name: "--tls skips server verification", args: []string{"-H", host, "--tls", "--tlscert", p(dir, certs.CertFile), "--tlskey", p(dir, certs.KeyFile)}, env: map[string]string{"DOCKER_CERT_PATH": other}},
		{name: "DOCKER_CONFIG is the default cert path", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": dir}},
		{name: "no client certificate", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": t.TempDir()}, args: []string{"--tlscacert", p(dir, certs.CAFile)}, wantErr: "certificate"},
		{name: "client certificate of another CA", args: []string{"-H", host, "--tlsverify", "--tlscacert", p(dir, certs.CAFile), "--tlscert", p(other, certs.CertFile), "--tlskey", p(other, certs.KeyFile)}, wantErr: "certificate"},
		{name: "server of another CA", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": other}, wantErr: "certificate"},
		{name: "missing CA", env: map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": t.TempDir()}, wantErr: "could not read CA certificate"},
		{name: "no TLS", env: map[string]string{"DOCKER_HOST": host}, wantErr: "Client sent an HTTP request to an HTTPS server"},
		{name: "--tlsverify with a unix socket", args: []string{"-H", "unix:///nonexistent.sock", "--tlsverify"}, wantErr: "need a tcp:// daemon host"},
		{name: "environment's TLS is not used for a unix socket", env: map[string]string{"DOCKER_HOST": "unix:///nonexistent.sock", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}, wantErr: "Cannot connect to the berth daemon at unix:///nonexistent.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"DOCKER_HOST", "BERTH_HOST", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONFIG"} {
				t.Setenv(k, tt.env[k])
			}
			a, _, errOut := testApp()
			code := mainWith(a, append(append([]string{}, tt.args...), "ps", "-q"))
			if tt.wantErr == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				return
			}
			if code == 0 || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("exit %d, stderr %q, want an error with %q", code, errOut, tt.wantErr)
			}
		})
	}
}

func TestSplitGlobalTLSFlags(t *testing.T) {
	g, rest, err := splitGlobalFlags([]string{"--tlsverify", "--tlscacert", "/c", "--tlscert=/d", "--tls=false", "--tlskey", "/k", "-H", "tcp://h:1", "ps", "--tls"})
	if err != nil || strings.Join(g, " ") != "--tlsverify --tlscacert /c --tlscert=/d --tls=false --tlskey /k -H tcp://h:1" || strings.Join(rest, " ") != "ps --tls" {
		t.Errorf("got %q %q %v", g, rest, err)
	}
	if _, _, err := splitGlobalFlags([]string{"--tlscacert"}); err == nil {
		t.Error("want error for missing value")
	}
}
