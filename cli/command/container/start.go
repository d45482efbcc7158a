package container

import (
	"context"
	"errors"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewStartCommand is `start`.
func NewStartCommand(cli *command.Cli) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := command.NewCommand("start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			if !attach && !interactive {
				return cli.ForEach(args, func(id string) error {
					_, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{})
					return err
				})
			}
			if len(args) > 1 {
				return errors.New("you cannot start and attach multiple containers at once")
			}
			id := args[0]
			insp, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			res, tty, stdin, err := attachConfigured(ctx, api, id, insp.Container, interactive, detachKeys)
			if err != nil {
				return err
			}
			wait := api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: containertypes.WaitConditionNextExit})
			if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				res.Close()
				return err
			}
			if !tty {
				stop := proxySignals(ctx, api, id)
				defer stop()
			}
			if detached, err := streamContainer(ctx, cli, api, id, &res.HijackedResponse, tty, stdin, detachKeys); detached || err != nil {
				return err
			}
			select {
			case r := <-wait.Result:
				if r.StatusCode != 0 {
					return &command.StatusError{Code: int(r.StatusCode)}
				}
			case err := <-wait.Error:
				return err
			}
			return nil
		}))
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
