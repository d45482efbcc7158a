// Package command is what every berth command shares: the Cli (the
// streams and the Engine API client — berth talks to the daemon only
// through github.com/moby/moby/client), docker's error phrasing and
// argument checks, and the builders of the list, inspect, rm and prune
// commands that every noun (container, image, network, volume…) has.
// The nouns live in the packages below this one; cli assembles them.
package command

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/version"
)

// Version is the berth client version shown by `berth version`.
var Version = version.Version

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// Cli is what every command shares: the global options, the streams and
// the API client (made on first use).
type Cli struct {
	Host     string
	Debug    bool
	LogLevel string
	TLS      TLSOptions
	In       io.Reader
	Out      io.Writer
	Err      io.Writer
	api      client.APIClient
}

// New returns a Cli on the given streams.
func New(in io.Reader, out, errOut io.Writer) *Cli {
	return &Cli{In: in, Out: out, Err: errOut}
}

// Client returns the Engine API client for -H, $BERTH_HOST, $DOCKER_HOST
// or DefaultHost, over TLS as the TLS options say, making it on first use.
func (c *Cli) Client() (client.APIClient, error) {
	if c.api != nil {
		return c.api, nil
	}
	host := c.Host
	if host == "" {
		host = os.Getenv("BERTH_HOST")
	}
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = DefaultHost
	}
	tlsCfg, err := c.TLS.Config(host)
	if err != nil {
		return nil, err
	}
	var opts []client.Opt
	if tlsCfg != nil {
		opts = append(opts, tlsClient(tlsCfg))
	}
	opts = append(opts, client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("berth-cli"))
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	c.api = api
	return api, nil
}

// Close releases the API client, if one was made.
func (c *Cli) Close() {
	if c.api != nil {
		_ = c.api.Close()
		c.api = nil
	}
}

// RunFunc is a command's body once it has the API client.
type RunFunc func(ctx context.Context, api client.APIClient, args []string) error

// WithAPI makes a cobra RunE that gets the API client and runs fn with it.
// Every command's errors take one path: the client's own failure comes
// back as "connect to HOST: …", and what fn returns goes unchanged to the
// root, which phrases daemon errors as the docker CLI does (DaemonError).
func (c *Cli) WithAPI(fn RunFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		api, err := c.Client()
		if err != nil {
			return err
		}
		return fn(cmd.Context(), api, args)
	}
}

// Each runs fn on every argument and joins the failures into one error
// (docker's commands on several objects go on past a failure).
func Each(args []string, fn func(string) error) error {
	var errs []error
	for _, arg := range args {
		if err := fn(arg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ForEach is Each printing every argument that succeeded, as docker's
// stop, rm… do.
func (c *Cli) ForEach(args []string, fn func(string) error) error {
	return Each(args, func(arg string) error {
		if err := fn(arg); err != nil {
			return err
		}
		fmt.Fprintln(c.Out, arg)
		return nil
	})
}

// Confirm asks a yes/no question on the terminal, as docker's prune does.
func (c *Cli) Confirm(msg string) bool {
	fmt.Fprintf(c.Out, "%s\nAre you sure you want to continue? [y/N] ", msg)
	var ans string
	_, _ = fmt.Fscanln(c.In, &ans)
	ans = strings.ToLower(strings.TrimSpace(ans))
	return ans == "y" || ans == "yes"
}

// SaveTar writes the tar archive open returns to -o PATH or stdout (see
// TarOutput), as export and save do; failures to open the output are
// wrapped with wrap ("failed to save image") when it is set.
func (c *Cli) SaveTar(ctx context.Context, path, wrap string, open func(ctx context.Context, api client.APIClient) (io.ReadCloser, error)) error {
	w, closeFn, err := c.TarOutput(path)
	if err != nil {
		if wrap != "" {
			return fmt.Errorf("%s: %w", wrap, err)
		}
		return err
	}
	defer closeFn()
	api, err := c.Client()
	if err != nil {
		return err
	}
	rc, err := open(ctx, api)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// TarOutput opens -o PATH, or stdout when path is "" or "-", refusing to
// write a tar to a terminal. The returned func closes what was opened.
func (c *Cli) TarOutput(path string) (io.Writer, func(), error) {
	if path == "" || path == "-" {
		if _, isTerm := term.GetFdInfo(c.Out); isTerm {
			return nil, nil, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return c.Out, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to save: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// Group is a management command (`berth volume`…) holding subs.
func Group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.AddCommand(subs...)
	return cmd
}

// Renamed gives cmd another usage line (when use is not "") and aliases,
// for a verb that a management command offers under another name
// (`berth ps` is `berth container ls`).
func Renamed(cmd *cobra.Command, use string, aliases ...string) *cobra.Command {
	if use != "" {
		cmd.Use = use
	}
	cmd.Aliases = aliases
	return cmd
}

// NewCommand is how every berth command is made: its usage line, short
// help, argument check (MinArgs…) and body (often WithAPI's).
func NewCommand(use, short string, args cobra.PositionalArgs, run func(*cobra.Command, []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args, RunE: run}
}

// Remove builds a `NOUN rm` command (alias remove): each NAME removed in
// turn and printed once it is, the failures joined, as docker's.
type Remove struct {
	// Noun ("volume") makes the usage line, "rm [OPTIONS] VOLUME
	// [VOLUME...]" ([OPTIONS] only with Force), and the short help,
	// "Remove one or more volumes", unless Short says otherwise.
	Noun, Short string
	// Force is the help of -f/--force; "" leaves the flag out.
	Force string
	// Remove removes one object.
	Remove func(ctx context.Context, api client.APIClient, name string, force bool) error
}

// Command makes the cobra command.
func (r Remove) Command(c *Cli) *cobra.Command {
	var force bool
	arg, opts := strings.ToUpper(r.Noun), ""
	if r.Force != "" {
		opts = "[OPTIONS] "
	}
	cmd := NewCommand("rm "+opts+arg+" ["+arg+"...]", cmp.Or(r.Short, "Remove one or more "+r.Noun+"s"), MinArgs(1),
		c.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			return c.ForEach(args, func(name string) error { return r.Remove(ctx, api, name, force) })
		}))
	cmd.Aliases = []string{"remove"}
	if r.Force != "" {
		cmd.Flags().BoolVarP(&force, "force", "f", false, r.Force)
	}
	return cmd
}
