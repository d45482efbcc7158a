// import, save and load: images from and to tar archives.

package image

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewImportCommand is `import`.
func NewImportCommand(cli *command.Cli) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := command.NewCommand("import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", command.RangeArgs(1, 2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			src := client.ImageImportSource{SourceName: "-"}
			switch {
			case args[0] == "-":
				src.Source = cli.In
			case strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://"):
				src.SourceName = args[0]
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src.Source = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
				if _, err := reference.ParseNormalizedNamed(ref); err != nil {
					return err
				}
			}
			opts := client.ImageImportOptions{Message: message, Changes: changes}
			if platform != "" {
				p, err := command.ParsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = p
			}
			rc, err := api.ImageImport(ctx, src, ref, opts)
			if err != nil {
				return err
			}
			defer rc.Close()
			return command.DisplayStream(rc, cli.Out, false)
		}))
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// NewSaveCommand is `save`.
func NewSaveCommand(cli *command.Cli) *cobra.Command {
	var output string
	cmd := command.NewCommand("save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", command.MinArgs(1),
		func(cmd *cobra.Command, args []string) error {
			return cli.SaveTar(cmd.Context(), output, "failed to save image", func(ctx context.Context, api client.APIClient) (io.ReadCloser, error) {
				return api.ImageSave(ctx, args)
			})
		})
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// NewLoadCommand is `load`.
func NewLoadCommand(cli *command.Cli) *cobra.Command {
	var input string
	var quiet bool
	cmd := command.NewCommand("load [OPTIONS]", "Load an image from a tar archive or STDIN", command.NoArgs,
		func(cmd *cobra.Command, _ []string) error {
			in := cli.In
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if _, isTerm := term.GetFdInfo(cli.In); isTerm {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			rc, err := api.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(quiet))
			if err != nil {
				return err
			}
			defer rc.Close()
			return command.DisplayStream(rc, cli.Out, !quiet)
		})
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
