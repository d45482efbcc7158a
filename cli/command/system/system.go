// Package system holds version, info, events, the top-level inspect and
// `berth system` (info, events, prune).
package system

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/container"
	"github.com/berth-project/berth/cli/command/image"
	"github.com/berth-project/berth/cli/command/network"
	"github.com/berth-project/berth/cli/command/volume"
)

// NewSystemCommand is `berth system` with its subcommands.
func NewSystemCommand(cli *command.Cli) *cobra.Command {
	return command.Group("system", "Manage berth", NewInfoCommand(cli), NewEventsCommand(cli), newPruneCommand(cli))
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	var all, force, vols bool
	var filters []string
	cmd := command.NewCommand("prune [OPTIONS]", "Remove unused data", command.NoArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := command.FilterArgs(filters)
			if err != nil {
				return err
			}
			if !force && !cli.Confirm(pruneWarning(all, vols)) {
				return nil
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			// Containers (no total line of their own), volumes with
			// --volumes, then images.
			type step struct {
				run        command.PruneFunc
				all, total bool
			}
			steps := []step{{run: container.RunPrune}}
			if vols {
				steps = append(steps, step{run: volume.RunPrune, total: true})
			}
			steps = append(steps, step{run: image.RunPrune, all: all, total: true})
			for _, st := range steps {
				pruned, err := st.run(cmd.Context(), api, f.Clone(), st.all)
				if err != nil {
					return err
				}
				fmt.Fprint(cli.Out, pruned.Report())
				if st.total {
					command.PrintReclaimed(cli.Out, pruned.Reclaimed)
				}
			}
			return nil
		})
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&vols, "volumes", false, "Prune anonymous volumes")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

// pruneWarning is docker's confirmation of system prune: what it removes.
func pruneWarning(all, vols bool) string {
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n  - " + container.PruneRemoves + "\n")
	if vols {
		b.WriteString("  - all anonymous volumes not used by at least one container\n")
	}
	if all {
		b.WriteString("  - " + image.PruneAllRemoves + "\n")
	} else {
		b.WriteString("  - " + image.PruneRemoves + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// NewInspectCommand is the top-level `inspect`: containers, images,
// volumes and networks, looked up in that order unless --type says which.
func NewInspectCommand(cli *command.Cli) *cobra.Command {
	var typ string
	var size bool
	return command.Inspect{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&typ, "type", "", "Only inspect objects of the given type")
			fs.BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
		},
		Get: func(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
			return inspectAny(ctx, api, typ, name, size)
		},
	}.Command(cli)
}

// inspectAny finds name as typ, or ("") as the first kind of object that
// has it: "Error: No such object: NAME" when none has.
func inspectAny(ctx context.Context, api client.APIClient, typ, name string, size bool) (json.RawMessage, error) {
	kinds := []struct {
		typ string
		get func() (json.RawMessage, error)
	}{
		{"container", func() (json.RawMessage, error) { return container.InspectRaw(ctx, api, name, size) }},
		{"image", func() (json.RawMessage, error) { return image.InspectRaw(ctx, api, name) }},
		{"volume", func() (json.RawMessage, error) { return volume.InspectRaw(ctx, api, name) }},
		{"network", func() (json.RawMessage, error) { return network.InspectRaw(ctx, api, name) }},
	}
	for _, k := range kinds {
		if typ != "" && typ != k.typ {
			continue
		}
		raw, err := k.get()
		if err == nil {
			return raw, nil
		}
		if typ != "" || !cerrdefs.IsNotFound(err) {
			return nil, err
		}
	}
	if typ != "" {
		return nil, fmt.Errorf("%q is not a valid value for --type", typ)
	}
	return nil, fmt.Errorf("Error: No such object: %s", name)
}
