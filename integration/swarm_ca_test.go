package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// pemCert matches one PEM certificate, alone on its lines.
var pemCert = regexp.MustCompile(`(?s)-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$`)

// writeRootCA writes a self-signed root CA certificate and its key, valid
// for 20 years (SwarmKit refuses a root that expires too soon), and
// returns their paths.
func writeRootCA(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "berth-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	writeFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// trustRoot is the swarm's root CA as `docker swarm ca` prints it.
func trustRoot(t *testing.T, d *testenv.Daemon) string {
	t.Helper()
	root := d.MustDocker("swarm", "ca")
	if !pemCert.MatchString(root) {
		t.Fatalf("swarm ca printed:\n%s", root)
	}
	return root
}

// TestSwarmCA rotates a one-manager swarm's root CA with the docker CLI
// and berth's: a new root SwarmKit makes, then one given as files; each
// rotation completes with the node's certificate reissued and the new
// root printed.
func TestSwarmCA(t *testing.T) {
	d := testenv.StartDaemon(t)
	initSwarm(t, d)

	first := trustRoot(t, d)
	if got := d.MustBerth("swarm", "ca"); got != first {
		t.Errorf("berth swarm ca printed:\n%s\ndocker's:\n%s", got, first)
	}

	// Flags that need --rotate are refused by both CLIs in docker's words.
	for _, flag := range []string{"--cert-expiry=48h", "--external-ca=protocol=cfssl,url=https://ca.example"} {
		dr, br := d.Docker("swarm", "ca", flag), d.Berth("swarm", "ca", flag)
		name := strings.SplitN(strings.TrimPrefix(flag, "--"), "=", 2)[0]
		want := "`--" + name + "` flag requires the `--rotate` flag to update the CA"
		if dr.Code == 0 || br.Code != dr.Code || !strings.Contains(dr.Stderr, want) || !strings.Contains(br.Stderr, want) {
			t.Errorf("%s without --rotate:\ndocker: %s\nberth: %s", flag, dr, br)
		}
	}

	r := d.Run(nil, 2*time.Minute, "docker", "swarm", "ca", "--rotate")
	if r.Code != 0 || !pemCert.MatchString(r.Stdout) {
		t.Fatalf("docker swarm ca --rotate: %s", r)
	}
	second := pemCert.FindString(r.Stdout)
	if second == first {
		t.Fatalf("the root did not change:\n%s", second)
	}
	if got := trustRoot(t, d); got != second {
		t.Errorf("swarm ca after the rotation:\n%s\nthe rotation printed:\n%s", got, second)
	}
	if got := d.MustBerth("swarm", "ca"); got != second {
		t.Errorf("berth swarm ca printed:\n%s\ndocker's:\n%s", got, second)
	}
	// The node got a certificate from the new root and trusts it.
	if got := d.MustDocker("node", "inspect", "self", "--format", "{{.Description.TLSInfo.TrustRoot}}"); strings.TrimSpace(got) != strings.TrimSpace(second) {
		t.Errorf("node trust root:\n%s", got)
	}

	r = d.Berth("swarm", "ca", "--rotate", "-q")
	if r.Code != 0 || r.Stdout != "" {
		t.Fatalf("berth swarm ca --rotate -q: %s", r)
	}
	third := trustRoot(t, d)
	if third == second || third == first {
		t.Fatalf("the root did not change after berth's rotation:\n%s", third)
	}
	if got := d.MustDocker("node", "inspect", "self", "--format", "{{.Description.TLSInfo.TrustRoot}}"); strings.TrimSpace(got) != strings.TrimSpace(third) {
		t.Errorf("node trust root after berth's rotation:\n%s", got)
	}

	// A root given as files: berth waits for it and prints it, the final
	// progress lines first.
	certPath, keyPath := writeRootCA(t)
	given, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	r = d.Berth("swarm", "ca", "--rotate", "--ca-cert", certPath, "--ca-key", keyPath, "--cert-expiry", "720h")
	progress := regexp.MustCompile(`^desired root digest: sha256:[0-9a-f]{64}\n` +
		`  rotated TLS certificates:  \[={50}>\] 1/1 nodes\n` +
		`  rotated CA certificates:   \[={50}>\] 1/1 nodes\n`)
	if r.Code != 0 || !progress.MatchString(r.Stdout) || !strings.HasSuffix(r.Stdout, string(given)) {
		t.Fatalf("berth swarm ca --rotate --ca-cert --ca-key: %s", r)
	}
	if got := trustRoot(t, d); got != string(given) {
		t.Errorf("swarm ca after rotating to the given root:\n%s", got)
	}
	if got := d.MustDocker("info", "--format", "{{.Swarm.Cluster.Spec.CAConfig.NodeCertExpiry}}"); got != "720h0m0s\n" {
		t.Errorf("node cert expiry %q", got)
	}
	// A certificate without its key (nor an external CA) is refused.
	if r := d.Berth("swarm", "ca", "--rotate", "--ca-cert", certPath); r.Code == 0 ||
		!strings.Contains(r.Stderr, "the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well") {
		t.Errorf("--ca-cert alone: %s", r)
	}
}
