// top, port and diff: what runs in a container, what it publishes and
// what it changed.

package container

import (
	"context"
	"fmt"
	"sort"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// NewTopCommand is `top`.
func NewTopCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("top CONTAINER [ps OPTIONS]", "Display the running processes of a container", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			res, err := api.ContainerTop(ctx, args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			tw := formatter.NewTabWriter(cli.Out)
			fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		}))
}

// NewPortCommand is `port`.
func NewPortCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", command.RangeArgs(1, 2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			res, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			ns := res.Container.NetworkSettings
			if ns == nil {
				return nil
			}
			var keys []string
			byKey := map[string][]string{}
			for p, binds := range ns.Ports {
				k := p.String()
				for _, b := range binds {
					ip := "0.0.0.0"
					if b.HostIP.IsValid() {
						ip = b.HostIP.String()
					}
					if b.HostIP.Is6() {
						ip = "[" + ip + "]"
					}
					byKey[k] = append(byKey[k], ip+":"+b.HostPort)
				}
				if len(binds) > 0 {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				hosts, ok := byKey[want]
				if !ok {
					return fmt.Errorf("no public port '%s' published for %s", want, args[0])
				}
				for _, h := range hosts {
					fmt.Fprintln(cli.Out, h)
				}
				return nil
			}
			for _, k := range keys {
				for _, h := range byKey[k] {
					fmt.Fprintf(cli.Out, "%s -> %s\n", k, h)
				}
			}
			return nil
		}))
}

// NewDiffCommand is `diff`.
func NewDiffCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("diff CONTAINER", "Inspect changes to files or directories on a container's filesystem", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			res, err := api.ContainerDiff(ctx, args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				k := "C"
				switch ch.Kind {
				case containertypes.ChangeAdd:
					k = "A"
				case containertypes.ChangeDelete:
					k = "D"
				}
				fmt.Fprintf(cli.Out, "%s %s\n", k, ch.Path)
			}
			return nil
		}))
}
