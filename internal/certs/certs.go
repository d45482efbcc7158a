// Package certs makes and loads the TLS material of a Docker-style TCP
// endpoint (`berth daemon -H tcp://IP:2376 --tlsverify`): a CA, a server
// certificate for given IPs and DNS names, a client certificate, written as
// PEM files in docker-machine's layout — ca.pem, cert.pem and key.pem for
// the client (what DOCKER_CERT_PATH points at), server.pem and
// server-key.pem for the daemon — and the crypto/tls configurations the
// daemon and the CLI build from such files (TLS 1.2 or newer).
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DefaultValidity is how long a certificate made here is valid when the
// caller does not say (docker-machine's three years).
const DefaultValidity = 3 * 365 * 24 * time.Hour

// File names in a certificate directory, as docker-machine and the docker
// CLI use them.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	CertFile      = "cert.pem"
	KeyFile       = "key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
)

// Pair is a certificate and its private key, parsed and as PEM.
type Pair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a self-signed CA valid for validFor (DefaultValidity if 0).
func NewCA(commonName string, validFor time.Duration) (*Pair, error) {
	tmpl, err := template(commonName, validFor)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return issue(tmpl, nil)
}

// Server makes a certificate signed by ca for a server reached at hosts,
// each an IP address or a DNS name (the subject alternative names).
func (ca *Pair) Server(commonName string, hosts []string, validFor time.Duration) (*Pair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("server certificate: no IP address or DNS name")
	}
	tmpl, err := template(commonName, validFor)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return issue(tmpl, ca)
}

// Client makes a client certificate signed by ca.
func (ca *Pair) Client(commonName string, validFor time.Duration) (*Pair, error) {
	tmpl, err := template(commonName, validFor)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return issue(tmpl, ca)
}

// Write writes the certificate to certPath (mode 0644) and the key to
// keyPath (mode 0600).
func (p *Pair) Write(certPath, keyPath string) error {
	if err := os.WriteFile(certPath, p.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, p.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}

// WriteDir writes docker-machine's files into dir (made if missing): the
// CA certificate as ca.pem, client as cert.pem/key.pem and server as
// server.pem/server-key.pem; a nil client or server is left out. The CA's
// key is not written (Pair.Write does that, to ca-key.pem by convention).
func WriteDir(dir string, ca, server, client *Pair) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certificate directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAFile), ca.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	if client != nil {
		if err := client.Write(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
			return fmt.Errorf("client %w", err)
		}
	}
	if server != nil {
		if err := server.Write(filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile)); err != nil {
			return fmt.Errorf("server %w", err)
		}
	}
	return nil
}

// Load reads a certificate and its key from PEM files (a CA kept on disk
// to sign more certificates, for one).
func Load(certPath, keyPath string) (*Pair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", certPath, keyPath, err)
	}
	cert, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", certPath, err)
	}
	signer, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", keyPath, kp.PrivateKey)
	}
	return &Pair{Cert: cert, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func template(commonName string, validFor time.Duration) (*x509.Certificate, error) {
	if validFor <= 0 {
		validFor = DefaultValidity
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"berth"}},
		NotBefore:    now.Add(-5 * time.Minute), // some clock skew
		NotAfter:     now.Add(validFor),
	}, nil
}

// issue makes a key and signs tmpl with parent (self-signed if nil).
func issue(tmpl *x509.Certificate, parent *Pair) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	signCert, signKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signCert, signKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signCert, key.Public(), signKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &Pair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
