package container

import (
	"context"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewLogsCommand is `logs`.
func NewLogsCommand(cli *command.Cli) *cobra.Command {
	var follow, timestamps, details bool
	var since, until, tail string
	cmd := command.NewCommand("logs [OPTIONS] CONTAINER", "Fetch the logs of a container", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			insp, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			s, u, err := command.TimeRange(since, until)
			if err != nil {
				return err
			}
			rc, err := api.ContainerLogs(ctx, args[0], client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true,
				Since: s, Until: u, Timestamps: timestamps, Follow: follow, Tail: tail, Details: details})
			if err != nil {
				return err
			}
			defer rc.Close()
			if insp.Container.Config != nil && insp.Container.Config.Tty {
				_, err = io.Copy(cli.Out, rc)
			} else {
				_, err = stdcopy.StdCopy(cli.Out, cli.Err, rc)
			}
			return err
		}))
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&details, "details", false, "Show extra details provided to logs")
	f.StringVar(&since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVar(&until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}
