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
	Status  string
	Code    int
}

func (e *StatusError) Error() string { return e.Status }

// app is what every command shares: the streams and the API client.
type app struct {
	host   string
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	api    *client.Client
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
	c, err := client.New(client.WithHost(host))
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
		Version:       "0.1.0",
	}
	root.PersistentFlags().StringVarP(&a.host, "host", "H", "", "Daemon socket to connect to (default $BERTH_HOST, $DOCKER_HOST or "+DefaultHost+")")
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	addContainerCommands(root, a)
	addImageCommands(root, a)
	addVolumeCommands(root, a)
	addSystemCommands(root, a)
	return root
}

// Main runs berth with args and returns the exit code; extra commands
// (the daemon, the shim) are added to the root.
func Main(args []string, extra ...*cobra.Command) int {
	a := &app{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}
	root := newRoot(a)
	for _, c := range extra {
		root.AddCommand(c)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
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
	if strings.HasPrefix(msg, "unknown command") {
		fmt.Fprintf(a.errOut, "berth: %s\nSee 'berth --help'\n", msg)
		return 1
	}
	fmt.Fprintln(a.errOut, daemonError(err))
	return 1
}

// daemonError phrases an API error as the docker CLI does.
func daemonError(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "Error response from daemon") || strings.HasPrefix(msg, "Cannot connect") {
		return msg
	}
	return "Error: " + msg
}
