// version and info: the client's and the daemon's.

package system

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// NewVersionCommand is `version`.
func NewVersionCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := command.NewCommand("version [OPTIONS]", "Show the berth version information", command.NoArgs,
		cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
			sv, serr := api.ServerVersion(ctx, client.ServerVersionOptions{})
			type clientInfo struct {
				Version, APIVersion, GoVersion, Os, Arch string
			}
			ci := clientInfo{Version: command.Version, APIVersion: api.ClientVersion(), GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
			if format != "" {
				t, err := formatter.Template(format)
				if err != nil {
					return err
				}
				data := map[string]any{"Client": ci}
				if serr == nil {
					data["Server"] = sv
				}
				if err := t.Execute(cli.Out, data); err != nil {
					return err
				}
				return serr
			}
			w := formatter.NewTabWriter(cli.Out)
			fmt.Fprintln(w, "Client:")
			fmt.Fprintf(w, " Version:\t%s\n", ci.Version)
			fmt.Fprintf(w, " API version:\t%s\n", ci.APIVersion)
			fmt.Fprintf(w, " Go version:\t%s\n", ci.GoVersion)
			fmt.Fprintf(w, " OS/Arch:\t%s/%s\n", ci.Os, ci.Arch)
			if serr != nil {
				w.Flush()
				return serr
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "Server: %s\n", sv.Platform.Name)
			fmt.Fprintln(w, " Engine:")
			fmt.Fprintf(w, "  Version:\t%s\n", sv.Version)
			fmt.Fprintf(w, "  API version:\t%s (minimum version %s)\n", sv.APIVersion, sv.MinAPIVersion)
			fmt.Fprintf(w, "  OS/Arch:\t%s/%s\n", sv.Os, sv.Arch)
			fmt.Fprintf(w, "  Experimental:\t%t\n", sv.Experimental)
			for _, c := range sv.Components {
				if c.Name == "Engine" {
					continue
				}
				fmt.Fprintf(w, " %s:\n", c.Name)
				fmt.Fprintf(w, "  Version:\t%s\n", c.Version)
				var keys []string
				for k := range c.Details {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "  %s:\t%v\n", k, c.Details[k])
				}
			}
			return w.Flush()
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

// NewInfoCommand is `info`.
func NewInfoCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := command.NewCommand("info [OPTIONS]", "Display system-wide information", command.NoArgs,
		cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
			res, err := api.Info(ctx, client.InfoOptions{})
			if err != nil {
				return err
			}
			i := res.Info
			if format != "" {
				t, err := formatter.Template(format)
				if err != nil {
					return err
				}
				return t.Execute(cli.Out, i)
			}
			printInfo(cli.Out, i)
			return nil
		}))
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

// infoLine is one " Label: value" line of info, deeper ones indented
// further.
type infoLine struct {
	depth int
	label string
	value any
}

// printInfo is info's text: the client's version, then the daemon's
// lines (its storage driver's status and security options among them).
func printInfo(o io.Writer, i system.Info) {
	printLines := func(lines []infoLine) {
		for _, l := range lines {
			fmt.Fprintf(o, "%s%s: %v\n", strings.Repeat(" ", l.depth), l.label, l.value)
		}
	}
	fmt.Fprintln(o, "Client:")
	fmt.Fprintf(o, " Version:    %s\n", command.Version)
	fmt.Fprintln(o)
	fmt.Fprintln(o, "Server:")
	lines := []infoLine{
		{1, "Containers", i.Containers}, {2, "Running", i.ContainersRunning}, {2, "Paused", i.ContainersPaused},
		{2, "Stopped", i.ContainersStopped}, {1, "Images", i.Images}, {1, "Server Version", i.ServerVersion},
		{1, "Storage Driver", i.Driver},
	}
	for _, kv := range i.DriverStatus {
		lines = append(lines, infoLine{2, kv[0], kv[1]})
	}
	printLines(append(lines, infoLine{1, "Logging Driver", i.LoggingDriver}, infoLine{1, "Cgroup Driver", i.CgroupDriver},
		infoLine{1, "Cgroup Version", i.CgroupVersion}))
	if len(i.SecurityOptions) > 0 {
		fmt.Fprintln(o, " Security Options:")
		for _, s := range i.SecurityOptions {
			fmt.Fprintf(o, "  %s\n", strings.TrimPrefix(s, "name="))
		}
	}
	printLines([]infoLine{
		{1, "Kernel Version", i.KernelVersion}, {1, "Operating System", i.OperatingSystem}, {1, "OSType", i.OSType},
		{1, "Architecture", i.Architecture}, {1, "CPUs", i.NCPU}, {1, "Total Memory", formatter.HumanBinary(i.MemTotal)},
		{1, "Name", i.Name}, {1, "ID", i.ID}, {1, "Docker Root Dir", i.DockerRootDir}, {1, "Debug Mode", i.Debug},
		{1, "Experimental", i.ExperimentalBuild}, {1, "Live Restore Enabled", i.LiveRestoreEnabled},
	})
}
