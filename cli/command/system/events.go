package system

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// formatEvent renders an event as docker events does.
func formatEvent(m events.Message) string {
	ts := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		ts = time.Unix(m.Time, 0)
	}
	var attrs []string
	for k, v := range m.Actor.Attributes {
		attrs = append(attrs, k+"="+v)
	}
	sort.Strings(attrs)
	s := fmt.Sprintf("%s %s %s %s", ts.Format("2006-01-02T15:04:05.000000000Z07:00"), m.Type, m.Action, m.Actor.ID)
	if len(attrs) > 0 {
		s += " (" + strings.Join(attrs, ", ") + ")"
	}
	return s
}

// NewEventsCommand is `events`.
func NewEventsCommand(cli *command.Cli) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := command.NewCommand("events [OPTIONS]", "Get real time events from the server", command.NoArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := command.FilterArgs(filters)
			if err != nil {
				return err
			}
			s, u, err := command.TimeRange(since, until)
			if err != nil {
				return err
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			var tmplExec func(events.Message) error
			if format != "" {
				t, err := formatter.Template(format)
				if err != nil {
					return err
				}
				tmplExec = func(m events.Message) error { return t.Execute(cli.Out, m) }
			}
			res := api.Events(cmd.Context(), client.EventsListOptions{Since: s, Until: u, Filters: f})
			for {
				select {
				case m, ok := <-res.Messages:
					if !ok {
						return nil
					}
					if tmplExec != nil {
						if err := tmplExec(m); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(cli.Out, formatEvent(m))
					}
				case err := <-res.Err:
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		})
	cmd.Flags().StringVar(&since, "since", "", "Show all events created since timestamp")
	cmd.Flags().StringVar(&until, "until", "", "Stream events until this timestamp")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}
