package machine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/certs"
)

// The store's CA (<store>/certs/ca.pem, ca-key.pem) signs every machine's
// server certificate and the one client certificate (cert.pem, key.pem)
// that reaches them all, as docker-machine does. Each machine's directory
// holds a copy of the client files beside its server's, so it is a
// DOCKER_CERT_PATH by itself.

// storeCA loads the store's CA and client certificate, making them on
// first use.
func (s *Store) storeCA() (ca, client *certs.Pair, err error) {
	dir := s.CertsDir()
	caCert, caKey := filepath.Join(dir, certs.CAFile), filepath.Join(dir, certs.CAKeyFile)
	if ca, err = certs.Load(caCert, caKey); err == nil {
		client, err = certs.Load(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile))
		if err == nil {
			return ca, client, nil
		}
	}
	if _, serr := os.Stat(caCert); serr == nil {
		return nil, nil, fmt.Errorf("machine store CA in %s: %w", dir, err)
	}
	if ca, err = certs.NewCA("berth-machine-ca", 0); err != nil {
		return nil, nil, err
	}
	if client, err = ca.Client("berth-machine-client", 0); err != nil {
		return nil, nil, err
	}
	if err := certs.WriteDir(dir, ca, nil, client); err != nil {
		return nil, nil, err
	}
	if err := ca.Write(caCert, caKey); err != nil {
		return nil, nil, err
	}
	return ca, client, nil
}

// WriteCerts makes the machine's server certificate (for its IP and name)
// and puts it, the CA and the client files into the machine's directory.
func (s *Store) WriteCerts(m *Machine) error {
	ca, client, err := s.storeCA()
	if err != nil {
		return err
	}
	hosts := []string{m.IP, m.Name, "localhost", "127.0.0.1"}
	server, err := ca.Server(m.Name, hosts, 0)
	if err != nil {
		return fmt.Errorf("server certificate of %s: %w", m.Name, err)
	}
	return certs.WriteDir(m.dir, ca, server, client)
}
