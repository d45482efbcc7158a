package container

import (
	"context"
	"errors"
	"fmt"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewRunCommand is `run`.
func NewRunCommand(cli *command.Cli) *cobra.Command {
	var o runOpts
	cmd := command.NewCommand("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", command.MinArgs(1),
		func(cmd *cobra.Command, args []string) error {
			return runContainer(cmd, cli, &o, args)
		})
	o.addFlags(cmd.Flags(), true)
	return cmd
}

func runContainer(cmd *cobra.Command, cli *command.Cli, o *runOpts, args []string) error {
	ctx := cmd.Context()
	if o.tty && !o.detach {
		if _, isTerm := term.GetFdInfo(cli.In); !isTerm && o.interactive {
			return errors.New("the input device is not a TTY")
		}
	}
	id, err := createContainer(ctx, cli, o, args)
	if err != nil {
		return runError(cmd, err)
	}
	api, _ := cli.Client()
	if o.detach {
		if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return runError(cmd, err)
		}
		fmt.Fprintln(cli.Out, id)
		return nil
	}
	cfg, _, _, _ := o.containerConfig(args, nil)
	var hijack *client.HijackedResponse
	if cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr {
		res, err := api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true,
			Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr, DetachKeys: o.detachKeys})
		if err != nil {
			return runError(cmd, err)
		}
		hijack = &res.HijackedResponse
	}
	cond := containertypes.WaitConditionNextExit
	if o.rm {
		cond = containertypes.WaitConditionRemoved
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	wait := api.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: cond})
	if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if hijack != nil {
			hijack.Close()
		}
		if o.rm {
			_, _ = api.ContainerRemove(context.WithoutCancel(ctx), id, client.ContainerRemoveOptions{Force: true})
		}
		return runError(cmd, err)
	}
	if o.sigProxy && !o.tty {
		stop := proxySignals(ctx, api, id)
		defer stop()
	}
	if hijack != nil {
		if detached, err := streamContainer(ctx, cli, api, id, hijack, o.tty, cfg.AttachStdin, o.detachKeys); detached || err != nil {
			return err
		}
	}
	select {
	case res := <-wait.Result:
		if res.Error != nil && res.Error.Message != "" {
			return &command.StatusError{Status: res.Error.Message, Code: 125}
		}
		if res.StatusCode != 0 {
			return &command.StatusError{Code: int(res.StatusCode)}
		}
		return nil
	case err := <-wait.Error:
		return &command.StatusError{Status: command.DaemonMessage(err), Code: 125}
	}
}
