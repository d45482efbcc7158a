package container

import (
	"context"
	"errors"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewAttachCommand is `attach`.
func NewAttachCommand(cli *command.Cli) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := command.NewCommand("attach [OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			id := args[0]
			insp, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			c := insp.Container
			if c.State == nil || !c.State.Running {
				return errors.New("You cannot attach to a stopped container, start it first")
			}
			if c.State.Paused {
				return errors.New("You cannot attach to a paused container, unpause it first")
			}
			res, tty, stdin, err := attachConfigured(ctx, api, id, c, !noStdin, detachKeys)
			if err != nil {
				return err
			}
			if sigProxy && !tty {
				stop := proxySignals(ctx, api, id)
				defer stop()
			}
			if detached, err := streamContainer(ctx, cli, api, id, &res.HijackedResponse, tty, stdin, detachKeys); detached || err != nil {
				return err
			}
			after, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err == nil && after.Container.State != nil && !after.Container.State.Running && after.Container.State.ExitCode != 0 {
				return &command.StatusError{Code: after.Container.State.ExitCode}
			}
			return nil
		}))
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
