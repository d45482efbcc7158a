package visualizer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// Binary is the static visualizer (cmd/berth-visualizer) that the image
// holds; it is looked for beside the berth executable.
const Binary = "berth-visualizer"

// DefaultImage is the image `visualizer image` builds unless -t says.
const DefaultImage = "berth/visualizer:latest"

// Dockerfile is the image's recipe: the static binary on an empty base,
// serving :8080 from the engine at /var/run/docker.sock.
const Dockerfile = `FROM scratch
COPY berth-visualizer /berth-visualizer
EXPOSE 8080
ENTRYPOINT ["/berth-visualizer"]
CMD ["--listen", ":8080", "-H", "unix:///var/run/docker.sock"]
`

// newImageCommand is `visualizer image`.
func newImageCommand(cli *command.Cli) *cobra.Command {
	var tags []string
	cmd := command.NewCommand("image [OPTIONS]", "Build the visualizer's image (no registry needed)", command.NoArgs,
		func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the berth executable: %w", err)
			}
			bin := filepath.Join(filepath.Dir(exe), Binary)
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("the visualizer's image needs %s beside berth (make build makes it): %w", Binary, err)
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				tags = []string{DefaultImage}
			}
			return buildImage(cmd.Context(), cli, api, bin, tags)
		})
	cmd.Flags().StringArrayVarP(&tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format (default `+DefaultImage+`)`)
	return cmd
}

// buildImage builds the image from a context of Dockerfile and bin,
// printing the build's progress.
func buildImage(ctx context.Context, cli *command.Cli, api client.APIClient, bin string, tags []string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeImageContext(pw, bin)) }()
	defer pr.Close()
	res, err := api.ImageBuild(ctx, pr, client.ImageBuildOptions{Tags: tags, Remove: true})
	if err != nil {
		return fmt.Errorf("build the visualizer's image: %w", err)
	}
	defer res.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(res.Body, cli.Out, 0, false, nil); err != nil {
		return fmt.Errorf("build the visualizer's image: %w", err)
	}
	return nil
}

// writeImageContext writes the build context: the Dockerfile and the
// binary, as a tar.
func writeImageContext(w io.Writer, bin string) error {
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New(bin + " is not a regular file")
	}
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(Dockerfile)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, Dockerfile); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: Binary, Mode: 0o755, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}
