// Package volume holds `berth volume`: create, ls, inspect, rm and prune.
package volume

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	volumetypes "github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// NewVolumeCommand is `berth volume` with its subcommands.
func NewVolumeCommand(cli *command.Cli) *cobra.Command {
	return command.Group("volume", "Manage volumes", newCreateCommand(cli), newListCommand(cli), newInspectCommand(cli),
		newRemoveCommand(cli), newPruneCommand(cli))
}

func newCreateCommand(cli *command.Cli) *cobra.Command {
	var driver string
	var opts, labels []string
	cmd := command.NewCommand("create [OPTIONS] [VOLUME]", "Create a volume", command.MaxArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			res, err := api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: driver, DriverOpts: command.ParseKeyValues(opts), Labels: command.ParseKeyValues(labels)})
			if err != nil {
				return err
			}
			fmt.Fprintln(cli.Out, res.Volume.Name)
			return nil
		}))
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	cmd.Flags().StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	return cmd
}

const defaultVolumeFormat = "table {{.Driver}}\t{{.Name}}"

var volumeHeaders = formatter.Headers{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS", "Size": "SIZE", "Links": "LINKS", "CreatedAt": "CREATED AT"}

type volumeContext struct{ v volumetypes.Volume }

func (c volumeContext) Name() string { return c.v.Name }

func (c volumeContext) Driver() string { return c.v.Driver }

func (c volumeContext) Mountpoint() string { return c.v.Mountpoint }

func (c volumeContext) Scope() string { return c.v.Scope }

func (c volumeContext) CreatedAt() string { return c.v.CreatedAt }

func (c volumeContext) Labels() string {
	return formatter.Labels(c.v.Labels)
}

func (c volumeContext) Label(name string) string { return c.v.Labels[name] }

func (c volumeContext) Size() string {
	if c.v.UsageData == nil || c.v.UsageData.Size < 0 {
		return "N/A"
	}
	return formatter.HumanSize(c.v.UsageData.Size)
}

func (c volumeContext) Links() string {
	if c.v.UsageData == nil || c.v.UsageData.RefCount < 0 {
		return "N/A"
	}
	return fmt.Sprint(c.v.UsageData.RefCount)
}

func (c volumeContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"CreatedAt", "Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size"})
}

func newListCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Short:         "List volumes",
		DefaultFormat: defaultVolumeFormat,
		Headers:       volumeHeaders,
		QuietFormat:   "{{.Name}}",
		QuietHelp:     "Only display volume names",
		FilterHelp:    "Provide filter values (e.g. \"dangling=true\")",
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, _ []string) ([]any, error) {
			res, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: o.Filters})
			if err != nil {
				return nil, err
			}
			vols := res.Items
			sort.Slice(vols, func(i, j int) bool { return vols[i].Name < vols[j].Name })
			return formatter.Rows(vols, func(v volumetypes.Volume) any { return volumeContext{v: v} }), nil
		},
	}.Command(cli)
}

// InspectRaw is a volume's inspect document as the daemon sent it.
func InspectRaw(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
	res, err := api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	return res.Raw, err
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	return command.Inspect{Noun: "volume", Get: InspectRaw}.Command(cli)
}

func newRemoveCommand(cli *command.Cli) *cobra.Command {
	return command.Remove{
		Noun:  "volume",
		Force: "Force the removal of one or more volumes",
		Remove: func(ctx context.Context, api client.APIClient, name string, force bool) error {
			_, err := api.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: force})
			return err
		},
	}.Command(cli)
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	return command.Prune{
		Short:      "Remove unused local volumes",
		Removes:    "anonymous local volumes not used by at least one container",
		AllRemoves: "all local volumes not used by at least one container",
		AllHelp:    "Remove all unused volumes, not just anonymous ones",
		FilterHelp: `Provide filter values (e.g. "label=<label>")`,
		Run:        RunPrune,
	}.Command(cli)
}

// RunPrune removes the anonymous volumes (all: every volume) no container
// uses that filters select; system prune --volumes runs it too.
func RunPrune(ctx context.Context, api client.APIClient, filters client.Filters, all bool) (command.Pruned, error) {
	if all {
		filters.Add("all", "true")
	}
	res, err := api.VolumePrune(ctx, client.VolumePruneOptions{Filters: filters})
	return command.Pruned{Title: "Volumes", Deleted: res.Report.VolumesDeleted, Reclaimed: res.Report.SpaceReclaimed}, err
}
