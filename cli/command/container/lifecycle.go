// The verbs that change a container's state: stop, restart, kill, pause,
// unpause, wait, rm and rename.

package container

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
)

// eachContainer is a command acting on every CONTAINER argument in turn
// (docker prints each one that succeeded); use is the verb and its
// "[OPTIONS]".
func eachContainer(cli *command.Cli, use, short string, fn func(ctx context.Context, api client.APIClient, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  command.MinArgs(1),
		RunE: cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			return cli.ForEach(args, func(id string) error { return fn(ctx, api, id) })
		}),
	}
}

// stopFlags are the flags of stop and restart: -t/--time (nil, the
// container's own timeout, unless given) and -s/--signal.
type stopFlags struct {
	time   int
	signal string
	flags  *pflag.FlagSet
}

func (f *stopFlags) add(cmd *cobra.Command) *cobra.Command {
	f.flags = cmd.Flags()
	f.flags.IntVarP(&f.time, "time", "t", 0, "Seconds to wait before killing the container")
	f.flags.StringVarP(&f.signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (f *stopFlags) timeout() *int {
	if !f.flags.Changed("time") && !f.flags.Changed("timeout") {
		return nil
	}
	return &f.time
}

// NewStopCommand is `stop`.
func NewStopCommand(cli *command.Cli) *cobra.Command {
	var f stopFlags
	cmd := f.add(eachContainer(cli, "stop [OPTIONS]", "Stop one or more running containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerStop(ctx, id, client.ContainerStopOptions{Signal: f.signal, Timeout: f.timeout()})
		return err
	}))
	cmd.Flags().IntVar(&f.time, "timeout", 0, "Seconds to wait before killing the container")
	_ = cmd.Flags().MarkHidden("timeout")
	return cmd
}

// NewRestartCommand is `restart`.
func NewRestartCommand(cli *command.Cli) *cobra.Command {
	var f stopFlags
	return f.add(eachContainer(cli, "restart [OPTIONS]", "Restart one or more containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerRestart(ctx, id, client.ContainerRestartOptions{Signal: f.signal, Timeout: f.timeout()})
		return err
	}))
}

// NewKillCommand is `kill`.
func NewKillCommand(cli *command.Cli) *cobra.Command {
	var sig string
	cmd := eachContainer(cli, "kill [OPTIONS]", "Kill one or more running containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig})
		return err
	})
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container")
	return cmd
}

// NewPauseCommand is `pause`.
func NewPauseCommand(cli *command.Cli) *cobra.Command {
	return eachContainer(cli, "pause", "Pause all processes within one or more containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
}

// NewUnpauseCommand is `unpause`.
func NewUnpauseCommand(cli *command.Cli) *cobra.Command {
	return eachContainer(cli, "unpause", "Unpause all processes within one or more containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
}

// NewRmCommand is `rm` (and `container rm`).
func NewRmCommand(cli *command.Cli) *cobra.Command {
	var force, vols, links bool
	cmd := eachContainer(cli, "rm [OPTIONS]", "Remove one or more containers", func(ctx context.Context, api client.APIClient, id string) error {
		_, err := api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: force, RemoveVolumes: vols, RemoveLinks: links})
		return err
	})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&vols, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&links, "link", "l", false, "Remove the specified link")
	return cmd
}

// NewWaitCommand is `wait`: each container's exit code, once it stops.
func NewWaitCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			return command.Each(args, func(id string) error {
				w := api.ContainerWait(ctx, id, client.ContainerWaitOptions{})
				select {
				case r := <-w.Result:
					fmt.Fprintln(cli.Out, r.StatusCode)
					return nil
				case err := <-w.Error:
					return err
				}
			})
		}))
}

// NewRenameCommand is `rename`.
func NewRenameCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("rename CONTAINER NEW_NAME", "Rename a container", command.ExactArgs(2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			_, err := api.ContainerRename(ctx, args[0], client.ContainerRenameOptions{NewName: args[1]})
			if err != nil {
				return fmt.Errorf("%w\nError: failed to rename container named %s", err, args[0])
			}
			return nil
		}))
}
