// Command berth-visualizer is `berth visualizer` alone, as a small static
// binary (no cgo, no engine) for the visualizer's image: `berth
// visualizer image` puts it on an empty base, and the guide's stack runs
// it on a manager with the node's engine socket mounted at
// /var/run/docker.sock.
//
//	berth-visualizer [--listen :8080] [-H unix:///var/run/docker.sock]
//
// The engine is -H, else DOCKER_HOST (with DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH), else /var/run/docker.sock.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/moby/moby/client"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/visualizer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "berth-visualizer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	f := pflag.NewFlagSet("berth-visualizer", pflag.ContinueOnError)
	listen := f.String("listen", ":8080", "Address to serve the page on")
	host := f.StringP("host", "H", "", "Daemon socket to connect to (default $DOCKER_HOST or unix:///var/run/docker.sock)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("accepts no arguments, got %q", f.Args())
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation(), client.WithUserAgent("berth-visualizer")}
	if *host != "" {
		opts = append(opts, client.WithHost(*host))
	}
	api, err := client.New(opts...)
	if err != nil {
		return fmt.Errorf("connect to the daemon: %w", err)
	}
	defer api.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return visualizer.Serve(ctx, api, *listen, os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil)))
}
