// Package service holds `berth service`: create, inspect, logs, ls, ps,
// rm, rollback, scale and update, with the docker CLI's flags, output and
// convergence progress. Flags docker has that berth cannot honour are
// left out rather than accepted and ignored.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/node"
	"github.com/berth-project/berth/cli/command/task"
	"github.com/berth-project/berth/cli/config"
)

// NewServiceCommand is `berth service`.
func NewServiceCommand(cli *command.Cli) *cobra.Command {
	return command.Group("service", "Manage Swarm services",
		newCreateCommand(cli), newInspectCommand(cli), newLogsCommand(cli), newListCommand(cli), newPsCommand(cli),
		newRemoveCommand(cli), newRollbackCommand(cli), newScaleCommand(cli), newUpdateCommand(cli))
}

// progName is the name printed in hints ("berth").
func progName(cmd *cobra.Command) string { return cmd.Root().Name() }

// printWarnings writes the daemon's warnings to stderr.
func printWarnings(cli *command.Cli, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(cli.Err, w)
	}
}

func newCreateCommand(cli *command.Cli) *cobra.Command {
	o := newOptions()
	cmd := command.NewCommand("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new service", command.MinArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		o.image, o.args = args[0], args[1:]
		if len(o.args) == 0 {
			o.args = nil
		}
		spec, err := o.spec(ctx, api, cmd.Flags())
		if err != nil {
			return err
		}
		opts := client.ServiceCreateOptions{Spec: spec}
		if o.registryAuth {
			opts.EncodedRegistryAuth = config.EncodedAuth(config.RegistryOf(o.image))
		}
		res, err := api.ServiceCreate(ctx, opts)
		if err != nil {
			return err
		}
		printWarnings(cli, res.Warnings)
		fmt.Fprintln(cli.Out, res.ID)
		if o.detach {
			return nil
		}
		return waitOnService(ctx, api, cli.Out, progName(cmd), res.ID, o.quiet)
	})
	fs := cmd.Flags()
	o.addCreateFlags(fs)
	o.addFlags(fs, true)
	fs.SetInterspersed(false)
	return cmd
}

func newUpdateCommand(cli *command.Cli) *cobra.Command {
	o := newOptions()
	cmd := command.NewCommand("update [OPTIONS] SERVICE", "Update a service", command.ExactArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		fs := cmd.Flags()
		res, err := api.ServiceInspect(ctx, args[0], client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		svc := res.Service
		opts := client.ServiceUpdateOptions{Version: svc.Version, RegistryAuthFrom: swarmtypes.RegistryAuthFromSpec}
		if o.doRollback {
			other := false
			fs.Visit(func(f *pflag.Flag) {
				switch f.Name {
				case "rollback", "detach", "quiet":
				default:
					other = true
				}
			})
			if other {
				return errors.New("other flags may not be combined with --rollback")
			}
			opts.Rollback = "previous"
		}
		if err := o.apply(ctx, api, fs, &svc.Spec); err != nil {
			return err
		}
		if o.registryAuth {
			opts.EncodedRegistryAuth = config.EncodedAuth(config.RegistryOf(svc.Spec.TaskTemplate.ContainerSpec.Image))
			opts.RegistryAuthFrom = ""
		}
		opts.Spec = svc.Spec
		up, err := api.ServiceUpdate(ctx, svc.ID, opts)
		if err != nil {
			return err
		}
		printWarnings(cli, up.Warnings)
		fmt.Fprintln(cli.Out, args[0])
		if o.detach {
			return nil
		}
		return waitOnService(ctx, api, cli.Out, progName(cmd), args[0], o.quiet)
	})
	fs := cmd.Flags()
	o.addUpdateFlags(fs)
	o.addFlags(fs, false)
	return cmd
}

func newRollbackCommand(cli *command.Cli) *cobra.Command {
	var detach, quiet bool
	cmd := command.NewCommand("rollback [OPTIONS] SERVICE", "Revert changes to a service's configuration", command.ExactArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		res, err := api.ServiceInspect(ctx, args[0], client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		up, err := api.ServiceUpdate(ctx, res.Service.ID, client.ServiceUpdateOptions{
			Version: res.Service.Version, Spec: res.Service.Spec, Rollback: "previous",
		})
		if err != nil {
			return err
		}
		printWarnings(cli, up.Warnings)
		fmt.Fprintln(cli.Out, args[0])
		if detach {
			return nil
		}
		return waitOnService(ctx, api, cli.Out, progName(cmd), args[0], quiet)
	})
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Exit immediately instead of waiting for the service to converge")
	return cmd
}

// scaleArgs checks SERVICE=REPLICAS arguments in docker's words.
func scaleArgs(cmd *cobra.Command, args []string) error {
	if err := command.MinArgs(1)(cmd, args); err != nil {
		return err
	}
	for _, arg := range args {
		if k, v, ok := strings.Cut(arg, "="); !ok || k == "" || v == "" {
			return fmt.Errorf("invalid scale specifier '%s'.\nSee '%s --help'.\n\nUsage:  %s\n\n%s", arg, cmd.CommandPath(), cmd.UseLine(), cmd.Short)
		}
	}
	return nil
}

// scaleService sets the replicas (or job completions) of a service.
func scaleService(ctx context.Context, api client.APIClient, id string, n uint64) ([]string, error) {
	res, err := api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return nil, err
	}
	svc := res.Service
	switch m := &svc.Spec.Mode; {
	case m.Replicated != nil:
		m.Replicated.Replicas = &n
	case m.ReplicatedJob != nil:
		m.ReplicatedJob.TotalCompletions = &n
	default:
		return nil, errors.New("scale can only be used with replicated or replicated-job mode")
	}
	up, err := api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec})
	if err != nil {
		return nil, err
	}
	return up.Warnings, nil
}

func newScaleCommand(cli *command.Cli) *cobra.Command {
	var detach bool
	cmd := command.NewCommand("scale SERVICE=REPLICAS [SERVICE=REPLICAS...]", "Scale one or multiple replicated services", scaleArgs, nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		var errs []error
		var scaled []string
		for _, arg := range args {
			id, count, _ := strings.Cut(arg, "=")
			n, err := strconv.ParseUint(count, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: invalid replicas value %s: %v", id, count, err))
				continue
			}
			warnings, err := scaleService(ctx, api, id, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s", id, command.DaemonMessage(err)))
				continue
			}
			printWarnings(cli, warnings)
			fmt.Fprintf(cli.Out, "%s scaled to %d\n", id, n)
			scaled = append(scaled, id)
		}
		if !detach {
			for _, id := range scaled {
				if err := waitOnService(ctx, api, cli.Out, progName(cmd), id, false); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s", id, command.DaemonMessage(err)))
				}
			}
		}
		return errors.Join(errs...)
	})
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Exit immediately instead of waiting for the service to converge")
	return cmd
}

func newRemoveCommand(cli *command.Cli) *cobra.Command {
	return command.Remove{Noun: "service", Remove: func(ctx context.Context, api client.APIClient, id string, _ bool) error {
		_, err := api.ServiceRemove(ctx, id, client.ServiceRemoveOptions{})
		return err
	}}.Command(cli)
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	return command.Inspect{
		Noun: "service",
		Get: func(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
			res, err := inspectService(ctx, api, name)
			return res.Raw, err
		},
		Pretty: &command.Pretty{
			Text: func(ctx context.Context, api client.APIClient, name string) (string, error) {
				res, err := inspectService(ctx, api, name)
				if err != nil {
					return "", err
				}
				nets := map[string]string{}
				for _, n := range res.Service.Spec.TaskTemplate.Networks {
					if nr, err := api.NetworkInspect(ctx, n.Target, client.NetworkInspectOptions{Scope: "swarm"}); err == nil {
						nets[nr.Network.ID] = nr.Network.Name
					}
				}
				return Pretty(res.Service, nets, time.Now()), nil
			},
			WithFormat: "--format is incompatible with human friendly format",
			Extra:      "Cannot supply extra formatting options to the pretty template",
		},
	}.Command(cli)
}

// inspectService is GET /services/NAME with the defaults filled in,
// "Error: no such service: NAME" when there is none.
func inspectService(ctx context.Context, api client.APIClient, name string) (client.ServiceInspectResult, error) {
	res, err := api.ServiceInspect(ctx, name, client.ServiceInspectOptions{InsertDefaults: true})
	if err != nil && cerrdefs.IsNotFound(err) {
		return res, fmt.Errorf("Error: no such service: %s", name)
	}
	return res, err
}

func newPsCommand(cli *command.Cli) *cobra.Command {
	var (
		o         task.PrintOptions
		noResolve bool
		filters   []string
	)
	cmd := command.NewCommand("ps [OPTIONS] SERVICE [SERVICE...]", "List the tasks of one or more services", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			f, err := command.FilterArgs(filters)
			if err != nil {
				return err
			}
			notFound, err := serviceFilter(ctx, api, f, args)
			if err != nil {
				return err
			}
			if nodes, ok := f["node"]; ok {
				resolved := map[string]bool{}
				for n := range nodes {
					ref, err := node.Reference(ctx, api, n)
					if err != nil {
						return err
					}
					resolved[ref] = true
				}
				f["node"] = resolved
			}
			res, err := api.TaskList(ctx, client.TaskListOptions{Filters: f})
			if err != nil {
				return err
			}
			if o.Quiet {
				o.NoTrunc = true
			}
			o.Now = time.Now()
			if err := task.Print(ctx, cli.Out, task.NewResolver(api, noResolve), res.Items, o); err != nil {
				return err
			}
			if len(notFound) > 0 {
				return errors.New(strings.Join(notFound, "\n"))
			}
			return nil
		}))
	fs := cmd.Flags()
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display task IDs")
	fs.BoolVar(&o.NoTrunc, "no-trunc", false, "Do not truncate output")
	fs.BoolVar(&noResolve, "no-resolve", false, "Do not map IDs to Names")
	fs.StringVar(&o.Format, "format", "", "Pretty-print tasks using a Go template")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	return cmd
}

// serviceFilter adds to f a "service" term for each of names (an ID, a
// name, or an ID prefix) and returns the names that match none ("no such
// service: x"); when none matches at all, that is the error.
func serviceFilter(ctx context.Context, api client.APIClient, f client.Filters, names []string) ([]string, error) {
	byID, byName := client.Filters{}, client.Filters{}
	for _, n := range names {
		byID.Add("id", n)
		byName.Add("name", n)
	}
	ids, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: byID})
	if err != nil {
		return nil, err
	}
	named, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: byName})
	if err != nil {
		return nil, err
	}
	var notFound []string
	found := 0
	for _, n := range names {
		if id := matchService(ids.Items, named.Items, n); id != "" {
			f.Add("service", id)
			found++
			continue
		}
		var prefixed []string
		for _, s := range ids.Items {
			if strings.HasPrefix(s.ID, n) {
				prefixed = append(prefixed, s.ID)
			}
		}
		switch len(prefixed) {
		case 0:
			notFound = append(notFound, "no such service: "+n)
		case 1:
			f.Add("service", prefixed[0])
			found++
		default:
			return nil, errors.New("multiple services found with provided prefix: " + n)
		}
	}
	if found == 0 {
		return nil, errors.New(strings.Join(notFound, "\n"))
	}
	return notFound, nil
}

// matchService is the ID of the service whose ID, else name, is n.
func matchService(ids, named []swarmtypes.Service, n string) string {
	for _, s := range ids {
		if s.ID == n {
			return s.ID
		}
	}
	for _, s := range named {
		if s.Spec.Name == n {
			return s.ID
		}
	}
	return ""
}
