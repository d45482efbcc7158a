package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// Version is the berth client version shown by `berth version`.
const Version = "0.1.0"

func addSystemCommands(root *cobra.Command, a *app) {
	sys := &cobra.Command{Use: "system", Short: "Manage berth"}
	sys.AddCommand(a.infoCmd(), a.eventsCmd(), a.systemPruneCmd())
	root.AddCommand(a.versionCmd(), a.infoCmd(), a.eventsCmd(), sys, a.networkCmd(), a.loginCmd(), a.logoutCmd())
}

func (a *app) versionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			sv, serr := api.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
			type clientInfo struct {
				Version, APIVersion, GoVersion, Os, Arch string
			}
			ci := clientInfo{Version: Version, APIVersion: api.ClientVersion(), GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
			if format != "" {
				if format == "json" {
					format = "{{json .}}"
				}
				t, err := parseTemplate(format + "\n")
				if err != nil {
					return err
				}
				data := map[string]any{"Client": ci}
				if serr == nil {
					data["Server"] = sv
				}
				if err := t.Execute(a.out, data); err != nil {
					return err
				}
				return serr
			}
			w := newTabWriter(a.out)
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
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func (a *app) infoCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.Info(cmd.Context(), client.InfoOptions{})
			if err != nil {
				return err
			}
			i := res.Info
			if format != "" {
				if format == "json" {
					format = "{{json .}}"
				}
				t, err := parseTemplate(format + "\n")
				if err != nil {
					return err
				}
				return t.Execute(a.out, i)
			}
			o := a.out
			fmt.Fprintln(o, "Client:")
			fmt.Fprintf(o, " Version:    %s\n", Version)
			fmt.Fprintln(o)
			fmt.Fprintln(o, "Server:")
			fmt.Fprintf(o, " Containers: %d\n", i.Containers)
			fmt.Fprintf(o, "  Running: %d\n", i.ContainersRunning)
			fmt.Fprintf(o, "  Paused: %d\n", i.ContainersPaused)
			fmt.Fprintf(o, "  Stopped: %d\n", i.ContainersStopped)
			fmt.Fprintf(o, " Images: %d\n", i.Images)
			fmt.Fprintf(o, " Server Version: %s\n", i.ServerVersion)
			fmt.Fprintf(o, " Storage Driver: %s\n", i.Driver)
			for _, kv := range i.DriverStatus {
				fmt.Fprintf(o, "  %s: %s\n", kv[0], kv[1])
			}
			fmt.Fprintf(o, " Logging Driver: %s\n", i.LoggingDriver)
			fmt.Fprintf(o, " Cgroup Driver: %s\n", i.CgroupDriver)
			fmt.Fprintf(o, " Cgroup Version: %s\n", i.CgroupVersion)
			if len(i.SecurityOptions) > 0 {
				fmt.Fprintln(o, " Security Options:")
				for _, s := range i.SecurityOptions {
					fmt.Fprintf(o, "  %s\n", strings.TrimPrefix(s, "name="))
				}
			}
			fmt.Fprintf(o, " Kernel Version: %s\n", i.KernelVersion)
			fmt.Fprintf(o, " Operating System: %s\n", i.OperatingSystem)
			fmt.Fprintf(o, " OSType: %s\n", i.OSType)
			fmt.Fprintf(o, " Architecture: %s\n", i.Architecture)
			fmt.Fprintf(o, " CPUs: %d\n", i.NCPU)
			fmt.Fprintf(o, " Total Memory: %s\n", humanBinary(i.MemTotal))
			fmt.Fprintf(o, " Name: %s\n", i.Name)
			fmt.Fprintf(o, " ID: %s\n", i.ID)
			fmt.Fprintf(o, " Docker Root Dir: %s\n", i.DockerRootDir)
			fmt.Fprintf(o, " Debug Mode: %t\n", i.Debug)
			fmt.Fprintf(o, " Experimental: %t\n", i.ExperimentalBuild)
			fmt.Fprintf(o, " Live Restore Enabled: %t\n", i.LiveRestoreEnabled)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func humanBinary(n int64) string {
	const unit = 1024
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

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

func (a *app) eventsCmd() *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			now := time.Now()
			s, err := parseTimestamp(since, now)
			if err != nil {
				return err
			}
			u, err := parseTimestamp(until, now)
			if err != nil {
				return err
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			if format == "json" {
				format = "{{json .}}"
			}
			var tmplExec func(events.Message) error
			if format != "" {
				t, err := parseTemplate(format + "\n")
				if err != nil {
					return err
				}
				tmplExec = func(m events.Message) error { return t.Execute(a.out, m) }
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
						fmt.Fprintln(a.out, formatEvent(m))
					}
				case err := <-res.Err:
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "Show all events created since timestamp")
	cmd.Flags().StringVar(&until, "until", "", "Stream events until this timestamp")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (a *app) systemPruneCmd() *cobra.Command {
	var all, force, vols bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				var b strings.Builder
				b.WriteString("WARNING! This will remove:\n  - all stopped containers\n")
				if vols {
					b.WriteString("  - all anonymous volumes not used by at least one container\n")
				}
				if all {
					b.WriteString("  - all images without at least one container associated to them\n")
				} else {
					b.WriteString("  - all dangling images\n")
				}
				if !a.confirm(strings.TrimSuffix(b.String(), "\n")) {
					return nil
				}
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			cres, err := api.ContainerPrune(cmd.Context(), client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(cres.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(a.out, "Deleted Containers:")
				for _, id := range cres.Report.ContainersDeleted {
					fmt.Fprintln(a.out, id)
				}
				fmt.Fprintln(a.out)
			}
			if vols {
				if err := a.pruneVolumes(cmd, false, filters); err != nil {
					return err
				}
			}
			return a.pruneImages(cmd.Context(), all, filters)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&vols, "volumes", false, "Prune anonymous volumes")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var user, pass string
	var passStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if passStdin {
				b, err := io.ReadAll(a.in)
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" {
				fmt.Fprint(a.out, "Username: ")
				line, _ := bufio.NewReader(a.in).ReadString('\n')
				user = strings.TrimSpace(line)
			}
			if pass == "" {
				fmt.Fprint(a.out, "Password: ")
				if fd, isTerm := term.GetFdInfo(a.in); isTerm {
					st, err := term.SaveState(fd)
					if err == nil {
						_ = term.DisableEcho(fd, st)
						defer term.RestoreTerminal(fd, st)
					}
				}
				line, _ := bufio.NewReader(a.in).ReadString('\n')
				pass = strings.TrimRight(line, "\r\n")
				fmt.Fprintln(a.out)
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{Username: user, Password: pass, ServerAddress: server})
			if err != nil {
				return err
			}
			if err := storeCredentials(server, user, pass); err != nil {
				return fmt.Errorf("store credentials: %w", err)
			}
			if res.Auth.Status != "" {
				fmt.Fprintln(a.out, res.Auth.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "Username")
	cmd.Flags().StringVarP(&pass, "password", "p", "", "Password or Personal Access Token (PAT)")
	cmd.Flags().BoolVar(&passStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			found, err := eraseCredentials(server)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(a.out, "Not logged in to %s\n", registryKey(server))
				return nil
			}
			fmt.Fprintf(a.out, "Removing login credentials for %s\n", registryKey(server))
			return nil
		},
	}
}
