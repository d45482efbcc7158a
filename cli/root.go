// Package cli is the berth command line: docker's verbs, flags and output
// formats, talking to the daemon only through the official Engine API
// client (github.com/moby/moby/client).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// StatusError carries a command's exit status (a container's exit code for
// run, start -a and exec).
type StatusError struct {
	Status string
	Code   int
}

func (e *StatusError) Error() string { return e.Status }

// app is what every command shares: the streams and the API client.
type app struct {
	host     string
	debug    bool
	logLevel string
	in       io.Reader
	out      io.Writer
	errOut   io.Writer
	api      *client.Client
}

func (a *app) client() (*client.Client, error) {
	if a.api != nil {
		return a.api, nil
	}
	host := a.host
	if host == "" {
		host = os.Getenv("BERTH_HOST")
	}
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = DefaultHost
	}
	c, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("berth-cli"))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	a.api = c
	return c, nil
}

// NewRootCommand builds `berth` with every verb.
func NewRootCommand() *cobra.Command {
	return newRoot(&app{in: os.Stdin, out: os.Stdout, errOut: os.Stderr})
}

func newRoot(a *app) *cobra.Command {
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
	root.Flags().StringVarP(&a.host, "host", "H", "", "Daemon socket to connect to (default $BERTH_HOST, $DOCKER_HOST or "+DefaultHost+")")
	root.Flags().BoolVarP(&a.debug, "debug", "D", false, "Enable debug mode")
	root.Flags().StringVarP(&a.logLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &StatusError{Status: fmt.Sprintf("%s\nSee '%s --help'.", err, cmd.CommandPath()), Code: 125}
	})
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	addContainerCommands(root, a)
	addImageCommands(root, a)
	addVolumeCommands(root, a)
	addSystemCommands(root, a)
	finishTree(root)
	return root
}

// Main runs berth with args and returns the exit code; extra commands
// (the daemon, the shim) are added to the root.
func Main(args []string, extra ...*cobra.Command) int {
	return mainWith(&app{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}, args, extra...)
}

func mainWith(a *app, args []string, extra ...*cobra.Command) int {
	root := newRoot(a)
	for _, c := range extra {
		root.AddCommand(c)
	}
	finishTree(root)
	global, rest, err := splitGlobalFlags(args)
	if err != nil {
		fmt.Fprintf(a.errOut, "%s\nSee 'berth --help'.\n", err)
		return 125
	}
	if err := root.Flags().Parse(global); err != nil {
		fmt.Fprintf(a.errOut, "%s\nSee 'berth --help'.\n", err)
		return 125
	}
	if rest == nil {
		rest = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(rest)
	err = root.ExecuteContext(context.Background())
	if a.api != nil {
		a.api.Close()
	}
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(a.errOut, se.Status)
		}
		return se.Code
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "unknown command \""); ok {
		name, _, _ := strings.Cut(rest, "\"")
		fmt.Fprintf(a.errOut, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", name)
		return 1
	}
	fmt.Fprintln(a.errOut, daemonError(err))
	return 1
}

// daemonMessage is an error's text as the user should read it, without a
// leading "Error: ".
func daemonMessage(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(daemonError(err), "Error: ")
}

// daemonError phrases an API error as the docker CLI does.
func daemonError(err error) string {
	if client.IsErrConnectionFailed(err) {
		host := ""
		if _, after, ok := strings.Cut(err.Error(), " at "); ok {
			host, _, _ = strings.Cut(after, ";")
			host, _, _ = strings.Cut(host, ". ")
		}
		if host != "" {
			return fmt.Sprintf("Cannot connect to the berth daemon at %s. Is the berth daemon running?", host)
		}
		return "Cannot connect to the berth daemon. Is the berth daemon running on this host?"
	}
	msg := strings.NewReplacer("the Docker daemon", "the berth daemon", "docker daemon", "berth daemon").Replace(err.Error())
	if strings.HasPrefix(msg, "Error") || strings.HasPrefix(msg, "Cannot connect") || strings.Contains(msg, "\n") {
		return msg
	}
	return "Error: " + msg
}

// splitGlobalFlags separates the global options before the verb from the
// verb and its arguments.
func splitGlobalFlags(args []string) (global, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "-H" || arg == "--host" || arg == "-l" || arg == "--log-level":
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag needs an argument: %s", arg)
			}
			global = append(global, arg, args[i+1])
			i++
		case strings.HasPrefix(arg, "--host=") || strings.HasPrefix(arg, "--log-level=") ||
			(strings.HasPrefix(arg, "-H") && len(arg) > 2) || arg == "-D" || arg == "--debug":
			global = append(global, arg)
		default:
			return global, args[i:], nil
		}
	}
	return global, nil, nil
}
