package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a `berth registry serve` started for a test.
type Registry struct {
	Addr string // host:port
	Root string
	cmd  *exec.Cmd
}

// RegistryOptions are extra flags for StartRegistry.
type RegistryOptions struct {
	Host     string // listen host, default 127.0.0.1
	Htpasswd string
	TLSCert  string
	TLSKey   string
	// ProxyRemote makes it a pull-through cache of this registry URL.
	ProxyRemote string
}

// StartRegistry runs `berth registry serve` on a free port; it is stopped
// (SIGTERM, as a user would) when the test ends.
func StartRegistry(t testing.TB, o RegistryOptions) *Registry {
	t.Helper()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(o.Host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &Registry{Addr: addr, Root: t.TempDir()}
	args := []string{"registry", "serve", "--addr", addr, "--root", r.Root}
	if o.Htpasswd != "" {
		args = append(args, "--htpasswd", o.Htpasswd)
	}
	if o.TLSCert != "" {
		args = append(args, "--tls-cert", o.TLSCert, "--tls-key", o.TLSKey)
	}
	if o.ProxyRemote != "" {
		args = append(args, "--proxy-remote", o.ProxyRemote)
	}
	r.cmd = exec.Command(Binary(t), args...)
	logf, _ := os.Create(filepath.Join(r.Root, "..", "registry.log"))
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	scheme := "http"
	client := &http.Client{Timeout: time.Second}
	if o.TLSCert != "" {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: insecureTLS()}
	}
	Eventually(t, 10*time.Second, "registry to answer", func() bool {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return r
}

// WriteHtpasswd writes a bcrypt htpasswd file with one user.
func WriteHtpasswd(t testing.TB, dir, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%s:%s\n", user, h)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteTLS writes a CA and a server certificate for ip into dir and
// returns the paths of ca.crt, server.crt and server.key.
func WriteTLS(t testing.TB, dir string, ip net.IP) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{ip}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.crt", "CERTIFICATE", caDER), write("server.crt", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}
