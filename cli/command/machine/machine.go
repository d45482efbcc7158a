// Package machine holds `berth machine`: docker-machine's verbs (create,
// ls, ip, ssh, scp, env, status, url, inspect, config, start, stop,
// restart, rm, active) over the store and drivers of package machine.
// It talks to a machine's daemon only for `ls`'s DOCKER column.
package machine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/machine"
	"github.com/berth-project/berth/machine/local"
	"github.com/berth-project/berth/machine/sshdriver"
)

// env is what every machine command shares: the streams and the store.
type env struct {
	cli         *command.Cli
	storagePath string
}

func (e *env) store() (*machine.Store, error) { return machine.OpenStore(e.storagePath) }

// driver returns the driver of the given name for the store.
func (e *env) driver(st *machine.Store, name string) (machine.Driver, error) {
	switch name {
	case local.Name:
		return local.New(st.Root)
	case sshdriver.Name, sshdriver.Alias:
		return sshdriver.New(st.Root)
	default:
		return nil, fmt.Errorf("Driver %q not found. Do you have the plugin binary accessible in your PATH?", name)
	}
}

// load finds a machine and its driver.
func (e *env) load(name string) (*machine.Store, *machine.Machine, machine.Driver, error) {
	st, err := e.store()
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := st.Load(name)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := e.driver(st, m.Driver)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, m, d, nil
}

// NewMachineCommand is `berth machine`.
func NewMachineCommand(cli *command.Cli) *cobra.Command {
	e := &env{cli: cli}
	cmd := command.Group("machine", "Manage machines: local nodes or hosts over SSH",
		newActiveCommand(e), newConfigCommand(e), newCreateCommand(e), newEnvCommand(e), newInspectCommand(e),
		newIPCommand(e), newListCommand(e), newRestartCommand(e), newRemoveCommand(e), newSCPCommand(e),
		newSSHCommand(e), newStartCommand(e), newStatusCommand(e), newStopCommand(e), newURLCommand(e))
	cmd.PersistentFlags().StringVarP(&e.storagePath, "storage-path", "s", "", "Configures storage path (default $BERTH_MACHINE_STORAGE_PATH or "+machine.DefaultStorePath+")")
	return cmd
}

// parseMemory reads --memory: a size with a unit ("2g", "512m") or a
// plain number of MB, as docker-machine's drivers take it.
func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("invalid --memory %q: it must be positive", s)
		}
		return n * 1024 * 1024, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid --memory %q: a size such as 512m or 2g, or a number of MB", s)
	}
	if n < 64*1024*1024 {
		return 0, fmt.Errorf("invalid --memory %q: a node needs at least 64 MB", s)
	}
	return n, nil
}

// createOptions are `machine create`'s flags.
type createOptions struct {
	driver, memory                string
	cpus                          float64
	engineOpts, insecure, mirrors []string
	sshHost, sshUser, sshKey      string
	sshPort, enginePort           int
}

func isSSH(driver string) bool { return driver == sshdriver.Name || driver == sshdriver.Alias }

// configure checks the flags against the driver (a flag the driver cannot
// honour is refused) and puts them into m.
func (o *createOptions) configure(cmd *cobra.Command, m *machine.Machine) error {
	changed := func(names ...string) string {
		for _, n := range names {
			if cmd.Flags().Changed(n) {
				return n
			}
		}
		return ""
	}
	owned := localOwned
	if isSSH(o.driver) {
		owned = sshOwned
	}
	args, err := engineArgs(owned, o.engineOpts, o.insecure, o.mirrors)
	if err != nil {
		return err
	}
	m.EngineArgs = args
	if !isSSH(o.driver) {
		if n := changed("ssh-host", "ssh-user", "ssh-key", "ssh-port", "engine-port"); n != "" {
			return fmt.Errorf("--%s is only for the ssh driver", n)
		}
		if o.cpus < 0 {
			return fmt.Errorf("invalid --cpus %v: it must be positive", o.cpus)
		}
		mem, err := parseMemory(o.memory)
		if err != nil {
			return err
		}
		m.CPUs, m.Memory = o.cpus, mem
		return nil
	}
	if n := changed("cpus", "memory"); n != "" {
		return fmt.Errorf("--%s is not supported by the ssh driver: the host's size is its own", n)
	}
	if o.sshHost == "" {
		return fmt.Errorf("ssh driver requires the --ssh-host option")
	}
	if o.sshPort < 1 || o.sshPort > 65535 || o.enginePort < 1 || o.enginePort > 65535 {
		return fmt.Errorf("invalid port: --ssh-port and --engine-port must be within 1-65535")
	}
	key := o.sshKey
	if key == "" {
		key = sshdriver.DefaultKey()
	}
	m.SSH = &machine.SSH{Host: o.sshHost, User: o.sshUser, Port: o.sshPort, Key: key}
	m.Port = o.enginePort
	return nil
}

func newCreateCommand(e *env) *cobra.Command {
	o := &createOptions{}
	cmd := command.NewCommand("create [OPTIONS] NAME", "Create a machine", command.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if err := machine.ValidName(name); err != nil {
			return err
		}
		if err := o.configure(cmd, &machine.Machine{}); err != nil {
			return err
		}
		st, err := e.store()
		if err != nil {
			return err
		}
		d, err := e.driver(st, o.driver)
		if err != nil {
			return err
		}
		if st.Exists(name) {
			return fmt.Errorf("Host already exists: %q", name)
		}
		out := e.cli.Out
		fmt.Fprintln(out, "Running pre-create checks...")
		m, err := st.New(name, o.driver)
		if err != nil {
			return err
		}
		if err := o.configure(cmd, m); err != nil {
			return errors.Join(err, st.Delete(m))
		}
		fmt.Fprintln(out, "Creating machine...")
		if err := d.Create(cmd.Context(), m, out); err != nil {
			// All or nothing: what the driver made goes, and the directory.
			rerr := d.Remove(context.WithoutCancel(cmd.Context()), m)
			derr := st.Delete(m)
			// A failed provisioning step speaks for itself, as in
			// docker-machine ("Error creating machine: Error detecting OS: …").
			var step *machine.StepError
			if errors.As(err, &step) {
				err = fmt.Errorf("Error creating machine: %w", err)
			} else {
				err = fmt.Errorf("Error creating machine: Error in driver during machine creation: %w", err)
			}
			return errors.Join(err, rerr, derr)
		}
		if err := st.Save(m); err != nil {
			return err
		}
		fmt.Fprintln(out, "Checking connection to Docker...")
		fmt.Fprintln(out, "Docker is up and running!")
		fmt.Fprintf(out, "To see how to connect your Docker Client to the Docker Engine running on this machine, run: berth machine env %s\n", name)
		return nil
	})
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", local.Name, "Driver to create machine with (local, ssh)")
	f.Float64Var(&o.cpus, "cpus", 0, "Number of CPUs the machine may use (default: no limit)")
	f.StringVar(&o.memory, "memory", "", "Memory the machine may use, e.g. 1g, or a number of MB (default: no limit)")
	f.StringArrayVar(&o.engineOpts, "engine-opt", nil, "Specify arbitrary flags to include with the created engine in the form flag=value")
	f.StringArrayVar(&o.insecure, "engine-insecure-registry", nil, "Specify insecure registries to allow with the created engine")
	f.StringArrayVar(&o.mirrors, "engine-registry-mirror", nil, "Specify registry mirrors to use")
	f.StringVar(&o.sshHost, "ssh-host", "", "ssh driver: IP address or host name of the host")
	f.StringVar(&o.sshUser, "ssh-user", "root", "ssh driver: SSH user (root, or one with passwordless sudo)")
	f.StringVar(&o.sshKey, "ssh-key", "", "ssh driver: SSH private key path (default ~/.ssh/id_ed25519 or ~/.ssh/id_rsa, else the ssh agent's keys)")
	f.IntVar(&o.sshPort, "ssh-port", 22, "ssh driver: SSH port")
	f.IntVar(&o.enginePort, "engine-port", 2376, "ssh driver: Docker Engine port (TLS)")
	return cmd
}

// The daemon flags each driver sets itself. The ssh driver leaves the
// host's roots and cgroup parent to the host.
var (
	localOwned = map[string]bool{"host": true, "H": true, "data-root": true, "exec-root": true, "config-file": true,
		"tls": true, "tlsverify": true, "tlscacert": true, "tlscert": true, "tlskey": true, "cgroup-parent": true}
	sshOwned = map[string]bool{"host": true, "H": true, "tls": true, "tlsverify": true, "tlscacert": true, "tlscert": true, "tlskey": true}
)

// engineArgs turns the --engine-* flags into `berth daemon` flags. The
// flags the driver sets itself are refused: a node's sockets, roots and
// TLS files are the driver's.
func engineArgs(owned map[string]bool, opts, insecure, mirrors []string) ([]string, error) {
	var out []string
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimLeft(k, "-")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --engine-opt %q: it must be flag=value", o)
		}
		if owned[k] {
			return nil, fmt.Errorf("invalid --engine-opt %q: the machine driver sets --%s itself", o, k)
		}
		out = append(out, "--"+k+"="+v)
	}
	for _, r := range insecure {
		out = append(out, "--insecure-registry="+r)
	}
	for _, r := range mirrors {
		out = append(out, "--registry-mirror="+r)
	}
	return out, nil
}

// each runs fn on every named machine and joins the failures.
func (e *env) each(names []string, fn func(st *machine.Store, m *machine.Machine, d machine.Driver) error) error {
	return command.Each(names, func(name string) error {
		st, m, d, err := e.load(name)
		if err != nil {
			return err
		}
		return fn(st, m, d)
	})
}

func newStartCommand(e *env) *cobra.Command {
	return command.NewCommand("start NAME [NAME...]", "Start a machine", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		return e.each(args, func(_ *machine.Store, m *machine.Machine, d machine.Driver) error {
			fmt.Fprintf(e.cli.Out, "Starting %q...\n", m.Name)
			if err := d.Start(cmd.Context(), m); err != nil {
				return err
			}
			fmt.Fprintf(e.cli.Out, "Machine %q was started.\n", m.Name)
			return nil
		})
	})
}

func newStopCommand(e *env) *cobra.Command {
	return command.NewCommand("stop NAME [NAME...]", "Stop a machine", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		return e.each(args, func(_ *machine.Store, m *machine.Machine, d machine.Driver) error {
			if s, _ := d.State(cmd.Context(), m); s != machine.Running {
				return fmt.Errorf("Host %q is already stopped.", m.Name)
			}
			fmt.Fprintf(e.cli.Out, "Stopping %q...\n", m.Name)
			if err := d.Stop(cmd.Context(), m); err != nil {
				return err
			}
			fmt.Fprintf(e.cli.Out, "Machine %q was stopped.\n", m.Name)
			return nil
		})
	})
}

func newRestartCommand(e *env) *cobra.Command {
	return command.NewCommand("restart NAME [NAME...]", "Restart a machine", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		return e.each(args, func(_ *machine.Store, m *machine.Machine, d machine.Driver) error {
			fmt.Fprintf(e.cli.Out, "Restarting %q...\n", m.Name)
			if s, _ := d.State(cmd.Context(), m); s == machine.Running {
				if err := d.Stop(cmd.Context(), m); err != nil {
					return err
				}
			}
			if err := d.Start(cmd.Context(), m); err != nil {
				return err
			}
			fmt.Fprintf(e.cli.Out, "Machine %q was restarted.\n", m.Name)
			return nil
		})
	})
}

func newRemoveCommand(e *env) *cobra.Command {
	var force, yes bool
	cmd := command.NewCommand("rm [OPTIONS] NAME [NAME...]", "Remove a machine", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		fmt.Fprintf(e.cli.Out, "About to remove %s\n", strings.Join(args, ", "))
		fmt.Fprintln(e.cli.Out, "WARNING: This action will delete both local reference and remote instance.")
		if !yes && !confirm(e) {
			return nil
		}
		return e.each(args, func(st *machine.Store, m *machine.Machine, d machine.Driver) error {
			if s, _ := d.State(cmd.Context(), m); s == machine.Running && !force {
				return fmt.Errorf("Error removing host %q: it is running: stop it first, or use rm -f", m.Name)
			}
			if err := d.Remove(cmd.Context(), m); err != nil && !force {
				return fmt.Errorf("Error removing host %q: %w", m.Name, err)
			}
			if err := st.Delete(m); err != nil {
				return err
			}
			fmt.Fprintf(e.cli.Out, "Successfully removed %s\n", m.Name)
			return nil
		})
	})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Remove a running machine, and the local configuration even if the machine cannot be removed")
	cmd.Flags().BoolVarP(&yes, "y", "y", false, "Assumes automatic yes to proceed with remove, without prompting further user confirmation")
	return cmd
}

// confirm asks docker-machine's rm question; anything but y is no.
func confirm(e *env) bool {
	fmt.Fprint(e.cli.Out, "Are you sure? (y/n): ")
	line, _ := bufio.NewReader(e.cli.In).ReadString('\n')
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes"
}
