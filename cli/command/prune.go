package command

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command/formatter"
)

// PruneFunc removes what filters select (all: the -a variant).
type PruneFunc func(ctx context.Context, api client.APIClient, filters client.Filters, all bool) (Pruned, error)

// Pruned is what a prune removed: its report's section ("Deleted
// Containers:", one line an item) and the bytes reclaimed.
type Pruned struct {
	Title     string // "Containers"
	Deleted   []string
	Reclaimed uint64
}

// Report is the report section, nothing when nothing was deleted (see
// DeletedReport).
func (p Pruned) Report() string { return DeletedReport(p.Title, p.Deleted) }

// Prune builds a `NOUN prune` command: -f/--force, --filter, an optional
// -a/--all, docker's confirmation prompt for the noun, the report and the
// "Total reclaimed space" line.
type Prune struct {
	Short string
	// Removes says what the prompt warns of ("all stopped containers":
	// "WARNING! This will remove all stopped containers."); AllRemoves
	// replaces it with -a.
	Removes, AllRemoves string
	// AllHelp is the help of -a/--all; "" leaves the flag out.
	AllHelp string
	// FilterHelp is the help of --filter; "" is docker's
	// `Provide filter values (e.g. "until=<timestamp>")`.
	FilterHelp string
	// NoTotal leaves the "Total reclaimed space" line out, and the blank
	// line that ends the report (network prune).
	NoTotal bool
	Run     PruneFunc
}

// Command makes the cobra command.
func (p Prune) Command(c *Cli) *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: p.Short,
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := FilterArgs(filters)
			if err != nil {
				return err
			}
			removes := p.Removes
			if all {
				removes = p.AllRemoves
			}
			if !force && !c.Confirm("WARNING! This will remove "+removes+".") {
				return nil
			}
			api, err := c.Client()
			if err != nil {
				return err
			}
			pruned, err := p.Run(cmd.Context(), api, f, all)
			if err != nil {
				return err
			}
			if p.NoTotal {
				fmt.Fprint(c.Out, strings.TrimSuffix(pruned.Report(), "\n"))
				return nil
			}
			fmt.Fprint(c.Out, pruned.Report())
			PrintReclaimed(c.Out, pruned.Reclaimed)
			return nil
		},
	}
	if p.AllHelp != "" {
		cmd.Flags().BoolVarP(&all, "all", "a", false, p.AllHelp)
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, cmp.Or(p.FilterHelp, `Provide filter values (e.g. "until=<timestamp>")`))
	return cmd
}

// PrintReclaimed prints docker's "Total reclaimed space: 1.2MB" line.
func PrintReclaimed(w io.Writer, n uint64) {
	fmt.Fprintf(w, "Total reclaimed space: %s\n", formatter.HumanSize(int64(n)))
}

// DeletedReport is a prune report section: "Deleted TITLE:", one line an
// item and a blank line; nothing when nothing was deleted.
func DeletedReport(title string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Deleted %s:\n", title)
	for _, it := range items {
		b.WriteString(it + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
