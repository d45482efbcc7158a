package certs

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// material is a CA, a server certificate for 127.0.0.1 and localhost, and
// a client certificate, written with WriteDir.
func material(t *testing.T) (dir string, ca *Pair) {
	t.Helper()
	ca, err := NewCA("test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("server", []string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.Client("client", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "certs")
	if err := WriteDir(dir, ca, srv, cl); err != nil {
		t.Fatal(err)
	}
	return dir, ca
}

func TestMakeAndWrite(t *testing.T) {
	dir, ca := material(t)
	for name, mode := range map[string]os.FileMode{CAFile: 0o644, CertFile: 0o644, KeyFile: 0o600, ServerFile: 0o644, ServerKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	srv, err := Load(filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Cert.IPAddresses) != 1 || !srv.Cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || len(srv.Cert.DNSNames) != 1 || srv.Cert.DNSNames[0] != "localhost" {
		t.Errorf("server SANs: %v %v", srv.Cert.IPAddresses, srv.Cert.DNSNames)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("server certificate does not chain to the CA: %v", err)
	}
	cl, err := Load(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate not valid for client auth: %v", err)
	}
	if _, err := ca.Server("x", nil, 0); err == nil {
		t.Error("server certificate without hosts accepted")
	}
}

// handshake runs one TLS handshake between the two configs over loopback
// and returns the client's and the server's errors.
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		err = c.(*tls.Conn).Handshake()
		if err == nil {
			_, err = c.Write([]byte("ok"))
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), client)
	if err == nil {
		// TLS 1.3: a refused client certificate shows on the first read.
		_, err = io.ReadAll(c)
		c.Close()
	}
	return err, <-done
}

func TestConfigs(t *testing.T) {
	dir, _ := material(t)
	other, _ := material(t)
	p := func(d, f string) string { return filepath.Join(d, f) }
	tests := []struct {
		name            string
		verifyServer    bool   // daemon --tlsverify
		clientDir       string // "" = no client certificate
		verifyClient    bool
		clientCA        string
		wantServerError string
	}{
		{name: "mutual TLS", verifyServer: true, clientDir: dir, verifyClient: true, clientCA: p(dir, CAFile)},
		{name: "client certificate from another CA", verifyServer: true, clientDir: other, verifyClient: true, clientCA: p(dir, CAFile), wantServerError: "certificate"},
		{name: "no client certificate", verifyServer: true, verifyClient: true, clientCA: p(dir, CAFile), wantServerError: "certificate"},
		{name: "--tls only takes any client", verifyServer: false, verifyClient: true, clientCA: p(dir, CAFile)},
		{name: "client without --tlsverify", verifyServer: true, clientDir: dir, verifyClient: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := ServerConfig(p(dir, CAFile), p(dir, ServerFile), p(dir, ServerKeyFile), tt.verifyServer)
			if err != nil {
				t.Fatal(err)
			}
			var cert, key string
			if tt.clientDir != "" {
				cert, key = p(tt.clientDir, CertFile), p(tt.clientDir, KeyFile)
			}
			cc, err := ClientConfig(tt.clientCA, cert, key, tt.verifyClient)
			if err != nil {
				t.Fatal(err)
			}
			cerr, serr := handshake(t, sc, cc)
			if tt.wantServerError == "" {
				if cerr != nil || serr != nil {
					t.Fatalf("handshake failed: client %v, server %v", cerr, serr)
				}
				return
			}
			if serr == nil || !strings.Contains(serr.Error(), tt.wantServerError) || cerr == nil {
				t.Fatalf("want refusal (%q): client %v, server %v", tt.wantServerError, cerr, serr)
			}
		})
	}
	t.Run("server certificate from another CA", func(t *testing.T) {
		sc, _ := ServerConfig(p(other, CAFile), p(other, ServerFile), p(other, ServerKeyFile), true)
		cc, _ := ClientConfig(p(dir, CAFile), p(other, CertFile), p(other, KeyFile), true)
		if cerr, _ := handshake(t, sc, cc); cerr == nil || !strings.Contains(cerr.Error(), "certificate") {
			t.Fatalf("client accepted an unknown server: %v", cerr)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	dir, _ := material(t)
	p := func(f string) string { return filepath.Join(dir, f) }
	if _, err := ServerConfig(p("absent.pem"), p(ServerFile), p(ServerKeyFile), true); err == nil || !strings.Contains(err.Error(), "could not read CA certificate") {
		t.Errorf("missing CA: %v", err)
	}
	if _, err := ServerConfig("", p(ServerFile), p(CertFile), false); err == nil || !strings.Contains(err.Error(), "could not load X509 key pair") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := ClientConfig(p(KeyFile), "", "", true); err == nil || !strings.Contains(err.Error(), "failed to append certificates") {
		t.Errorf("CA file without certificates: %v", err)
	}
	if _, err := ClientConfig("", p(CertFile), "", false); err == nil {
		t.Error("certificate without key accepted")
	}
	cc, err := ClientConfig("", "", "", false)
	if err != nil || !cc.InsecureSkipVerify || cc.MinVersion != tls.VersionTLS12 {
		t.Errorf("--tls client: %+v %v", cc, err)
	}
}
