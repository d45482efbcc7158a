package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageTemplate lays help out as the docker CLI does.
const usageTemplate = `Usage:  {{if not .HasParent}}{{.CommandPath}} [OPTIONS] COMMAND{{else if .Runnable}}{{.UseLine}}{{else}}{{.CommandPath}} COMMAND{{end}}

{{.Short}}
{{- if gt (len .Aliases) 0}}

Aliases:
  {{aliasLine .}}
{{- end}}
{{- if .HasAvailableSubCommands}}

Commands:
{{- range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding}} {{.Short}}
{{- end}}{{end}}
{{- end}}
{{- if .HasAvailableLocalFlags}}

{{if .HasParent}}Options{{else}}Global Options{{end}}:
{{wrappedFlagUsages .LocalFlags | trimTrailingWhitespaces}}
{{- end}}
{{- if .HasAvailableSubCommands}}

Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{- end}}
`

// typedList relabels a string-array flag's type in help ("list", "filter").
type typedList struct {
	pflag.Value
	typ string
}

func (t typedList) Type() string { return t.typ }

// Append and Replace keep pflag's SliceValue behaviour.
func (t typedList) Append(s string) error { return t.Value.(pflag.SliceValue).Append(s) }

func (t typedList) Replace(s []string) error { return t.Value.(pflag.SliceValue).Replace(s) }

func (t typedList) GetSlice() []string { return t.Value.(pflag.SliceValue).GetSlice() }

// finishTree applies docker's help conventions to every command.
func finishTree(root *cobra.Command) {
	cobra.AddTemplateFunc("aliasLine", func(c *cobra.Command) string {
		line := ""
		parent := "berth"
		if c.HasParent() && c.Parent().HasParent() {
			parent = c.Parent().CommandPath()
		}
		for i, a := range append([]string{c.Name()}, c.Aliases...) {
			if i > 0 {
				line += ", "
			}
			line += parent + " " + a
		}
		return line
	})
	cobra.AddTemplateFunc("wrappedFlagUsages", func(fs *pflag.FlagSet) string { return fs.FlagUsagesWrapped(80) })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		c.SetUsageTemplate(usageTemplate)
		c.SetHelpTemplate("{{.UsageString}}")
		c.InitDefaultHelpFlag()
		if f := c.Flags().Lookup("help"); f != nil {
			f.Hidden = true
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "stringArray" {
				return
			}
			typ := "list"
			if f.Name == "filter" {
				typ = "filter"
			}
			f.Value = typedList{Value: f.Value, typ: typ}
			f.DefValue = ""
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
