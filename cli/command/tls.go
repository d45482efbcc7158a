package command

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/certs"
)

// TLSOptions are the docker CLI's global --tls, --tlsverify, --tlscacert,
// --tlscert and --tlskey, with the same environment: DOCKER_TLS and
// DOCKER_TLS_VERIFY (any non-empty value turns them on) and
// DOCKER_CERT_PATH, the directory of ca.pem, cert.pem and key.pem
// (default: $DOCKER_CONFIG, else ~/.docker).
type TLSOptions struct {
	TLS, Verify               bool
	CAFile, CertFile, KeyFile string
	flags                     *pflag.FlagSet // which of them were given
}

// AddFlags binds the options to fs, their defaults from the environment.
func (o *TLSOptions) AddFlags(fs *pflag.FlagSet) {
	o.flags = fs
	dir := certPath()
	fs.BoolVar(&o.TLS, "tls", os.Getenv("DOCKER_TLS") != "", "Use TLS; implied by --tlsverify")
	fs.BoolVar(&o.Verify, "tlsverify", os.Getenv("DOCKER_TLS_VERIFY") != "", "Use TLS and verify the remote")
	fs.StringVar(&o.CAFile, "tlscacert", filepath.Join(dir, certs.CAFile), "Trust certs signed only by this CA")
	fs.StringVar(&o.CertFile, "tlscert", filepath.Join(dir, certs.CertFile), "Path to TLS certificate file")
	fs.StringVar(&o.KeyFile, "tlskey", filepath.Join(dir, certs.KeyFile), "Path to TLS key file")
}

// certPath is the docker CLI's default certificate directory.
func certPath() string {
	if p := os.Getenv("DOCKER_CERT_PATH"); p != "" {
		return p
	}
	if p := os.Getenv("DOCKER_CONFIG"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

func (o *TLSOptions) changed(name string) bool {
	return o.flags != nil && o.flags.Changed(name)
}

// on says whether TLS is used: --tls, or --tlsverify given at all (even
// --tlsverify=false turns TLS on, as in the docker CLI).
func (o *TLSOptions) on() bool { return o.TLS || o.Verify || o.changed("tlsverify") }

// Config is the TLS configuration for host, or nil when TLS is off. TLS
// is spoken to tcp:// hosts only: a unix socket has none, so the
// environment's settings are not used for one, and --tls or --tlsverify
// given with one is an error. As in the docker CLI, the default cert.pem
// and key.pem are presented only if they exist; the CA is needed to
// verify the daemon.
func (o *TLSOptions) Config(host string) (*tls.Config, error) {
	if !o.on() {
		return nil, nil
	}
	if !strings.HasPrefix(host, "tcp://") {
		if o.changed("tls") || o.changed("tlsverify") {
			return nil, fmt.Errorf("--tls and --tlsverify need a tcp:// daemon host, not %s", host)
		}
		return nil, nil
	}
	cert, key := o.CertFile, o.KeyFile
	if !o.changed("tlscert") && !exists(cert) {
		cert = ""
	}
	if !o.changed("tlskey") && !exists(key) {
		key = ""
	}
	cfg, err := certs.ClientConfig(o.CAFile, cert, key, o.Verify)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return cfg, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

// tlsClient is the Engine API client's HTTP client speaking TLS with cfg
// (client.WithHost then sets its dialer for the host).
func tlsClient(cfg *tls.Config) client.Opt {
	return client.WithHTTPClient(&http.Client{
		Transport: &http.Transport{
			TLSClientConfig: cfg,
			// As the client's own default transport.
			MaxIdleConns:    6,
			IdleConnTimeout: 30 * time.Second,
		},
		CheckRedirect: client.CheckRedirect,
	})
}
