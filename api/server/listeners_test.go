package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/certs"
)

// TestServeSeveralListeners serves one server on a unix socket and a
// mutual-TLS TCP listener: both answer, a stream hijacked over TLS is
// tracked, and ctx's end closes both listeners and the stream.
func TestServeSeveralListeners(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvPair, _ := ca.Server("server", []string{"127.0.0.1"}, time.Hour)
	clPair, _ := ca.Client("client", time.Hour)
	if err := certs.WriteDir(dir, ca, srvPair, clPair); err != nil {
		t.Fatal(err)
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	tlsCfg, err := certs.ServerConfig(p(certs.CAFile), p(certs.ServerFile), p(certs.ServerKeyFile), true)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	unix, err := ListenUnix(sock, -1)
	if err != nil {
		t.Fatal(err)
	}

	blockIn := &blockingBackend{fakeBackend: &fakeBackend{}, entered: make(chan struct{})}
	s, _ := newTestServer(t, blockIn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, unix, tls.NewListener(tcp, tlsCfg)) }()

	tcpHost := "tcp://" + tcp.Addr().String()
	overTLS, err := client.New(client.WithTLSClientConfig(p(certs.CAFile), p(certs.CertFile), p(certs.KeyFile)), client.WithHost(tcpHost))
	if err != nil {
		t.Fatal(err)
	}
	defer overTLS.Close()
	overUnix, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	defer overUnix.Close()
	for name, c := range map[string]*client.Client{"tls": overTLS, "unix": overUnix} {
		if _, err := c.Ping(context.Background(), client.PingOptions{}); err != nil {
			t.Fatalf("ping over %s: %v", name, err)
		}
	}
	// Plain HTTP to the TLS port gets nowhere.
	plain, _ := client.New(client.WithHost(tcpHost))
	defer plain.Close()
	if _, err := plain.Ping(context.Background(), client.PingOptions{}); err == nil {
		t.Error("plain HTTP answered on the TLS listener")
	}

	res, err := overTLS.ContainerAttach(context.Background(), "c1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	<-blockIn.entered
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	rd := make(chan error, 1)
	go func() { _, err := io.ReadAll(res.Reader); rd <- err }()
	select {
	case <-rd:
	case <-time.After(5 * time.Second):
		t.Fatal("stream hijacked over TLS still open after shutdown")
	}
	if c, err := net.Dial("tcp", tcp.Addr().String()); err == nil {
		c.Close()
		t.Error("TCP listener still open after shutdown")
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		t.Error("unix listener still open after shutdown")
	}
}

func TestServeNoListener(t *testing.T) {
	if err := newServerOnly(t).Serve(context.Background()); err == nil {
		t.Fatal("Serve without a listener succeeded")
	}
}
