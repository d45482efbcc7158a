package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/internal/certs"
)

// Default ports of a tcp:// host given without one, as dockerd's.
const (
	defaultHTTPPort = "2375"
	defaultTLSPort  = "2376"
)

// defaultSocket is the unix socket of `unix://` and of no -H at all.
const defaultSocket = "/run/berth/berth.sock"

// tlsOptions are dockerd's --tls, --tlsverify, --tlscacert, --tlscert and
// --tlskey.
type tlsOptions struct {
	enable, verify    bool
	caFile, cert, key string
	verifySet         bool // --tlsverify given at all (flag or daemon.json)
}

// on says whether TLS is used: --tls, or --tlsverify given at all (even
// --tlsverify=false turns TLS on, as with dockerd).
func (o tlsOptions) on() bool { return o.enable || o.verify || o.verifySet }

// serverConfig loads the TLS material, or returns nil without TLS.
func (o tlsOptions) serverConfig() (*tls.Config, error) {
	if !o.on() {
		return nil, nil
	}
	cfg, err := certs.ServerConfig(o.caFile, o.cert, o.key, o.verify)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return cfg, nil
}

// defaultCertPath is dockerd's directory of ca.pem, cert.pem and key.pem:
// $DOCKER_CERT_PATH, else ~/.docker.
func defaultCertPath() string {
	if p := os.Getenv("DOCKER_CERT_PATH"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".docker")
}

// listenAddr is one parsed -H address.
type listenAddr struct {
	host    string // as given
	network string // "unix" or "tcp"
	addr    string // socket path or host:port
}

// parseHost parses a -H address: unix:///path (unix:// alone is the
// default socket) or tcp://[HOST][:PORT] (HOST 127.0.0.1 and PORT 2375,
// or 2376 with TLS, when left out, as dockerd).
func parseHost(h string, useTLS bool) (listenAddr, error) {
	proto, rest, ok := strings.Cut(h, "://")
	if !ok {
		return listenAddr{}, fmt.Errorf("invalid bind address format: %s", h)
	}
	switch proto {
	case "unix":
		if rest == "" {
			rest = defaultSocket
		}
		return listenAddr{host: h, network: "unix", addr: rest}, nil
	case "tcp":
		hostport, path, _ := strings.Cut(rest, "/")
		if path != "" {
			return listenAddr{}, fmt.Errorf("invalid bind address (%s): berth serves the API at the root, not under a path", h)
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			// No port (or a bare IPv6 address in brackets).
			host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defaultHTTPPort
			if useTLS {
				port = defaultTLSPort
			}
			if strings.Contains(host, ":") && net.ParseIP(host) == nil {
				return listenAddr{}, fmt.Errorf("invalid bind address (%s): %w", h, err)
			}
		}
		if host == "" {
			host = "127.0.0.1"
		}
		return listenAddr{host: h, network: "tcp", addr: net.JoinHostPort(host, port)}, nil
	case "fd":
		return listenAddr{}, fmt.Errorf("invalid bind address (%s): fd:// (systemd socket activation) is not supported by berth: use unix:// or tcp://", h)
	default:
		return listenAddr{}, fmt.Errorf("invalid bind address (%s): unsupported proto '%s'", h, proto)
	}
}

// parseHosts parses every -H and refuses a TCP address without TLS, as
// dockerd does: the API gives root on the host.
func parseHosts(hosts []string, t tlsOptions) ([]listenAddr, error) {
	if len(hosts) == 0 {
		hosts = []string{"unix://" + defaultSocket}
	}
	var addrs []listenAddr
	for _, h := range hosts {
		a, err := parseHost(h, t.on())
		if err != nil {
			return nil, err
		}
		if a.network == "tcp" && !t.on() {
			return nil, fmt.Errorf("-H %s: binding to an unauthenticated TCP address is refused: use --tlsverify (with --tlscacert, --tlscert and --tlskey)", h)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// listen opens every address: unix sockets with mode 0660 and group gid,
// TCP ones wrapped in TLS. On failure, those already open are closed.
func listen(log *slog.Logger, addrs []listenAddr, gid int, tlsCfg *tls.Config, verify bool) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, a := range addrs {
		switch a.network {
		case "unix":
			l, err := server.ListenUnix(a.addr, gid)
			if err != nil {
				return fail(fmt.Errorf("listen on %s: %w", a.host, err))
			}
			ls = append(ls, l)
		case "tcp":
			if tlsCfg == nil {
				return fail(errors.New("internal error: a TCP listener without TLS"))
			}
			l, err := net.Listen("tcp", a.addr)
			if err != nil {
				return fail(fmt.Errorf("listen on %s: %w", a.host, err))
			}
			if !verify {
				log.Warn("Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.", "host", a.host)
			}
			ls = append(ls, tls.NewListener(l, tlsCfg))
		}
	}
	return ls, nil
}
