package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

func newRemoveCommand(cli *command.Cli) *cobra.Command {
	var detach bool
	cmd := command.NewCommand("rm [OPTIONS] STACK [STACK...]", "Remove one or more stacks", command.MinArgs(1), nil)
	cmd.Aliases = []string{"remove", "down"}
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		var errs []error
		for _, ns := range args {
			if err := removeStack(ctx, cli, api, ns, detach); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	cmd.Flags().BoolVarP(&detach, "detach", "d", true, "Do not wait for stack removal")
	return cmd
}

// removeStack removes the services, secrets, configs and networks of the
// stack ns, in docker's order, going on past failures.
func removeStack(ctx context.Context, cli *command.Cli, api client.APIClient, ns string, detach bool) error {
	f := namespaceFilter(ns)
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		return err
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return err
	}
	secrets, err := api.SecretList(ctx, client.SecretListOptions{Filters: f})
	if err != nil {
		return err
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err != nil {
		return err
	}
	if len(services.Items)+len(nets.Items)+len(secrets.Items)+len(configs.Items) == 0 {
		fmt.Fprintln(cli.Err, nothingFound(ns))
		return nil
	}
	failed := removeServices(ctx, cli, api, services.Items)
	sort.Slice(secrets.Items, func(i, j int) bool { return secrets.Items[i].Spec.Name < secrets.Items[j].Spec.Name })
	for _, s := range secrets.Items {
		fmt.Fprintf(cli.Out, "Removing secret %s\n", s.Spec.Name)
		if _, err := api.SecretRemove(ctx, s.ID, client.SecretRemoveOptions{}); err != nil {
			fmt.Fprintf(cli.Err, "Failed to remove secret %s: %s\n", s.ID, command.DaemonMessage(err))
			failed = true
		}
	}
	sort.Slice(configs.Items, func(i, j int) bool { return configs.Items[i].Spec.Name < configs.Items[j].Spec.Name })
	for _, c := range configs.Items {
		fmt.Fprintf(cli.Out, "Removing config %s\n", c.Spec.Name)
		if _, err := api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil {
			fmt.Fprintf(cli.Err, "Failed to remove config %s: %s\n", c.ID, command.DaemonMessage(err))
			failed = true
		}
	}
	sort.Slice(nets.Items, func(i, j int) bool { return nets.Items[i].Name < nets.Items[j].Name })
	for _, n := range nets.Items {
		fmt.Fprintf(cli.Out, "Removing network %s\n", n.Name)
		if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			fmt.Fprintf(cli.Err, "Failed to remove network %s: %s\n", n.ID, command.DaemonMessage(err))
			failed = true
		}
	}
	if failed {
		return fmt.Errorf("failed to remove some resources from stack: %s", ns)
	}
	if !detach {
		return waitRemoved(ctx, api, ns)
	}
	return nil
}

// removeServices removes services by name order, saying so; it reports
// whether any removal failed.
func removeServices(ctx context.Context, cli *command.Cli, api client.APIClient, services []swarmtypes.Service) bool {
	sort.Slice(services, func(i, j int) bool { return services[i].Spec.Name < services[j].Spec.Name })
	failed := false
	for _, s := range services {
		fmt.Fprintf(cli.Out, "Removing service %s\n", s.Spec.Name)
		if _, err := api.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil {
			fmt.Fprintf(cli.Err, "Failed to remove service %s: %s\n", s.ID, command.DaemonMessage(err))
			failed = true
		}
	}
	return failed
}

// waitRemoved waits until the stack's tasks are gone or shut down.
func waitRemoved(ctx context.Context, api client.APIClient, ns string) error {
	for {
		res, err := api.TaskList(ctx, client.TaskListOptions{Filters: namespaceFilter(ns)})
		if err != nil {
			return err
		}
		left := 0
		for _, t := range res.Items {
			switch t.Status.State {
			case swarmtypes.TaskStateShutdown, swarmtypes.TaskStateComplete, swarmtypes.TaskStateFailed,
				swarmtypes.TaskStateRejected, swarmtypes.TaskStateOrphaned, swarmtypes.TaskStateRemove:
			default:
				left++
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
