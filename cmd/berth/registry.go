package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/registry/server"
)

// registryCommand is `berth registry`: host your own image registry.
func registryCommand() *cobra.Command {
	reg := &cobra.Command{Use: "registry", Short: "Run an image registry (CNCF distribution, embedded)"}
	var o server.Options
	serve := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve a registry in the foreground until SIGTERM or Ctrl-C",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return server.Serve(ctx, o, nil)
		},
	}
	f := serve.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:5000", "Address to listen on")
	f.StringVar(&o.Root, "root", "/var/lib/berth-registry", "Directory to store images in")
	f.StringVar(&o.Htpasswd, "htpasswd", "", "htpasswd file (bcrypt) enabling basic authentication")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&o.ProxyRemote, "proxy-remote", "", "Act as a pull-through cache of this registry URL")
	f.StringVar(&o.ProxyUser, "proxy-username", "", "Username for the remote registry")
	f.StringVar(&o.ProxyPass, "proxy-password", "", "Password for the remote registry")

	var root string
	var dryRun, untagged bool
	gc := &cobra.Command{
		Use:   "gc [OPTIONS]",
		Short: "Remove unreferenced blobs from a registry's storage (stop the registry first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return server.GC(cmd.Context(), root, dryRun, untagged)
		},
	}
	gc.Flags().StringVar(&root, "root", "/var/lib/berth-registry", "Registry storage directory")
	gc.Flags().BoolVar(&dryRun, "dry-run", false, "Only print what would be removed")
	gc.Flags().BoolVar(&untagged, "delete-untagged", false, "Also remove manifests no tag refers to")
	reg.AddCommand(serve, gc)
	return reg
}
