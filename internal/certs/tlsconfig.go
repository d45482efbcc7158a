package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerConfig is the daemon's TLS configuration (dockerd's --tls and
// --tlsverify): it presents certFile/keyFile and, when verify is set,
// requires a client certificate signed by the CA in caFile. TLS 1.2 or
// newer; HTTP/1.1 only, since attach and exec hijack the connection.
func ServerConfig(caFile, certFile, keyFile string, verify bool) (*tls.Config, error) {
	kp, err := keyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{kp},
		NextProtos:   []string{"http/1.1"},
	}
	if verify {
		pool, err := caPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig is the CLI's TLS configuration (the docker CLI's --tls and
// --tlsverify): when verify is set the server's certificate must chain to
// the CA in caFile only (the system roots if caFile is ""); otherwise it is
// not checked. A client certificate is presented when certFile and keyFile
// are given. TLS 1.2 or newer.
func ClientConfig(caFile, certFile, keyFile string, verify bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if verify {
		if caFile != "" {
			pool, err := caPool(caFile)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = pool
		}
	} else {
		cfg.InsecureSkipVerify = true //nolint:gosec // --tls without --tlsverify, as the docker CLI
	}
	switch {
	case certFile != "" && keyFile != "":
		kp, err := keyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{kp}
	case certFile != "" || keyFile != "":
		return nil, errors.New("both a client certificate and its key are needed (--tlscert and --tlskey)")
	}
	return cfg, nil
}

func keyPair(certFile, keyFile string) (tls.Certificate, error) {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("could not load X509 key pair (cert: %q, key: %q): %w", certFile, keyFile, err)
	}
	return kp, nil
}

func caPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("could not read CA certificate %q: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("failed to append certificates from PEM file: %q", caFile)
	}
	return pool, nil
}
