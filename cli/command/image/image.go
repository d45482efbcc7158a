// Package image holds the image commands: images, history, tag, rmi,
// import, save, load, pull, push, bootstrap… and `berth image`, which
// groups them (with build, from package build).
package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/build"
)

// NewImageCommand is `berth image` with its subcommands.
func NewImageCommand(cli *command.Cli) *cobra.Command {
	return command.Group("image", "Manage images",
		command.Renamed(NewImagesCommand(cli), "ls [OPTIONS] [REPOSITORY[:TAG]]", "list"),
		command.Renamed(NewRmiCommand(cli), "rm [OPTIONS] IMAGE [IMAGE...]", "remove", "rmi"),
		NewHistoryCommand(cli), NewTagCommand(cli), NewImportCommand(cli), NewSaveCommand(cli), NewLoadCommand(cli),
		NewPullCommand(cli), NewPushCommand(cli), build.NewBuildCommand(cli), newInspectCommand(cli),
		newPruneCommand(cli), newBootstrapCommand(cli))
}

// InspectRaw is an image's inspect document as the daemon sent it.
func InspectRaw(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
	var buf bytes.Buffer
	if _, err := api.ImageInspect(ctx, name, client.ImageInspectWithRawResponse(&buf)); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	return command.Inspect{Noun: "image", Get: InspectRaw}.Command(cli)
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	return command.Prune{
		Short:      "Remove unused images",
		Removes:    PruneRemoves,
		AllRemoves: PruneAllRemoves,
		AllHelp:    "Remove all unused images, not just dangling ones",
		Run:        RunPrune,
	}.Command(cli)
}

// What image prune (and system prune) warns it removes: the dangling
// images, or with -a every image no container uses.
const (
	PruneRemoves    = "all dangling images"
	PruneAllRemoves = "all images without at least one container associated to them"
)

// RunPrune removes the dangling images (all: every image no container
// uses) that filters select; system prune runs it too.
func RunPrune(ctx context.Context, api client.APIClient, filters client.Filters, all bool) (command.Pruned, error) {
	filters.Add("dangling", strconv.FormatBool(!all))
	res, err := api.ImagePrune(ctx, client.ImagePruneOptions{Filters: filters})
	return command.Pruned{Title: "Images", Deleted: deletedLines(res.Report.ImagesDeleted), Reclaimed: res.Report.SpaceReclaimed}, err
}

// NewTagCommand is `tag`.
func NewTagCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", command.ExactArgs(2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			_, err := api.ImageTag(ctx, client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		}))
}

// NewRmiCommand is `rmi`.
func NewRmiCommand(cli *command.Cli) *cobra.Command {
	var force, noPrune bool
	cmd := command.NewCommand("rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			var errs []error
			for _, name := range args {
				res, err := api.ImageRemove(ctx, name, client.ImageRemoveOptions{Force: force, PruneChildren: !noPrune})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, line := range deletedLines(res.Items) {
					fmt.Fprintln(cli.Out, line)
				}
			}
			return errors.Join(errs...)
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// deletedLines are rmi's lines of what it removed: "Untagged: x",
// "Deleted: sha256:…".
func deletedLines(items []imagetypes.DeleteResponse) []string {
	var lines []string
	for _, d := range items {
		if d.Untagged != "" {
			lines = append(lines, "Untagged: "+d.Untagged)
		}
		if d.Deleted != "" {
			lines = append(lines, "Deleted: "+d.Deleted)
		}
	}
	return lines
}
