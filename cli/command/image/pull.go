// pull and push: images from and to registries.

package image

import (
	"context"
	"fmt"
	"io"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/config"
)

// NewPullCommand is `pull`.
func NewPullCommand(cli *command.Cli) *cobra.Command {
	var quiet, all bool
	var platform string
	cmd := command.NewCommand("pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", command.ExactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if !all {
				named = reference.TagNameOnly(named)
			}
			out := cli.Out
			if quiet {
				out = io.Discard
			}
			var plat *ocispec.Platform
			if platform != "" {
				p, err := command.ParsePlatform(platform)
				if err != nil {
					return err
				}
				plat = &p
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			if err := command.PullImage(cmd.Context(), api, reference.FamiliarString(named), plat, out); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(cli.Out, named.String())
			}
			return nil
		})
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// NewPushCommand is `push`.
func NewPushCommand(cli *command.Cli) *cobra.Command {
	var quiet, all bool
	cmd := command.NewCommand("push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			resp, err := api.ImagePush(ctx, args[0], client.ImagePushOptions{All: all, RegistryAuth: config.EncodedAuth(config.RegistryOf(args[0]))})
			if err != nil {
				return err
			}
			defer resp.Close()
			out := cli.Out
			if quiet {
				out = io.Discard
			}
			return command.DisplayStream(resp, out, true)
		}))
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	return cmd
}
