package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/daemon"
	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/internal/version"
)

// daemonCommand is `berth daemon`: the engine serving the Engine API.
// daemonOptions are `berth daemon`'s settings, from flags and daemon.json.
type daemonOptions struct {
	hosts      []string
	tls        tlsOptions
	cfg        daemon.Config
	debug      bool
	groupGID   int
	configFile string
}

func daemonCommand() *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "daemon [OPTIONS]",
		Short: "Run the berth engine (Docker Engine API on unix sockets and TLS TCP)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfigFile(cmd.Flags(), &o); err != nil {
				return err
			}
			addrs, err := parseHosts(o.hosts, o.tls)
			if err != nil {
				return err
			}
			tlsCfg, err := o.tls.serverConfig()
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if o.debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runDaemon(ctx, log, addrs, tlsCfg, o)
		},
	}
	bindDaemonFlags(cmd.Flags(), &o)
	return cmd
}

func bindDaemonFlags(f *pflag.FlagSet, o *daemonOptions) {
	cfg := &o.cfg
	f.StringArrayVarP(&o.hosts, "host", "H", []string{"unix://" + defaultSocket}, "Daemon socket(s) to listen on: unix:///path or tcp://IP:PORT (TCP needs --tls or --tlsverify)")
	certPath := defaultCertPath()
	f.BoolVar(&o.tls.enable, "tls", false, "Use TLS; implied by --tlsverify")
	f.BoolVar(&o.tls.verify, "tlsverify", false, "Use TLS and verify the remote")
	f.StringVar(&o.tls.caFile, "tlscacert", filepath.Join(certPath, certs.CAFile), "Trust certs signed only by this CA")
	f.StringVar(&o.tls.cert, "tlscert", filepath.Join(certPath, certs.CertFile), "Path to TLS certificate file")
	f.StringVar(&o.tls.key, "tlskey", filepath.Join(certPath, certs.KeyFile), "Path to TLS key file")
	f.StringVar(&cfg.DataRoot, "data-root", "/var/lib/berth", "Root directory of persistent state")
	f.StringVar(&cfg.ExecRoot, "exec-root", "/run/berth", "Root directory of runtime state")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "berth", "Parent cgroup for containers")
	f.StringVarP(&cfg.Bridge, "bridge", "b", "berth0", "Name of the default bridge network's interface")
	f.Var(prefixFlag{&cfg.BIP}, "bip", "Default bridge's gateway address and prefix (e.g. 172.30.0.1/16)")
	f.StringArrayVar(&cfg.Registry.Insecure, "insecure-registry", nil, "Registry (host[:port] or CIDR) to reach over HTTP or unverified TLS")
	f.StringArrayVar(&cfg.Registry.Mirrors, "registry-mirror", nil, "Preferred Docker Hub mirror")
	f.StringArrayVar(&cfg.Registry.CertsDirs, "certs-dir", nil, "Directory of HOST[:PORT]/ca.crt registry certificates (default /etc/berth/certs.d and /etc/docker/certs.d)")
	f.StringVar(&o.configFile, "config-file", "/etc/berth/daemon.json", "Daemon configuration file (Docker's daemon.json keys)")
	f.BoolVarP(&o.debug, "debug", "D", false, "Enable debug logging")
	f.IntVar(&o.groupGID, "group-gid", 0, "Group ID that owns the socket (mode 0660)")
}

func runDaemon(ctx context.Context, log *slog.Logger, addrs []listenAddr, tlsCfg *tls.Config, o daemonOptions) error {
	for _, a := range addrs {
		if a.network == "unix" {
			if p, err := filepath.Abs(a.addr); err == nil {
				o.cfg.Socket = p
			}
			break
		}
	}
	d, err := daemon.New(ctx, o.cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	dumpStacksOnSignal(ctx, log, o.cfg.ExecRoot)
	ls, err := listen(log, addrs, o.groupGID, tlsCfg, o.tls.verify)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		log.Info("berth daemon listening", "host", a.host, "tls", a.network == "tcp", "data-root", o.cfg.DataRoot, "version", version.Version)
	}
	srv := server.New(d, log, server.Options{})
	return srv.Serve(ctx, ls...)
}

// prefixFlag is a pflag.Value for an address/prefix like 172.30.0.1/16.
type prefixFlag struct{ p *netip.Prefix }

func (f prefixFlag) String() string {
	if f.p == nil || !f.p.IsValid() {
		return ""
	}
	return f.p.String()
}

func (f prefixFlag) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("invalid --bip %q: want an IPv4 address with prefix, like 172.30.0.1/16", s)
	}
	*f.p = p
	return nil
}

func (prefixFlag) Type() string { return "CIDR" }

// daemonJSONKeys maps the daemon.json keys berth reads (Docker's names) to
// the flag each one stands for.
var daemonJSONKeys = map[string]string{
	"data-root":           "data-root",
	"exec-root":           "exec-root",
	"cgroup-parent":       "cgroup-parent",
	"bridge":              "bridge",
	"bip":                 "bip",
	"debug":               "debug",
	"insecure-registries": "insecure-registry",
	"registry-mirrors":    "registry-mirror",
	"hosts":               "host",
	"tls":                 "tls",
	"tlsverify":           "tlsverify",
	"tlscacert":           "tlscacert",
	"tlscert":             "tlscert",
	"tlskey":              "tlskey",
}

// daemonJSON holds the daemon.json keys berth reads.
type daemonJSON struct {
	DataRoot           string   `json:"data-root"`
	ExecRoot           string   `json:"exec-root"`
	CgroupParent       string   `json:"cgroup-parent"`
	Bridge             string   `json:"bridge"`
	BIP                string   `json:"bip"`
	Debug              bool     `json:"debug"`
	InsecureRegistries []string `json:"insecure-registries"`
	RegistryMirrors    []string `json:"registry-mirrors"`
	Hosts              []string `json:"hosts"`
	TLS                *bool    `json:"tls"`
	TLSVerify          *bool    `json:"tlsverify"`
	TLSCACert          string   `json:"tlscacert"`
	TLSCert            string   `json:"tlscert"`
	TLSKey             string   `json:"tlskey"`
}

// applyConfigFile fills the settings from daemon.json, as dockerd does: a
// missing default file is fine; a malformed file, a key berth does not
// know (or cannot honour) and a setting given both as a flag and in the
// file are errors, in dockerd's words.
func applyConfigFile(flags *pflag.FlagSet, o *daemonOptions) error {
	path, cfg := o.configFile, &o.cfg
	o.tls.verifySet = flags.Changed("tlsverify")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) && !flags.Changed("config-file") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read daemon config: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("invalid daemon config %s: %w", path, err)
	}
	var unknown, conflicts []string
	for k, v := range raw {
		flag, ok := daemonJSONKeys[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if flags.Changed(flag) {
			conflicts = append(conflicts, fmt.Sprintf("%s: (from flag: %s, from file: %s)", k, flags.Lookup(flag).Value.String(), strings.TrimSpace(string(v))))
		}
	}
	sort.Strings(unknown)
	sort.Strings(conflicts)
	if len(unknown) > 0 {
		return fmt.Errorf("daemon config %s: the following directives don't match any configuration option berth supports: %s", path, strings.Join(unknown, ", "))
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("daemon config %s: the following directives are specified both as a flag and in the configuration file: %s", path, strings.Join(conflicts, ", "))
	}
	var dj daemonJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&dj); err != nil {
		return fmt.Errorf("invalid daemon config %s: %w", path, err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.DataRoot, dj.DataRoot)
	set(&cfg.ExecRoot, dj.ExecRoot)
	set(&cfg.CgroupParent, dj.CgroupParent)
	set(&cfg.Bridge, dj.Bridge)
	if dj.BIP != "" {
		if err := (prefixFlag{&cfg.BIP}).Set(dj.BIP); err != nil {
			return fmt.Errorf("daemon config %s: %w", path, err)
		}
	}
	if dj.Debug {
		o.debug = true
	}
	if len(dj.Hosts) > 0 {
		o.hosts = dj.Hosts
	}
	if dj.TLS != nil {
		o.tls.enable = *dj.TLS
	}
	if dj.TLSVerify != nil {
		o.tls.verify, o.tls.verifySet = *dj.TLSVerify, true
	}
	set(&o.tls.caFile, dj.TLSCACert)
	set(&o.tls.cert, dj.TLSCert)
	set(&o.tls.key, dj.TLSKey)
	cfg.Registry.Insecure = append(cfg.Registry.Insecure, dj.InsecureRegistries...)
	cfg.Registry.Mirrors = append(cfg.Registry.Mirrors, dj.RegistryMirrors...)
	return nil
}
