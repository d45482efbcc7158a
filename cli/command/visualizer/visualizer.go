// Package visualizer is `berth visualizer`: it serves the live page of
// the swarm's nodes and tasks (package visualizer at the module's top)
// for the daemon -H names.
package visualizer

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/visualizer"
)

// NewVisualizerCommand is `visualizer`.
func NewVisualizerCommand(cli *command.Cli) *cobra.Command {
	var listen string
	cmd := command.NewCommand("visualizer [OPTIONS]", "Serve a live web page of the swarm's nodes and tasks", command.NoArgs,
		func(cmd *cobra.Command, _ []string) error {
			api, err := cli.Client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cli, api, listen)
		})
	cmd.Flags().StringVar(&listen, "listen", ":8080", "Address to serve the page on")
	cmd.AddCommand(newImageCommand(cli))
	return cmd
}

func serve(ctx context.Context, cli *command.Cli, api visualizer.API, listen string) error {
	return visualizer.Serve(ctx, api, listen, cli.Out, slog.New(slog.NewTextHandler(cli.Err, nil)))
}
