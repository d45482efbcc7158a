package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

func addContainerCommands(root *cobra.Command, a *app) {
	mgmt := &cobra.Command{Use: "container", Short: "Manage containers"}
	build := func() []*cobra.Command {
		return []*cobra.Command{
			a.runCmd(), a.createCmd(), a.startCmd(), a.stopCmd(), a.restartCmd(), a.killCmd(),
			a.rmCmd(), a.psCmd(), a.logsCmd(), a.waitCmd(), a.execCmd(), a.attachCmd(), a.topCmd(),
			a.renameCmd(), a.pauseCmd(), a.unpauseCmd(), a.portCmd(), a.diffCmd(), a.exportCmd(),
			a.commitCmd(), a.cpCmd(), a.statsCmd(),
		}
	}
	root.AddCommand(build()...)
	root.AddCommand(a.inspectCmd())
	sub := build()
	for _, c := range sub {
		switch c.Name() {
		case "ps":
			c.Use = "ls [OPTIONS]"
			c.Aliases = []string{"list", "ps"}
		case "rm":
			c.Aliases = []string{"remove"}
		}
	}
	mgmt.AddCommand(sub...)
	mgmt.AddCommand(a.containerInspectCmd(), a.containerPruneCmd())
	root.AddCommand(mgmt)
}

// filterArgs turns --filter key=value flags into API filters.
func filterArgs(list []string) (client.Filters, error) {
	f := client.Filters{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), v)
	}
	return f, nil
}

// forEach runs fn on every argument, printing successes as docker does and
// collecting failures into one error.
func (a *app) forEach(args []string, fn func(string) error) error {
	var errs []error
	for _, id := range args {
		if err := fn(id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(a.out, id)
	}
	return errors.Join(errs...)
}

func (a *app) createCmd() *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.createContainer(cmd.Context(), &o, args)
			if err != nil {
				return runError(cmd, err)
			}
			fmt.Fprintln(a.out, id)
			return nil
		},
	}
	o.addFlags(cmd.Flags(), false)
	return cmd
}

// runError turns a failure before the container runs into docker's exit 125.
func runError(cmd *cobra.Command, err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	return &StatusError{Status: fmt.Sprintf("berth: %s\n\nRun 'berth %s --help' for more information", daemonMessage(err), cmd.Name()), Code: 125}
}

func (a *app) createContainer(ctx context.Context, o *runOpts, args []string) (string, error) {
	cfg, hc, netCfg, err := o.containerConfig(args, nil)
	if err != nil {
		return "", err
	}
	api, err := a.client()
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
		p, err := parsePlatform(o.platform)
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
		fmt.Fprintf(a.errOut, "Unable to find image '%s' locally\n", ref)
		if perr := a.pull(ctx, ref, a.errOut); perr != nil {
			return "", perr
		}
		res, err = api.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.errOut, "WARNING: %s\n", w)
	}
	return res.ID, nil
}

func (a *app) pull(ctx context.Context, ref string, out io.Writer) error {
	api, err := a.client()
	if err != nil {
		return err
	}
	resp, err := api.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: encodedAuth(registryOf(ref))})
	if err != nil {
		return err
	}
	defer resp.Close()
	fd, isTerm := term.GetFdInfo(out)
	return jsonmessage.DisplayJSONMessagesStream(resp, out, fd, isTerm, nil)
}

func (a *app) runCmd() *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, &o, args)
		},
	}
	o.addFlags(cmd.Flags(), true)
	return cmd
}

func (a *app) run(cmd *cobra.Command, o *runOpts, args []string) error {
	ctx := cmd.Context()
	if o.tty && !o.detach {
		if _, isTerm := term.GetFdInfo(a.in); !isTerm && o.interactive {
			return errors.New("the input device is not a TTY")
		}
	}
	id, err := a.createContainer(ctx, o, args)
	if err != nil {
		return runError(cmd, err)
	}
	api, _ := a.client()
	if o.detach {
		if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return runError(cmd, err)
		}
		fmt.Fprintln(a.out, id)
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
	cond := container.WaitConditionNextExit
	if o.rm {
		cond = container.WaitConditionRemoved
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
		stop := a.proxySignals(ctx, api, id)
		defer stop()
	}
	if hijack != nil {
		err := a.stream(ctx, hijack, streamOpts{tty: o.tty, stdin: cfg.AttachStdin, detachKeys: o.detachKeys,
			resize: func(ctx context.Context, h, w uint) {
				_, _ = api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			}})
		if errors.Is(err, errDetached) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	select {
	case res := <-wait.Result:
		if res.Error != nil && res.Error.Message != "" {
			return &StatusError{Status: res.Error.Message, Code: 125}
		}
		if res.StatusCode != 0 {
			return &StatusError{Code: int(res.StatusCode)}
		}
		return nil
	case err := <-wait.Error:
		return &StatusError{Status: daemonMessage(err), Code: 125}
	}
}

func (a *app) startCmd() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, err := a.client()
			if err != nil {
				return err
			}
			if !attach && !interactive {
				return a.forEach(args, func(id string) error {
					_, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{})
					return err
				})
			}
			if len(args) > 1 {
				return errors.New("you cannot start and attach multiple containers at once")
			}
			id := args[0]
			insp, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			c := insp.Container
			tty := c.Config != nil && c.Config.Tty
			stdin := interactive && c.Config != nil && c.Config.OpenStdin
			res, err := api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: detachKeys})
			if err != nil {
				return err
			}
			wait := api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
			if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				res.Close()
				return err
			}
			if !tty {
				stop := a.proxySignals(ctx, api, id)
				defer stop()
			}
			err = a.stream(ctx, &res.HijackedResponse, streamOpts{tty: tty, stdin: stdin, detachKeys: detachKeys,
				resize: func(ctx context.Context, h, w uint) {
					_, _ = api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
				}})
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			select {
			case r := <-wait.Result:
				if r.StatusCode != 0 {
					return &StatusError{Code: int(r.StatusCode)}
				}
			case err := <-wait.Error:
				return err
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func timeoutPtr(cmd *cobra.Command, t int) *int {
	if !cmd.Flags().Changed("time") && !cmd.Flags().Changed("timeout") {
		return nil
	}
	return &t
}

func (a *app) stopCmd() *cobra.Command {
	var t int
	var sig string
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(id string) error {
				_, err := api.ContainerStop(cmd.Context(), id, client.ContainerStopOptions{Signal: sig, Timeout: timeoutPtr(cmd, t)})
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&t, "time", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&t, "timeout", 0, "Seconds to wait before killing the container")
	_ = cmd.Flags().MarkHidden("timeout")
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (a *app) restartCmd() *cobra.Command {
	var t int
	var sig string
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(id string) error {
				_, err := api.ContainerRestart(cmd.Context(), id, client.ContainerRestartOptions{Signal: sig, Timeout: timeoutPtr(cmd, t)})
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&t, "time", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (a *app) killCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(id string) error {
				_, err := api.ContainerKill(cmd.Context(), id, client.ContainerKillOptions{Signal: sig})
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (a *app) rmCmd() *cobra.Command {
	var force, vols, links bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Remove one or more containers",
		Aliases: []string{},
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(id string) error {
				_, err := api.ContainerRemove(cmd.Context(), id, client.ContainerRemoveOptions{Force: force, RemoveVolumes: vols, RemoveLinks: links})
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&vols, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&links, "link", "l", false, "Remove the specified link")
	return cmd
}

func (a *app) simpleVerb(use, short string, fn func(ctx context.Context, api *client.Client, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(id string) error { return fn(cmd.Context(), api, id) })
		},
	}
}

func (a *app) pauseCmd() *cobra.Command {
	return a.simpleVerb("pause", "Pause all processes within one or more containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
}

func (a *app) unpauseCmd() *cobra.Command {
	return a.simpleVerb("unpause", "Unpause all processes within one or more containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
}

func (a *app) waitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range args {
				w := api.ContainerWait(cmd.Context(), id, client.ContainerWaitOptions{})
				select {
				case r := <-w.Result:
					fmt.Fprintln(a.out, r.StatusCode)
				case err := <-w.Error:
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
}

func (a *app) renameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			_, err = api.ContainerRename(cmd.Context(), args[0], client.ContainerRenameOptions{NewName: args[1]})
			if err != nil {
				return fmt.Errorf("%w\nError: failed to rename container named %s", err, args[0])
			}
			return nil
		},
	}
}

func (a *app) topCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			tw := newTabWriter(a.out)
			fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		},
	}
}

func (a *app) portCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerInspect(cmd.Context(), args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			ns := res.Container.NetworkSettings
			if ns == nil {
				return nil
			}
			var keys []string
			byKey := map[string][]string{}
			for p, binds := range ns.Ports {
				k := p.String()
				for _, b := range binds {
					ip := "0.0.0.0"
					if b.HostIP.IsValid() {
						ip = b.HostIP.String()
					}
					if b.HostIP.Is6() {
						ip = "[" + ip + "]"
					}
					byKey[k] = append(byKey[k], ip+":"+b.HostPort)
				}
				if len(binds) > 0 {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			if len(args) == 2 {
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				hosts, ok := byKey[want]
				if !ok {
					return fmt.Errorf("no public port '%s' published for %s", want, args[0])
				}
				for _, h := range hosts {
					fmt.Fprintln(a.out, h)
				}
				return nil
			}
			for _, k := range keys {
				for _, h := range byKey[k] {
					fmt.Fprintf(a.out, "%s -> %s\n", k, h)
				}
			}
			return nil
		},
	}
}

func (a *app) diffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerDiff(cmd.Context(), args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				k := "C"
				switch ch.Kind {
				case container.ChangeAdd:
					k = "A"
				case container.ChangeDelete:
					k = "D"
				}
				fmt.Fprintf(a.out, "%s %s\n", k, ch.Path)
			}
			return nil
		},
	}
}

func (a *app) exportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, closeFn, err := a.tarOutput(output)
			if err != nil {
				return err
			}
			defer closeFn()
			api, err := a.client()
			if err != nil {
				return err
			}
			rc, err := api.ContainerExport(cmd.Context(), args[0], client.ContainerExportOptions{})
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// tarOutput opens -o or stdout, refusing to write a tar to a terminal.
func (a *app) tarOutput(path string) (io.Writer, func(), error) {
	if path == "" || path == "-" {
		if _, isTerm := term.GetFdInfo(a.out); isTerm {
			return nil, nil, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return a.out, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to save: %w", err)
	}
	return f, func() { f.Close() }, nil
}

func (a *app) commitCmd() *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			res, err := api.ContainerCommit(cmd.Context(), args[0], client.ContainerCommitOptions{Reference: ref, Author: author, Comment: message, Changes: changes, NoPause: !pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, res.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	cmd.Flags().StringVarP(&message, "message", "m", "", "Commit message")
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func (a *app) logsCmd() *cobra.Command {
	var follow, timestamps, details bool
	var since, until, tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, err := a.client()
			if err != nil {
				return err
			}
			insp, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			now := time.Now()
			s, err := parseTimestamp(since, now)
			if err != nil {
				return err
			}
			u, err := parseTimestamp(until, now)
			if err != nil {
				return err
			}
			rc, err := api.ContainerLogs(ctx, args[0], client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true,
				Since: s, Until: u, Timestamps: timestamps, Follow: follow, Tail: tail, Details: details})
			if err != nil {
				return err
			}
			defer rc.Close()
			if insp.Container.Config != nil && insp.Container.Config.Tty {
				_, err = io.Copy(a.out, rc)
			} else {
				_, err = stdcopy.StdCopy(a.out, a.errOut, rc)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&details, "details", false, "Show extra details provided to logs")
	f.StringVar(&since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVar(&until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

func (a *app) execCmd() *cobra.Command {
	var detach, interactive, tty, privileged bool
	var env, envFile []string
	var workdir, user, detachKeys string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, err := a.client()
			if err != nil {
				return err
			}
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
				if _, isTerm := term.GetFdInfo(a.in); !isTerm {
					return errors.New("the input device is not a TTY")
				}
			}
			opts := client.ExecCreateOptions{User: user, Privileged: privileged, TTY: tty, AttachStdin: interactive && !detach,
				AttachStdout: !detach, AttachStderr: !detach, DetachKeys: detachKeys, Env: envs, WorkingDir: workdir, Cmd: args[1:]}
			if tty {
				if fd, isTerm := term.GetFdInfo(a.out); isTerm {
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
			err = a.stream(ctx, &res.HijackedResponse, streamOpts{tty: tty, stdin: interactive, detachKeys: detachKeys,
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
				return &StatusError{Code: ins.ExitCode}
			}
			return nil
		},
	}
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

func (a *app) attachCmd() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, err := a.client()
			if err != nil {
				return err
			}
			id := args[0]
			insp, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			c := insp.Container
			if c.State == nil || !c.State.Running {
				return errors.New("You cannot attach to a stopped container, start it first")
			}
			if c.State.Paused {
				return errors.New("You cannot attach to a paused container, unpause it first")
			}
			tty := c.Config != nil && c.Config.Tty
			stdin := !noStdin && c.Config != nil && c.Config.OpenStdin
			res, err := api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: detachKeys})
			if err != nil {
				return err
			}
			if sigProxy && !tty {
				stop := a.proxySignals(ctx, api, id)
				defer stop()
			}
			err = a.stream(ctx, &res.HijackedResponse, streamOpts{tty: tty, stdin: stdin, detachKeys: detachKeys,
				resize: func(ctx context.Context, h, w uint) {
					_, _ = api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
				}})
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			after, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err == nil && after.Container.State != nil && !after.Container.State.Running && after.Container.State.ExitCode != 0 {
				return &StatusError{Code: after.Container.State.ExitCode}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (a *app) containerPruneCmd() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force && !a.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerPrune(cmd.Context(), client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(a.out, "Deleted Containers:")
				for _, id := range res.Report.ContainersDeleted {
					fmt.Fprintln(a.out, id)
				}
				fmt.Fprintln(a.out)
			}
			fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(int64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// confirm asks a yes/no question on the terminal, as docker's prune does.
func (a *app) confirm(msg string) bool {
	fmt.Fprintf(a.out, "%s\nAre you sure you want to continue? [y/N] ", msg)
	var ans string
	_, _ = fmt.Fscanln(a.in, &ans)
	ans = strings.ToLower(strings.TrimSpace(ans))
	return ans == "y" || ans == "yes"
}

// inspect: containers and images, raw JSON from the daemon.
func (a *app) inspectCmd() *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspect(cmd.Context(), typ, format, size, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func (a *app) containerInspectCmd() *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspect(cmd.Context(), "container", format, size, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

func (a *app) inspect(ctx context.Context, typ, format string, size bool, args []string) error {
	api, err := a.client()
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	var errs []string
	for _, name := range args {
		raw, err := a.inspectOne(ctx, api, typ, name, size)
		if err != nil {
			errs = append(errs, daemonMessage(err))
			continue
		}
		raws = append(raws, raw)
	}
	if err := inspectFormat(a.out, format, raws); err != nil {
		return err
	}
	if len(errs) > 0 {
		return &StatusError{Status: strings.Join(errs, "\n"), Code: 1}
	}
	return nil
}

func (a *app) inspectOne(ctx context.Context, api *client.Client, typ, name string, size bool) (json.RawMessage, error) {
	switch typ {
	case "", "container":
		res, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{Size: size})
		if err == nil {
			return res.Raw, nil
		}
		if typ != "" || !cerrdefs.IsNotFound(err) {
			return nil, err
		}
		fallthrough
	case "image":
		raw, err := a.imageInspectRaw(ctx, api, name)
		if err == nil {
			return raw, nil
		}
		if typ != "" || !cerrdefs.IsNotFound(err) {
			return nil, err
		}
		fallthrough
	case "volume":
		res, err := api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		if err == nil {
			return res.Raw, nil
		}
		if typ != "" || !cerrdefs.IsNotFound(err) {
			return nil, err
		}
		fallthrough
	case "network":
		res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		if err == nil {
			return res.Raw, nil
		}
		if typ != "" {
			return nil, err
		}
		return nil, fmt.Errorf("Error: No such object: %s", name)
	default:
		return nil, fmt.Errorf("%q is not a valid value for --type", typ)
	}
}

// exitCodeOf parses an exit status string (for tests and helpers).
func exitCodeOf(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
