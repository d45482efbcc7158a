package command

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command/formatter"
)

// Inspect builds an inspect command: NAME [NAME...], -f/--format, the
// documents as an indented JSON array (or each through the template), and
// one line per name that failed ("Error: No such object: x", or the
// daemon's "No such container: x"), with exit status 1, as docker's.
type Inspect struct {
	// Noun ("volume") makes docker's usage line and short help:
	// "inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed
	// information on one or more volumes"; Use and Short, when set, say
	// otherwise.
	Noun       string
	Use, Short string
	// Flags adds the command's own flags (--size, --type).
	Flags func(fs *pflag.FlagSet)
	// Get returns one object's raw JSON as the daemon sent it.
	Get func(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error)
	// Pretty, when set, adds --pretty (and --format pretty): the objects
	// in human-friendly text instead.
	Pretty *Pretty
}

// Pretty is the human-friendly form of an inspect command (node and
// service inspect --pretty).
type Pretty struct {
	// Text returns one object's text.
	Text func(ctx context.Context, api client.APIClient, name string) (string, error)
	// WithFormat, when set, is the error of --pretty with --format;
	// without it --pretty wins.
	WithFormat string
	// Extra is the error of a format that says more than "pretty".
	Extra string
}

// Command makes the cobra command.
func (in Inspect) Command(c *Cli) *cobra.Command {
	var format string
	var pretty bool
	run := c.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		var raws []json.RawMessage
		var errs []string
		for _, name := range args {
			raw, err := in.Get(ctx, api, name)
			if err != nil {
				errs = append(errs, inspectMessage(err))
				continue
			}
			raws = append(raws, raw)
		}
		if err := formatter.Inspect(c.Out, format, raws); err != nil {
			return err
		}
		if len(errs) > 0 {
			return &StatusError{Status: strings.Join(errs, "\n"), Code: 1}
		}
		return nil
	})
	arg := strings.ToUpper(in.Noun)
	cmd := &cobra.Command{
		Use:   cmp.Or(in.Use, "inspect [OPTIONS] "+arg+" ["+arg+"...]"),
		Short: cmp.Or(in.Short, "Display detailed information on one or more "+in.Noun+"s"),
		Args:  MinArgs(1),
		RunE:  run,
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	if in.Pretty != nil {
		cmd.Flags().BoolVar(&pretty, "pretty", false, "Print the information in a human friendly format")
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			isPretty, err := in.Pretty.chosen(format, pretty)
			if err != nil {
				return err
			}
			if !isPretty {
				return run(cmd, args)
			}
			// The text of each name in turn, stopping at the first that fails.
			return c.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
				for _, name := range args {
					text, err := in.Pretty.Text(ctx, api, name)
					if err != nil {
						return &StatusError{Status: DaemonMessage(err), Code: 1}
					}
					fmt.Fprint(c.Out, text)
				}
				return nil
			})(cmd, args)
		}
	}
	if in.Flags != nil {
		in.Flags(cmd.Flags())
	}
	return cmd
}

// chosen says whether --format and --pretty ask for the pretty text,
// refusing what docker refuses.
func (p *Pretty) chosen(format string, pretty bool) (bool, error) {
	if pretty && format != "" && p.WithFormat != "" {
		return false, errors.New(p.WithFormat)
	}
	if pretty {
		format = "pretty"
	}
	if strings.HasPrefix(format, "pretty") && format != "pretty" {
		return false, errors.New(p.Extra)
	}
	return format == "pretty", nil
}

// inspectMessage is the line of a name that failed, in docker's words: the
// error as it is ("Error: No such object: x", "Error response from
// daemon: No such container: x"), without an "Error: " of berth's own.
func inspectMessage(err error) string {
	if strings.HasPrefix(err.Error(), "Error") {
		return DaemonError(err)
	}
	return DaemonMessage(err)
}
