package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/daemon"
)

// daemonCommand is `berth daemon`: the engine serving the Engine API.
func daemonCommand() *cobra.Command {
	var (
		host       string
		cfg        daemon.Config
		debug      bool
		groupGID   int
		configFile string
	)
	cmd := &cobra.Command{
		Use:   "daemon [OPTIONS]",
		Short: "Run the berth engine (Docker Engine API on a unix socket)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			if err := applyConfigFile(cmd, configFile, &cfg, &debug); err != nil {
				return err
			}
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runDaemon(ctx, log, host, cfg, groupGID)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&host, "host", "H", "unix:///run/berth/berth.sock", "Daemon socket to listen on")
	f.StringVar(&cfg.DataRoot, "data-root", "/var/lib/berth", "Root directory of persistent state")
	f.StringVar(&cfg.ExecRoot, "exec-root", "/run/berth", "Root directory of runtime state")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "berth", "Parent cgroup for containers")
	f.StringVarP(&cfg.Bridge, "bridge", "b", "berth0", "Name of the default bridge network's interface")
	f.Var(prefixFlag{&cfg.BIP}, "bip", "Default bridge's gateway address and prefix (e.g. 172.30.0.1/16)")
	f.StringArrayVar(&cfg.Registry.Insecure, "insecure-registry", nil, "Registry (host[:port] or CIDR) to reach over HTTP or unverified TLS")
	f.StringArrayVar(&cfg.Registry.Mirrors, "registry-mirror", nil, "Preferred Docker Hub mirror")
	f.StringArrayVar(&cfg.Registry.CertsDirs, "certs-dir", nil, "Directory of HOST[:PORT]/ca.crt registry certificates (default /etc/berth/certs.d and /etc/docker/certs.d)")
	f.StringVar(&configFile, "config-file", "/etc/berth/daemon.json", "Daemon configuration file (Docker's daemon.json keys)")
	f.BoolVarP(&debug, "debug", "D", false, "Enable debug logging")
	f.IntVar(&groupGID, "group-gid", 0, "Group ID that owns the socket (mode 0660)")
	return cmd
}

func runDaemon(ctx context.Context, log *slog.Logger, host string, cfg daemon.Config, gid int) error {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return fmt.Errorf("unsupported --host %q: only unix:///path sockets are supported", host)
	}
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	l, err := server.ListenUnix(path, gid)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", host, err)
	}
	log.Info("berth daemon listening", "host", host, "data-root", cfg.DataRoot, "version", daemon.Version)
	srv := server.New(d, log, server.Options{})
	return srv.Serve(ctx, l)
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

// daemonJSON holds the daemon.json keys berth reads (Docker's names).
type daemonJSON struct {
	DataRoot           string   `json:"data-root"`
	ExecRoot           string   `json:"exec-root"`
	CgroupParent       string   `json:"cgroup-parent"`
	Bridge             string   `json:"bridge"`
	BIP                string   `json:"bip"`
	Debug              bool     `json:"debug"`
	InsecureRegistries []string `json:"insecure-registries"`
	RegistryMirrors    []string `json:"registry-mirrors"`
}

// applyConfigFile fills what the command line did not set from
// daemon.json; a missing file is fine, a malformed one is an error.
func applyConfigFile(cmd *cobra.Command, path string, cfg *daemon.Config, debug *bool) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) && !cmd.Flags().Changed("config-file") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read daemon config: %w", err)
	}
	var dj daemonJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&dj); err != nil {
		return fmt.Errorf("invalid daemon config %s: %w", path, err)
	}
	set := func(flag string, dst *string, v string) {
		if v != "" && !cmd.Flags().Changed(flag) {
			*dst = v
		}
	}
	set("data-root", &cfg.DataRoot, dj.DataRoot)
	set("exec-root", &cfg.ExecRoot, dj.ExecRoot)
	set("cgroup-parent", &cfg.CgroupParent, dj.CgroupParent)
	set("bridge", &cfg.Bridge, dj.Bridge)
	if dj.BIP != "" && !cmd.Flags().Changed("bip") {
		if err := (prefixFlag{&cfg.BIP}).Set(dj.BIP); err != nil {
			return fmt.Errorf("daemon config %s: %w", path, err)
		}
	}
	if dj.Debug && !cmd.Flags().Changed("debug") {
		*debug = true
	}
	cfg.Registry.Insecure = append(cfg.Registry.Insecure, dj.InsecureRegistries...)
	cfg.Registry.Mirrors = append(cfg.Registry.Mirrors, dj.RegistryMirrors...)
	return nil
}
