// Package stack holds `berth stack`: deploy (compose files through the
// reference loader, converted by the top-level stack package), ls, ps,
// services and rm, with the docker CLI's flags, output lines and errors.
// Everything goes through the Engine API; a stack is the objects that
// carry its com.docker.stack.namespace label.
package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/stack"
)

// NewStackCommand is `berth stack`.
func NewStackCommand(cli *command.Cli) *cobra.Command {
	return command.Group("stack", "Manage Swarm stacks",
		newDeployCommand(cli), newListCommand(cli), newPsCommand(cli), newRemoveCommand(cli), newServicesCommand(cli))
}

// errNotManager is docker's refusal to deploy anywhere but on a manager.
var errNotManager = errors.New(`this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again`)

// checkManager refuses a daemon that is not a swarm manager.
func checkManager(ctx context.Context, api client.APIClient) error {
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	if !info.Info.Swarm.ControlAvailable {
		return errNotManager
	}
	return nil
}

// namespaceFilter selects the objects of the stack ns.
func namespaceFilter(ns string) client.Filters {
	return client.Filters{}.Add("label", stack.LabelNamespace+"="+ns)
}

// nothingFound is what docker says of a stack with no objects.
func nothingFound(ns string) string { return fmt.Sprintf("Nothing found in stack: %s", ns) }
