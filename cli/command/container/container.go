// Package container holds the container commands: run, create, start,
// stop, ps, logs, exec, attach, cp, stats… and `berth container`, which
// groups them. The flags of run and create are in opts.go, their values'
// parsers (-p, -v, --mount…) in opts_parse.go.
package container

import (
	"context"
	"encoding/json"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
)

// NewContainerCommand is `berth container` with its subcommands (the
// root also offers most of them at the top level: `berth run`…).
func NewContainerCommand(cli *command.Cli) *cobra.Command {
	return command.Group("container", "Manage containers",
		NewRunCommand(cli), NewCreateCommand(cli), NewStartCommand(cli), NewStopCommand(cli), NewRestartCommand(cli),
		NewKillCommand(cli), command.Renamed(NewRmCommand(cli), "", "remove"),
		command.Renamed(NewPsCommand(cli), "ls [OPTIONS]", "list", "ps"), NewLogsCommand(cli), NewWaitCommand(cli),
		NewExecCommand(cli), NewAttachCommand(cli), NewTopCommand(cli), NewRenameCommand(cli), NewPauseCommand(cli),
		NewUnpauseCommand(cli), NewPortCommand(cli), NewDiffCommand(cli), NewExportCommand(cli), NewCommitCommand(cli),
		NewCpCommand(cli), NewStatsCommand(cli), newInspectCommand(cli), newPruneCommand(cli))
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	var size bool
	return command.Inspect{
		Noun: "container",
		Flags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
		},
		Get: func(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
			return InspectRaw(ctx, api, name, size)
		},
	}.Command(cli)
}

// InspectRaw is a container's inspect document as the daemon sent it.
func InspectRaw(ctx context.Context, api client.APIClient, name string, size bool) (json.RawMessage, error) {
	res, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{Size: size})
	return res.Raw, err
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	return command.Prune{Short: "Remove all stopped containers", Removes: PruneRemoves, Run: RunPrune}.Command(cli)
}

// PruneRemoves is what container prune (and system prune) warns it
// removes.
const PruneRemoves = "all stopped containers"

// RunPrune removes the stopped containers filters select (system prune
// runs it too).
func RunPrune(ctx context.Context, api client.APIClient, filters client.Filters, _ bool) (command.Pruned, error) {
	res, err := api.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: filters})
	return command.Pruned{Title: "Containers", Deleted: res.Report.ContainersDeleted, Reclaimed: res.Report.SpaceReclaimed}, err
}
