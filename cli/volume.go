package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func addVolumeCommands(root *cobra.Command, a *app) {
	mgmt := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	mgmt.AddCommand(a.volumeCreateCmd(), a.volumeLsCmd(), a.volumeInspectCmd(), a.volumeRmCmd(), a.volumePruneCmd())
	root.AddCommand(mgmt)
}

const defaultVolumeFormat = "table {{.Driver}}\t{{.Name}}"

var volumeHeaders = headerContext{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS", "Size": "SIZE", "Links": "LINKS", "CreatedAt": "CREATED AT"}

type volumeContext struct{ v volume.Volume }

func (c volumeContext) Name() string       { return c.v.Name }
func (c volumeContext) Driver() string     { return c.v.Driver }
func (c volumeContext) Mountpoint() string { return c.v.Mountpoint }
func (c volumeContext) Scope() string      { return c.v.Scope }
func (c volumeContext) CreatedAt() string  { return c.v.CreatedAt }
func (c volumeContext) Labels() string {
	var kv []string
	for k, v := range c.v.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
func (c volumeContext) Label(name string) string { return c.v.Labels[name] }
func (c volumeContext) Size() string {
	if c.v.UsageData == nil || c.v.UsageData.Size < 0 {
		return "N/A"
	}
	return humanSize(c.v.UsageData.Size)
}
func (c volumeContext) Links() string {
	if c.v.UsageData == nil || c.v.UsageData.RefCount < 0 {
		return "N/A"
	}
	return fmt.Sprint(c.v.UsageData.RefCount)
}
func (c volumeContext) MarshalJSON() ([]byte, error) {
	return contextJSON(c, []string{"CreatedAt", "Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size"})
}

func (a *app) volumeCreateCmd() *cobra.Command {
	var driver string
	var opts, labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			res, err := api.VolumeCreate(cmd.Context(), client.VolumeCreateOptions{Name: name, Driver: driver, DriverOpts: parseKeyValues(opts), Labels: parseKeyValues(labels)})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, res.Volume.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	cmd.Flags().StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	return cmd
}

func (a *app) volumeLsCmd() *cobra.Command {
	var quiet bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			vols := res.Items
			sort.Slice(vols, func(i, j int) bool { return vols[i].Name < vols[j].Name })
			var rows []any
			for _, v := range vols {
				rows = append(rows, volumeContext{v: v})
			}
			if quiet && format == "" {
				format = "{{.Name}}"
			}
			return listFormat(a.out, format, defaultVolumeFormat, volumeHeaders, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (a *app) volumeInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			var raws []json.RawMessage
			var errs []error
			for _, n := range args {
				res, err := api.VolumeInspect(cmd.Context(), n, client.VolumeInspectOptions{})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				raws = append(raws, res.Raw)
			}
			if err := inspectFormat(a.out, format, raws); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func (a *app) volumeRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			return a.forEach(args, func(n string) error {
				_, err := api.VolumeRemove(cmd.Context(), n, client.VolumeRemoveOptions{Force: force})
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func (a *app) volumePruneCmd() *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			warn := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warn = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !a.confirm(warn) {
				return nil
			}
			return a.pruneVolumes(cmd, all, filters)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<label>")`)
	return cmd
}

func (a *app) pruneVolumes(cmd *cobra.Command, all bool, filters []string) error {
	f, err := filterArgs(filters)
	if err != nil {
		return err
	}
	if all {
		f.Add("all", "true")
	}
	api, err := a.client()
	if err != nil {
		return err
	}
	res, err := api.VolumePrune(cmd.Context(), client.VolumePruneOptions{Filters: f})
	if err != nil {
		return err
	}
	if len(res.Report.VolumesDeleted) > 0 {
		fmt.Fprintln(a.out, "Deleted Volumes:")
		for _, v := range res.Report.VolumesDeleted {
			fmt.Fprintln(a.out, v)
		}
		fmt.Fprintln(a.out)
	}
	fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(int64(res.Report.SpaceReclaimed)))
	return nil
}
