package machine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/machine"
)

// listItem is one row of `machine ls`, with docker-machine's template
// fields.
type listItem struct {
	Name          string
	Active        string
	ActiveHost    bool
	DriverName    string
	State         machine.State
	URL           string
	Swarm         string
	DockerVersion string
	Error         string
	ResponseTime  time.Duration
}

// active reports whether DOCKER_HOST points at the machine.
func active(m *machine.Machine) bool {
	return m.URL() != "" && os.Getenv("DOCKER_HOST") == m.URL()
}

// inspectItem asks the machine's state and, when it runs, its daemon's
// version over TLS.
func (e *env) inspectItem(ctx context.Context, st *machine.Store, m *machine.Machine, timeout time.Duration) listItem {
	it := listItem{Name: m.Name, Active: "-", DriverName: m.Driver, URL: m.URL(), State: machine.Error}
	if active(m) {
		it.Active, it.ActiveHost = "*", true
	}
	d, err := e.driver(st, m.Driver)
	if err != nil {
		it.Error = err.Error()
		return it
	}
	if it.State, err = d.State(ctx, m); err != nil {
		it.State, it.Error = machine.Error, err.Error()
		return it
	}
	if it.State != machine.Running {
		it.URL = ""
		return it
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := engineVersion(ctx, m)
	it.ResponseTime = time.Since(start)
	if err != nil {
		it.DockerVersion, it.Error = "Unknown", err.Error()
		return it
	}
	it.DockerVersion = "v" + v
	return it
}

// engineVersion asks the machine's daemon its version, as a client of
// `machine env` would reach it.
func engineVersion(ctx context.Context, m *machine.Machine) (string, error) {
	dir := m.CertPath()
	api, err := client.New(client.WithHost(m.URL()),
		client.WithTLSClientConfig(filepath.Join(dir, certs.CAFile), filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile)),
		client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer api.Close()
	v, err := api.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", err
	}
	return v.Version, nil
}

const defaultListFormat = "{{.Name}}\t{{.Active}}\t{{.DriverName}}\t{{.State}}\t{{.URL}}\t{{.Swarm}}\t{{.DockerVersion}}\t{{.Error}}"

func newListCommand(e *env) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	var timeout int
	cmd := command.NewCommand("ls [OPTIONS]", "List machines", command.NoArgs, func(cmd *cobra.Command, args []string) error {
		match, err := parseListFilters(filters)
		if err != nil {
			return err
		}
		st, err := e.store()
		if err != nil {
			return err
		}
		ms, err := st.List()
		if err != nil {
			return err
		}
		items := make([]listItem, len(ms))
		var wg sync.WaitGroup
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				items[i] = e.inspectItem(cmd.Context(), st, m, time.Duration(timeout)*time.Second)
			}()
		}
		wg.Wait()
		var rows []listItem
		for _, it := range items {
			if match(it) {
				rows = append(rows, it)
			}
		}
		if quiet {
			for _, it := range rows {
				fmt.Fprintln(e.cli.Out, it.Name)
			}
			return nil
		}
		table := format == "" || strings.HasPrefix(format, "table")
		f := strings.TrimSpace(strings.TrimPrefix(format, "table"))
		if f == "" {
			f = defaultListFormat
		}
		tmpl, err := formatter.ParseTemplate(f)
		if err != nil {
			return fmt.Errorf("Template parsing error: %w", err)
		}
		tw := tabwriter.NewWriter(e.cli.Out, 5, 1, 3, ' ', 0)
		if table {
			if err := headerRow(tw, f); err != nil {
				return err
			}
		}
		for _, it := range rows {
			if err := tmpl.Execute(tw, it); err != nil {
				return err
			}
			fmt.Fprintln(tw)
		}
		return tw.Flush()
	})
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Enable quiet mode")
	fl.StringVarP(&format, "format", "f", "", "Pretty-print machines using a Go template")
	fl.StringArrayVar(&filters, "filter", nil, "Filter output based on conditions provided (driver, state, name)")
	fl.IntVarP(&timeout, "timeout", "t", 10, "Timeout in seconds, default to 10s")
	return cmd
}

var listHeaders = map[string]string{
	"Name": "NAME", "Active": "ACTIVE", "ActiveHost": "ACTIVE", "DriverName": "DRIVER", "State": "STATE",
	"URL": "URL", "Swarm": "SWARM", "DockerVersion": "DOCKER", "Error": "ERRORS", "ResponseTime": "RESPONSE",
}

// headerRow renders the template with each field replaced by its header.
func headerRow(w *tabwriter.Writer, f string) error {
	tmpl, err := template.New("h").Parse(f)
	if err != nil {
		return err
	}
	h := map[string]string{}
	for k, v := range listHeaders {
		h[k] = v
	}
	if err := tmpl.Execute(w, h); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// parseListFilters reads docker-machine's ls filters: driver=, state=
// (Running, Stopped, Error) and name= (a regular expression).
func parseListFilters(list []string) (func(listItem) bool, error) {
	var checks []func(listItem) bool
	for _, f := range list {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("Unsupported filter syntax: %q", f)
		}
		switch strings.ToLower(k) {
		case "driver":
			checks = append(checks, func(it listItem) bool { return strings.EqualFold(it.DriverName, v) })
		case "state":
			checks = append(checks, func(it listItem) bool { return strings.EqualFold(string(it.State), v) })
		case "name":
			re, err := regexp.Compile(v)
			if err != nil {
				return nil, fmt.Errorf("invalid name filter %q: %w", v, err)
			}
			checks = append(checks, func(it listItem) bool { return re.MatchString(it.Name) })
		default:
			return nil, fmt.Errorf("Unsupported filter key '%s'", k)
		}
	}
	return func(it listItem) bool {
		for _, c := range checks {
			if !c(it) {
				return false
			}
		}
		return true
	}, nil
}

func newStatusCommand(e *env) *cobra.Command {
	return command.NewCommand("status NAME", "Get the status of a machine", command.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		_, m, d, err := e.load(args[0])
		if err != nil {
			return err
		}
		s, err := d.State(cmd.Context(), m)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.cli.Out, s)
		return nil
	})
}

// running loads a machine that must be running (url, env, config).
func (e *env) running(ctx context.Context, name string) (*machine.Machine, error) {
	_, m, d, err := e.load(name)
	if err != nil {
		return nil, err
	}
	if s, err := d.State(ctx, m); err != nil || s != machine.Running {
		return nil, fmt.Errorf("Host is not running")
	}
	return m, nil
}

func newURLCommand(e *env) *cobra.Command {
	return command.NewCommand("url NAME", "Get the URL of a machine", command.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		m, err := e.running(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(e.cli.Out, m.URL())
		return nil
	})
}

func newIPCommand(e *env) *cobra.Command {
	return command.NewCommand("ip NAME [NAME...]", "Get the IP address of one or more machines", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		return e.each(args, func(_ *machine.Store, m *machine.Machine, _ machine.Driver) error {
			fmt.Fprintln(e.cli.Out, m.IP)
			return nil
		})
	})
}

func newActiveCommand(e *env) *cobra.Command {
	return command.NewCommand("active", "Print which machine is active (the one DOCKER_HOST points at)", command.NoArgs, func(cmd *cobra.Command, args []string) error {
		st, err := e.store()
		if err != nil {
			return err
		}
		ms, err := st.List()
		if err != nil {
			return err
		}
		for _, m := range ms {
			if active(m) {
				fmt.Fprintln(e.cli.Out, m.Name)
				return nil
			}
		}
		return fmt.Errorf("No active host found")
	})
}

func newInspectCommand(e *env) *cobra.Command {
	var format string
	cmd := command.NewCommand("inspect [OPTIONS] NAME", "Inspect information about a machine", command.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		_, m, _, err := e.load(args[0])
		if err != nil {
			return err
		}
		v := inspectView(m)
		if format != "" {
			tmpl, err := formatter.ParseTemplate(format)
			if err != nil {
				return fmt.Errorf("Template parsing error: %w", err)
			}
			if err := tmpl.Execute(e.cli.Out, v); err != nil {
				return err
			}
			fmt.Fprintln(e.cli.Out)
			return nil
		}
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.cli.Out, string(b))
		return nil
	})
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output using the given go template")
	return cmd
}

// inspectView is the machine in docker-machine's inspect shape (the
// fields a template such as {{.Driver.IPAddress}} reaches).
func inspectView(m *machine.Machine) map[string]any {
	dir := m.CertPath()
	drv := map[string]any{"IPAddress": m.IP, "MachineName": m.Name, "StorePath": filepath.Dir(dir), "CPU": m.CPUs, "Memory": m.Memory / (1024 * 1024), "EnginePort": m.Port}
	if m.SSH != nil {
		drv["SSHHostname"], drv["SSHUser"], drv["SSHPort"], drv["SSHKeyPath"] = m.SSH.Host, m.SSH.User, m.SSH.Port, m.SSH.Key
	}
	return map[string]any{
		"ConfigVersion": 3,
		"Name":          m.Name,
		"DriverName":    m.Driver,
		"Driver":        drv,
		"Created":       m.Created,
		"HostOptions": map[string]any{
			"AuthOptions": map[string]any{
				"StorePath":        dir,
				"CaCertPath":       filepath.Join(dir, certs.CAFile),
				"ClientCertPath":   filepath.Join(dir, certs.CertFile),
				"ClientKeyPath":    filepath.Join(dir, certs.KeyFile),
				"ServerCertPath":   filepath.Join(dir, certs.ServerFile),
				"ServerKeyPath":    filepath.Join(dir, certs.ServerKeyFile),
				"ServerCertSANs":   []string{m.IP, m.Name},
				"CertDir":          dir,
				"ServerCertRemote": filepath.Join("/var/lib/berth/certs", certs.ServerFile),
			},
		},
	}
}

func newConfigCommand(e *env) *cobra.Command {
	return command.NewCommand("config NAME", "Print the connection config for machine", command.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		m, err := e.running(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		dir := m.CertPath()
		fmt.Fprintf(e.cli.Out, "--tlsverify\n--tlscacert=%q\n--tlscert=%q\n--tlskey=%q\n-H=%s\n",
			filepath.Join(dir, certs.CAFile), filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile), m.URL())
		return nil
	})
}
