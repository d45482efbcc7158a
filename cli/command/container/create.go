package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewCreateCommand is `create`.
func NewCreateCommand(cli *command.Cli) *cobra.Command {
	var o runOpts
	cmd := command.NewCommand("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", command.MinArgs(1),
		func(cmd *cobra.Command, args []string) error {
			id, err := createContainer(cmd.Context(), cli, &o, args)
			if err != nil {
				return runError(cmd, err)
			}
			fmt.Fprintln(cli.Out, id)
			return nil
		})
	o.addFlags(cmd.Flags(), false)
	return cmd
}

// runError turns a failure before the container runs into docker's exit 125.
func runError(cmd *cobra.Command, err error) error {
	var se *command.StatusError
	if errors.As(err, &se) {
		return err
	}
	return &command.StatusError{Status: fmt.Sprintf("berth: %s\n\nRun 'berth %s --help' for more information", command.DaemonMessage(err), cmd.Name()), Code: 125}
}

func createContainer(ctx context.Context, cli *command.Cli, o *runOpts, args []string) (string, error) {
	cfg, hc, netCfg, err := o.containerConfig(args, nil)
	if err != nil {
		return "", err
	}
	api, err := cli.Client()
	if err != nil {
		return "", err
	}
	switch o.pull {
	case "", "missing", "never":
	case "always":
		return "", fmt.Errorf("--pull=always is not supported yet")
	default:
		return "", fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", o.pull)
	}
	opts := client.ContainerCreateOptions{Config: cfg, HostConfig: hc, NetworkingConfig: netCfg, Name: o.name}
	if o.platform != "" {
		p, err := command.ParsePlatform(o.platform)
		if err != nil {
			return "", err
		}
		opts.Platform = &p
	}
	res, err := api.ContainerCreate(ctx, opts)
	if err != nil && cerrdefs.IsNotFound(err) && o.pull != "never" && strings.Contains(err.Error(), "image") {
		ref := cfg.Image
		if !strings.Contains(ref, "@") && !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
			ref += ":latest"
		}
		fmt.Fprintf(cli.Err, "Unable to find image '%s' locally\n", ref)
		if perr := command.PullImage(ctx, api, ref, opts.Platform, cli.Err); perr != nil {
			return "", perr
		}
		res, err = api.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cli.Err, "WARNING: %s\n", w)
	}
	return res.ID, nil
}
