// Package registry is berth's side of the OCI distribution protocol: it
// pulls images from any OCI/Docker registry into the daemon's image store
// and pushes them back, and checks logins, on github.com/google/
// go-containerregistry. Registry settings (insecure registries, mirrors,
// CA certificates in certs.d directories) come from the daemon's config.
// Layer downloads and compressed layers for a push are staged in
// Config.TempDir (under the data root), which New empties.
// The embedded registry server is the sub-package server.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	registrytypes "github.com/moby/moby/api/types/registry"
)

// Config holds the registry settings of the daemon (daemon.json keys
// "insecure-registries" and "registry-mirrors", and the certs.d dirs).
type Config struct {
	// Insecure lists registries (host[:port] or CIDR) reached over plain
	// HTTP or unverified TLS. 127.0.0.0/8 and localhost always are, as
	// in Docker.
	Insecure []string
	// Mirrors are tried, in order, before Docker Hub for Hub images.
	Mirrors []string
	// CertsDirs hold HOST[:PORT]/ca.crt (and client.cert/client.key) per
	// registry: /etc/berth/certs.d and Docker's /etc/docker/certs.d.
	CertsDirs []string
	// TempDir holds the temporary files of pulls (downloaded layers) and
	// pushes (compressed layers): <data-root>/tmp, not $TMPDIR, so they
	// count against the data root and a killed daemon's leftovers are
	// found. New empties it. "" means the system's temp dir.
	TempDir string
}

// Client talks to registries.
type Client struct {
	cfg Config
	log *slog.Logger
}

// New returns a client with cfg. It creates cfg.TempDir and removes what
// an earlier daemon left in it (the downloads of a pull it was killed in).
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if len(cfg.CertsDirs) == 0 {
		cfg.CertsDirs = []string{"/etc/berth/certs.d", "/etc/docker/certs.d"}
	}
	if cfg.TempDir != "" {
		if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
			return nil, fmt.Errorf("create registry temp dir: %w", err)
		}
		entries, err := os.ReadDir(cfg.TempDir)
		if err != nil {
			return nil, fmt.Errorf("read registry temp dir: %w", err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(cfg.TempDir, e.Name())); err != nil {
				log.Warn("remove leftover temporary file", "path", filepath.Join(cfg.TempDir, e.Name()), "err", err)
			}
		}
	}
	return &Client{cfg: cfg, log: log}, nil
}

// PullTempPrefix and PushTempPrefix start the names of the temporary
// files of pulls and pushes in Config.TempDir.
const (
	PullTempPrefix = "berth-pull-"
	PushTempPrefix = "berth-push-"
)

// DecodeAuth reads an X-Registry-Auth header (base64url JSON, padded or
// not); an empty header means anonymous.
func DecodeAuth(h string) (registrytypes.AuthConfig, error) {
	var ac registrytypes.AuthConfig
	if h == "" {
		return ac, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	}
	if err != nil {
		return ac, fmt.Errorf("invalid X-Registry-Auth header: %w", err)
	}
	if len(b) == 0 || string(b) == "{}" {
		return ac, nil
	}
	if err := json.Unmarshal(b, &ac); err != nil {
		return ac, fmt.Errorf("invalid X-Registry-Auth header: %w", err)
	}
	return ac, nil
}

func authenticator(ac registrytypes.AuthConfig) authn.Authenticator {
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == "" && ac.Auth == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	})
}

// insecure reports whether host (host[:port]) may be reached without
// verified TLS.
func (c *Client) insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, e := range c.cfg.Insecure {
		if e == host || e == h {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil {
			if ip := net.ParseIP(h); ip != nil && n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// ParseRef turns a Docker reference ("redis", "localhost:5000/a:b",
// "x@sha256:…") into go-containerregistry's, with Docker Hub's defaults.
func (c *Client) ParseRef(s string) (name.Reference, error) {
	opts := []name.Option{name.WithDefaultRegistry("index.docker.io")}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference format: %s", s)
	}
	if c.insecure(r.Context().RegistryStr()) {
		r, err = name.ParseReference(s, append(opts, name.Insecure)...)
		if err != nil {
			return nil, fmt.Errorf("invalid reference format: %s", s)
		}
	}
	return r, nil
}

// transport is the HTTP transport for a registry: its CA and client
// certificates from the certs.d dirs, unverified TLS for insecure ones.
func (c *Client) transport(host string) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, dir := range c.cfg.CertsDirs {
		d := filepath.Join(dir, host)
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt") && !strings.HasSuffix(e.Name(), ".cert"):
				pem, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				if tc.RootCAs == nil {
					pool, err := x509.SystemCertPool()
					if err != nil || pool == nil {
						pool = x509.NewCertPool()
					}
					tc.RootCAs = pool
				}
				tc.RootCAs.AppendCertsFromPEM(pem)
			case strings.HasSuffix(e.Name(), ".cert"):
				key := strings.TrimSuffix(p, ".cert") + ".key"
				if cert, err := tls.LoadX509KeyPair(p, key); err == nil {
					tc.Certificates = append(tc.Certificates, cert)
				}
			}
		}
	}
	if c.insecure(host) {
		tc.InsecureSkipVerify = true
	}
	t.TLSClientConfig = tc
	return t
}

func (c *Client) remoteOptions(ctx context.Context, ref name.Reference, ac registrytypes.AuthConfig) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(authenticator(ac)),
		remote.WithTransport(c.transport(ref.Context().RegistryStr())),
		remote.WithUserAgent("berth"),
		remote.WithJobs(4),
	}
}

// Login checks credentials against a registry's /v2/ endpoint.
func (c *Client) Login(ctx context.Context, ac registrytypes.AuthConfig) (string, error) {
	server := ac.ServerAddress
	if server == "" || strings.Contains(server, "index.docker.io") || server == "docker.io" {
		server = "index.docker.io"
	}
	server = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	server = strings.TrimSuffix(strings.TrimSuffix(server, "/v1/"), "/")
	opts := []name.Option{}
	if c.insecure(server) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(server, opts...)
	if err != nil {
		return "", fmt.Errorf("invalid registry %q: %w", ac.ServerAddress, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rt, err := transport.NewWithContext(ctx, reg, authenticator(ac), c.transport(server), []string{})
	if err != nil {
		return "", loginError(reg, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", loginError(reg, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", fmt.Errorf("login to %s: unauthorized: incorrect username or password: %w", reg.RegistryStr(), ErrUnauthorized)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login to %s: unexpected status %s", reg.RegistryStr(), resp.Status)
	}
	return "Login Succeeded", nil
}

// ErrUnauthorized marks a refused login or access.
var ErrUnauthorized = errors.New("unauthorized")

func loginError(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s: unauthorized: incorrect username or password: %w", reg.RegistryStr(), ErrUnauthorized)
	}
	return fmt.Errorf("login to %s: %w", reg.RegistryStr(), err)
}
