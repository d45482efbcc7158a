package command

import (
	"cmp"
	"context"
	"io"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command/formatter"
)

// ListOptions are the flags every list command shares, as parsed.
type ListOptions struct {
	Format  string
	Quiet   bool
	NoTrunc bool
	Filters client.Filters
	// DefaultFormat, when Rows sets it, replaces List.DefaultFormat for
	// this run (ps --size adds a column, images --digests another).
	DefaultFormat string
}

// List builds a list command (ps, images, network ls, volume ls…): it owns
// the header and field tables and the --format, -q, --no-trunc and
// --filter handling; Rows fetches the rows, each a format context whose
// methods are the template's fields (formatter.Rows makes them).
type List struct {
	// Use is the usage line; without one the command is a management
	// command's "ls [OPTIONS]", alias "list".
	Use, Short string
	Aliases    []string
	Args       cobra.PositionalArgs // NoArgs if nil
	// DefaultFormat is the table shown without --format.
	DefaultFormat string
	// Headers names the column of each template field.
	Headers formatter.Headers
	// QuietFormat is the template -q prints; "{{.ID}}" if empty.
	QuietFormat string
	// The help of -q, --no-trunc and -f/--filter; "" leaves the flag out.
	QuietHelp, NoTruncHelp, FilterHelp string
	// Flags adds the command's own flags.
	Flags func(fs *pflag.FlagSet)
	Rows  func(ctx context.Context, api client.APIClient, o *ListOptions, args []string) ([]any, error)
}

// Command makes the cobra command.
func (l List) Command(c *Cli) *cobra.Command {
	var o ListOptions
	var filters []string
	args := l.Args
	if args == nil {
		args = NoArgs
	}
	use, aliases := l.Use, l.Aliases
	if use == "" {
		use, aliases = "ls [OPTIONS]", []string{"list"}
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   l.Short,
		Aliases: aliases,
		Args:    args,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := FilterArgs(filters)
			if err != nil {
				return err
			}
			o.Filters = f
			api, err := c.Client()
			if err != nil {
				return err
			}
			rows, err := l.Rows(cmd.Context(), api, &o, args)
			if err != nil {
				return err
			}
			return l.Render(c.Out, o, rows)
		},
	}
	fs := cmd.Flags()
	if l.QuietHelp != "" {
		fs.BoolVarP(&o.Quiet, "quiet", "q", false, l.QuietHelp)
	}
	if l.NoTruncHelp != "" {
		fs.BoolVar(&o.NoTrunc, "no-trunc", false, l.NoTruncHelp)
	}
	if l.FilterHelp != "" {
		fs.StringArrayVarP(&filters, "filter", "f", nil, l.FilterHelp)
	}
	fs.StringVar(&o.Format, "format", "", "Format output using a custom template")
	if l.Flags != nil {
		l.Flags(fs)
	}
	return cmd
}

// Render prints rows as o asks: -q alone prints QuietFormat, no --format
// the default table.
func (l List) Render(w io.Writer, o ListOptions, rows []any) error {
	format := o.Format
	if o.Quiet && format == "" {
		format = cmp.Or(l.QuietFormat, "{{.ID}}")
	}
	def := l.DefaultFormat
	if o.DefaultFormat != "" {
		def = o.DefaultFormat
	}
	return formatter.List(w, format, def, l.Headers, rows)
}
