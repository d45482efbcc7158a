// commit and export: a container's filesystem as an image or a tar.

package container

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewExportCommand is `export`.
func NewExportCommand(cli *command.Cli) *cobra.Command {
	var output string
	cmd := command.NewCommand("export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", command.ExactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			return cli.SaveTar(cmd.Context(), output, "", func(ctx context.Context, api client.APIClient) (io.ReadCloser, error) {
				return api.ContainerExport(ctx, args[0], client.ContainerExportOptions{})
			})
		})
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// NewCommitCommand is `commit`.
func NewCommitCommand(cli *command.Cli) *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := command.NewCommand("commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", command.RangeArgs(1, 2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			res, err := api.ContainerCommit(ctx, args[0], client.ContainerCommitOptions{Reference: ref, Author: author, Comment: message, Changes: changes, NoPause: !pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(cli.Out, res.ID)
			return nil
		}))
	cmd.Flags().StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	cmd.Flags().StringVarP(&message, "message", "m", "", "Commit message")
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}
