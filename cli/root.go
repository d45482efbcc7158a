// Package cli is the berth command line: docker's verbs, flags and output
// formats, talking to the daemon only through the official Engine API
// client (github.com/moby/moby/client). This package is the root command:
// the global options, the top-level verbs (`berth run` is `berth container
// run`…) and the exit codes; the commands themselves live in one package
// per noun under cli/command (container, image, build, network, volume,
// system, registry, swarm, node, service, stack), on the helpers of
// cli/command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/build"
	"github.com/berth-project/berth/cli/command/container"
	"github.com/berth-project/berth/cli/command/image"
	"github.com/berth-project/berth/cli/command/machine"
	"github.com/berth-project/berth/cli/command/network"
	"github.com/berth-project/berth/cli/command/node"
	"github.com/berth-project/berth/cli/command/registry"
	"github.com/berth-project/berth/cli/command/service"
	"github.com/berth-project/berth/cli/command/stack"
	"github.com/berth-project/berth/cli/command/swarm"
	"github.com/berth-project/berth/cli/command/system"
	"github.com/berth-project/berth/cli/command/visualizer"
	"github.com/berth-project/berth/cli/command/volume"
)

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = command.DefaultHost

// Version is the berth client version shown by `berth version`.
var Version = command.Version

// StatusError carries a command's exit status.
type StatusError = command.StatusError

// NewRootCommand builds `berth` with every verb.
func NewRootCommand() *cobra.Command {
	return newRoot(command.New(os.Stdin, os.Stdout, os.Stderr))
}

func newRoot(c *command.Cli) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND",
		Short:         "A container engine and orchestrator that speaks Docker",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], "berth")
			}
			return cmd.Help()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate("berth version {{.Version}}\n")
	// Global options come before the verb, as in docker; they are root-local
	// flags (so verbs keep their own -H, -D…) parsed by splitGlobalFlags.
	root.Flags().StringVarP(&c.Host, "host", "H", "", "Daemon socket to connect to (default $BERTH_HOST, $DOCKER_HOST or "+DefaultHost+")")
	root.Flags().BoolVarP(&c.Debug, "debug", "D", false, "Enable debug mode")
	root.Flags().StringVarP(&c.LogLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	c.TLS.AddFlags(root.Flags())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &command.StatusError{Status: fmt.Sprintf("%s\nSee '%s --help'.", err, cmd.CommandPath()), Code: 125}
	})
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	addCommands(root, c)
	finishTree(root)
	return root
}

// addCommands adds the management commands (container, image…) and the
// top-level verbs, each a command of its own noun's package.
func addCommands(root *cobra.Command, c *command.Cli) {
	root.AddCommand(
		// Management commands.
		container.NewContainerCommand(c),
		image.NewImageCommand(c),
		network.NewNetworkCommand(c),
		volume.NewVolumeCommand(c),
		system.NewSystemCommand(c),
		swarm.NewSwarmCommand(c),
		node.NewNodeCommand(c),
		service.NewServiceCommand(c),
		stack.NewStackCommand(c),
		machine.NewMachineCommand(c),

		// Containers.
		container.NewRunCommand(c),
		container.NewCreateCommand(c),
		container.NewStartCommand(c),
		container.NewStopCommand(c),
		container.NewRestartCommand(c),
		container.NewKillCommand(c),
		container.NewRmCommand(c),
		container.NewPsCommand(c),
		container.NewLogsCommand(c),
		container.NewWaitCommand(c),
		container.NewExecCommand(c),
		container.NewAttachCommand(c),
		container.NewTopCommand(c),
		container.NewRenameCommand(c),
		container.NewPauseCommand(c),
		container.NewUnpauseCommand(c),
		container.NewPortCommand(c),
		container.NewDiffCommand(c),
		container.NewExportCommand(c),
		container.NewCommitCommand(c),
		container.NewCpCommand(c),
		container.NewStatsCommand(c),

		// Images.
		image.NewImagesCommand(c),
		image.NewHistoryCommand(c),
		image.NewTagCommand(c),
		image.NewRmiCommand(c),
		image.NewImportCommand(c),
		image.NewSaveCommand(c),
		image.NewLoadCommand(c),
		image.NewPullCommand(c),
		image.NewPushCommand(c),
		build.NewBuildCommand(c),

		// Registries.
		registry.NewLoginCommand(c),
		registry.NewLogoutCommand(c),

		// System.
		system.NewVersionCommand(c),
		system.NewInfoCommand(c),
		system.NewEventsCommand(c),
		system.NewInspectCommand(c),

		// The visualizer.
		visualizer.NewVisualizerCommand(c),
	)
}

// Main runs berth with args and returns the exit code; extra commands
// (the daemon, the shim) are added to the root.
func Main(args []string, extra ...*cobra.Command) int {
	return mainWith(command.New(os.Stdin, os.Stdout, os.Stderr), args, extra...)
}

func mainWith(c *command.Cli, args []string, extra ...*cobra.Command) int {
	root := newRoot(c)
	for _, x := range extra {
		root.AddCommand(x)
	}
	finishTree(root)
	global, rest, err := splitGlobalFlags(args)
	if err != nil {
		fmt.Fprintf(c.Err, "%s\nSee 'berth --help'.\n", err)
		return 125
	}
	if err := root.Flags().Parse(global); err != nil {
		fmt.Fprintf(c.Err, "%s\nSee 'berth --help'.\n", err)
		return 125
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "fatal":
	default:
		fmt.Fprintf(c.Err, "Unable to parse logging level: %s\n", c.LogLevel)
		return 1
	}
	if c.Debug {
		c.LogLevel = "debug"
	}
	if rest == nil {
		rest = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(rest)
	err = root.ExecuteContext(context.Background())
	c.Close()
	if err == nil {
		return 0
	}
	var se *command.StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(c.Err, se.Status)
		}
		return se.Code
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "unknown command \""); ok {
		name, _, _ := strings.Cut(rest, "\"")
		fmt.Fprintf(c.Err, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", name)
		return 1
	}
	fmt.Fprintln(c.Err, command.DaemonError(err))
	return 1
}

// Global options before the verb: those taking a value and booleans.
var (
	globalValueFlags = map[string]bool{"-H": true, "--host": true, "-l": true, "--log-level": true,
		"--tlscacert": true, "--tlscert": true, "--tlskey": true}
	globalBoolFlags = map[string]bool{"-D": true, "--debug": true, "--tls": true, "--tlsverify": true}
)

// splitGlobalFlags separates the global options before the verb from the
// verb and its arguments.
func splitGlobalFlags(args []string) (global, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, _, hasValue := strings.Cut(arg, "=")
		switch {
		case globalValueFlags[arg]:
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag needs an argument: %s", arg)
			}
			global = append(global, arg, args[i+1])
			i++
		case hasValue && strings.HasPrefix(name, "--") && (globalValueFlags[name] || globalBoolFlags[name]),
			strings.HasPrefix(arg, "-H") && len(arg) > 2, globalBoolFlags[arg]:
			global = append(global, arg)
		default:
			return global, args[i:], nil
		}
	}
	return global, nil, nil
}
