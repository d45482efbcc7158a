package container

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// NewExecCommand is `exec`.
func NewExecCommand(cli *command.Cli) *cobra.Command {
	var detach, interactive, tty, privileged bool
	var env, envFile []string
	var workdir, user, detachKeys string
	cmd := command.NewCommand("exec [OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", command.MinArgs(2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			var envs []string
			for _, f := range envFile {
				vals, err := readEnvFile(f, os.LookupEnv)
				if err != nil {
					return err
				}
				envs = append(envs, vals...)
			}
			for _, e := range env {
				if v, ok := parseEnv(e, os.LookupEnv); ok {
					envs = append(envs, v)
				}
			}
			if tty && interactive {
				if _, isTerm := term.GetFdInfo(cli.In); !isTerm {
					return errors.New("the input device is not a TTY")
				}
			}
			opts := client.ExecCreateOptions{User: user, Privileged: privileged, TTY: tty, AttachStdin: interactive && !detach,
				AttachStdout: !detach, AttachStderr: !detach, DetachKeys: detachKeys, Env: envs, WorkingDir: workdir, Cmd: args[1:]}
			if tty {
				if fd, isTerm := term.GetFdInfo(cli.Out); isTerm {
					if ws, err := term.GetWinsize(fd); err == nil {
						opts.ConsoleSize = client.ConsoleSize{Height: uint(ws.Height), Width: uint(ws.Width)}
					}
				}
			}
			ex, err := api.ExecCreate(ctx, args[0], opts)
			if err != nil {
				return err
			}
			if detach {
				_, err := api.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true, TTY: tty})
				return err
			}
			res, err := api.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tty, ConsoleSize: opts.ConsoleSize})
			if err != nil {
				return err
			}
			err = stream(ctx, cli, &res.HijackedResponse, streamOpts{tty: tty, stdin: interactive, detachKeys: detachKeys,
				resize: func(ctx context.Context, h, w uint) {
					_, _ = api.ExecResize(ctx, ex.ID, client.ExecResizeOptions{Height: h, Width: w})
				}})
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			// The output can end a moment before the daemon records the exit.
			var ins client.ExecInspectResult
			for i := 0; ; i++ {
				ins, err = api.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
				if err != nil {
					return err
				}
				if !ins.Running || i >= 50 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if ins.ExitCode != 0 {
				return &command.StatusError{Code: ins.ExitCode}
			}
			return nil
		}))
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	f.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	f.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&envFile, "env-file", nil, "Read in a file of environment variables")
	f.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
