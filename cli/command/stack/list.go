package stack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/cli/command/service"
	"github.com/berth-project/berth/cli/command/task"
	"github.com/berth-project/berth/stack"
)

// lsRow is one stack ls row.
type lsRow struct {
	name     string
	services int
}

// Name is the stack's name.
func (r lsRow) Name() string { return r.name }

// Services is how many services the stack has.
func (r lsRow) Services() string { return strconv.Itoa(r.services) }

// MarshalJSON is {{json .}}.
func (r lsRow) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(r, []string{"Name", "Services"})
}

func newListCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Short:         "List stacks",
		DefaultFormat: "table {{.Name}}\t{{.Services}}",
		Headers:       formatter.Headers{"Name": "NAME", "Services": "SERVICES"},
		QuietFormat:   "{{.Name}}",
		Rows: func(ctx context.Context, api client.APIClient, _ *command.ListOptions, _ []string) ([]any, error) {
			res, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", stack.LabelNamespace)})
			if err != nil {
				return nil, err
			}
			count := map[string]int{}
			for _, s := range res.Items {
				count[s.Spec.Labels[stack.LabelNamespace]]++
			}
			var rows []lsRow
			for name, n := range count {
				rows = append(rows, lsRow{name: name, services: n})
			}
			task.SortNatural(rows, func(r lsRow) string { return r.name })
			return formatter.Rows(rows, func(r lsRow) any { return r }), nil
		},
	}.Command(cli)
}

func newServicesCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Use:           "services [OPTIONS] STACK",
		Short:         "List the services in the stack",
		Args:          command.ExactArgs(1),
		DefaultFormat: service.DefaultListFormat,
		Headers:       service.ListHeaders,
		QuietHelp:     "Only display IDs",
		FilterHelp:    "Filter output based on conditions provided",
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, args []string) ([]any, error) {
			ns := args[0]
			if err := stack.ValidateName(ns); err != nil {
				return nil, err
			}
			o.Filters.Add("label", stack.LabelNamespace+"="+ns)
			res, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: o.Filters, Status: !o.Quiet})
			if err != nil {
				return nil, err
			}
			if len(res.Items) == 0 && !o.Quiet {
				fmt.Fprintln(cli.Err, nothingFound(ns))
				return nil, errNothing
			}
			return service.ListRows(ctx, api, res.Items, o.Quiet)
		},
	}.Command(cli)
}

func newPsCommand(cli *command.Cli) *cobra.Command {
	var (
		o         task.PrintOptions
		noResolve bool
		filters   []string
	)
	cmd := command.NewCommand("ps [OPTIONS] STACK", "List the tasks in the stack", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			ns := args[0]
			if err := stack.ValidateName(ns); err != nil {
				return err
			}
			f, err := command.FilterArgs(filters)
			if err != nil {
				return err
			}
			f.Add("label", stack.LabelNamespace+"="+ns)
			res, err := api.TaskList(ctx, client.TaskListOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Items) == 0 {
				return fmt.Errorf("nothing found in stack: %s", ns)
			}
			if o.Quiet {
				o.NoTrunc = true
			}
			o.Now = time.Now()
			return task.Print(ctx, cli.Out, task.NewResolver(api, noResolve), res.Items, o)
		}))
	fs := cmd.Flags()
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&o.Format, "format", "", "Format output using a custom template")
	fs.BoolVar(&noResolve, "no-resolve", false, "Do not map IDs to Names")
	fs.BoolVar(&o.NoTrunc, "no-trunc", false, "Do not truncate output")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display task IDs")
	return cmd
}

// errNothing ends a command that has said "Nothing found in stack"
// with success and nothing more, as docker's.
var errNothing = &command.StatusError{Code: 0}
