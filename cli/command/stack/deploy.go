package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/service"
	"github.com/berth-project/berth/cli/config"
	"github.com/berth-project/berth/stack"
)

// The --resolve-image choices.
const (
	resolveAlways  = "always"
	resolveChanged = "changed"
	resolveNever   = "never"
)

type deployOptions struct {
	files            []string
	prune, auth      bool
	detach, quiet    bool
	resolveImage     string
	detachChanged    bool
	namespace, progn string
}

func newDeployCommand(cli *command.Cli) *cobra.Command {
	var o deployOptions
	cmd := command.NewCommand("deploy [OPTIONS] STACK", "Deploy a new stack or update an existing stack", command.ExactArgs(1), nil)
	cmd.Aliases = []string{"up"}
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		o.namespace, o.progn = args[0], cmd.Root().Name()
		o.detachChanged = cmd.Flags().Changed("detach")
		return deploy(ctx, cli, api, o)
	})
	fs := cmd.Flags()
	fs.StringSliceVarP(&o.files, "compose-file", "c", nil, `Path to a Compose file, or "-" to read from stdin`)
	fs.BoolVarP(&o.detach, "detach", "d", true, "Exit immediately instead of waiting for the stack services to converge")
	fs.BoolVar(&o.prune, "prune", false, "Prune services that are no longer referenced")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output")
	fs.StringVar(&o.resolveImage, "resolve-image", resolveAlways, `Query the registry to resolve image digest and supported platforms ("always", "changed", "never")`)
	fs.BoolVar(&o.auth, "with-registry-auth", false, "Send registry authentication details to Swarm agents")
	return cmd
}

// logMu serialises the loads that borrow logrus' standard logger.
var logMu sync.Mutex

// load reads the compose files. compose-go warns through logrus' standard
// logger (an unset variable…); those warnings go to stderr, less the
// notice that `version` is obsolete, which docker does not print.
func load(ctx context.Context, cli *command.Cli, o deployOptions) (*stack.Stack, error) {
	logMu.Lock()
	defer logMu.Unlock()
	std := logrus.StandardLogger()
	prev := std.Out
	std.SetOutput(&dropVersionNotice{w: cli.Err})
	defer std.SetOutput(prev)
	wd, _ := os.Getwd()
	return stack.Load(ctx, o.namespace, stack.LoadOptions{Files: o.files, Env: os.Environ(), WorkingDir: wd})
}

// dropVersionNotice writes log lines through, but compose-go's "the
// attribute `version` is obsolete".
type dropVersionNotice struct{ w io.Writer }

func (d *dropVersionNotice) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 || bytes.Contains(line, []byte("the attribute `version` is obsolete")) {
			continue
		}
		if _, err := d.w.Write(line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// deploy is docker's order: the file checked and converted first, then
// the daemon checked to be a manager; services no longer in the file
// pruned; external networks, secrets and configs looked up; only then
// anything created (secrets, configs, networks, then services), each
// step skipping or updating what exists so that a deploy that failed
// half-way is finished by the next.
func deploy(ctx context.Context, cli *command.Cli, api client.APIClient, o deployOptions) error {
	switch o.resolveImage {
	case resolveAlways, resolveChanged, resolveNever:
	default:
		return fmt.Errorf("Invalid option %s for flag --resolve-image", o.resolveImage)
	}
	if len(o.files) == 0 {
		return fmt.Errorf("Specify a Compose file (with --compose-file)")
	}
	if err := stack.ValidateName(o.namespace); err != nil {
		return err
	}
	st, err := load(ctx, cli, o)
	if err != nil {
		return err
	}
	if len(st.Unsupported) > 0 {
		fmt.Fprintf(cli.Err, "Ignoring unsupported options: %s\n\n", strings.Join(st.Unsupported, ", "))
	}
	if len(st.Deprecated) > 0 {
		var msgs []string
		for k, v := range st.Deprecated {
			msgs = append(msgs, k+": "+v)
		}
		sort.Strings(msgs)
		fmt.Fprintf(cli.Err, "Ignoring deprecated options:\n\n%s\n\n", strings.Join(msgs, "\n\n"))
	}
	if o.detach && !o.detachChanged {
		fmt.Fprintln(cli.Err, "Since --detach=false was not specified, tasks will be created in the background.\n"+
			"In a future release, --detach=false will become the default.")
	}
	if err := checkManager(ctx, api); err != nil {
		return err
	}
	if o.prune {
		keep := map[string]bool{}
		for _, s := range st.Services {
			keep[s.Name] = true
		}
		if err := pruneServices(ctx, cli, api, o.namespace, keep); err != nil {
			return err
		}
	}
	if err := checkExternal(ctx, api, st); err != nil {
		return err
	}
	if err := createSecrets(ctx, cli, api, st.Secrets); err != nil {
		return err
	}
	if err := createConfigs(ctx, cli, api, st.Configs); err != nil {
		return err
	}
	if err := createNetworks(ctx, cli, api, o.namespace, st.Networks); err != nil {
		return err
	}
	ids, err := deployServices(ctx, cli, api, o, st.Services)
	if err != nil {
		return err
	}
	if o.detach {
		return nil
	}
	for _, id := range ids {
		if err := service.Wait(ctx, api, cli.Out, o.progn, id, o.quiet); err != nil {
			return err
		}
	}
	return nil
}

// pruneServices removes the stack's services that keep does not name.
func pruneServices(ctx context.Context, cli *command.Cli, api client.APIClient, ns string, keep map[string]bool) error {
	res, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(ns)})
	if err != nil {
		return err
	}
	var gone []swarmtypes.Service
	for _, s := range res.Items {
		if !keep[s.Spec.Name] {
			gone = append(gone, s)
		}
	}
	if removeServices(ctx, cli, api, gone) {
		return fmt.Errorf("failed to prune some services from stack: %s", ns)
	}
	return nil
}

// checkExternal makes sure the external networks (swarm-scoped),
// secrets and configs the file uses exist, before anything is created.
func checkExternal(ctx context.Context, api client.APIClient, st *stack.Stack) error {
	for _, name := range st.ExternalNetworks {
		switch name {
		case "host", "bridge", "none":
			continue
		}
		res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return fmt.Errorf("network %q is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed", name)
		case err != nil:
			return err
		case res.Network.Scope != "swarm":
			return fmt.Errorf("network %q is declared as external, but it is not in the right scope: %q instead of \"swarm\"", name, res.Network.Scope)
		}
	}
	for _, name := range st.ExternalSecrets {
		if _, err := api.SecretInspect(ctx, name, client.SecretInspectOptions{}); err != nil {
			if cerrdefs.IsNotFound(err) {
				return fmt.Errorf("secret not found: %s", name)
			}
			return err
		}
	}
	for _, name := range st.ExternalConfigs {
		if _, err := api.ConfigInspect(ctx, name, client.ConfigInspectOptions{}); err != nil {
			if cerrdefs.IsNotFound(err) {
				return fmt.Errorf("config not found: %s", name)
			}
			return err
		}
	}
	return nil
}

// createSecrets creates the stack's secrets, updating those that exist.
func createSecrets(ctx context.Context, cli *command.Cli, api client.APIClient, specs []swarmtypes.SecretSpec) error {
	for _, spec := range specs {
		res, err := api.SecretInspect(ctx, spec.Name, client.SecretInspectOptions{})
		switch {
		case err == nil:
			if _, err := api.SecretUpdate(ctx, res.Secret.ID, client.SecretUpdateOptions{Version: res.Secret.Version, Spec: spec}); err != nil {
				return fmt.Errorf("failed to update secret %s: %w", spec.Name, err)
			}
		case cerrdefs.IsNotFound(err):
			fmt.Fprintf(cli.Out, "Creating secret %s\n", spec.Name)
			if _, err := api.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec}); err != nil {
				return fmt.Errorf("failed to create secret %s: %w", spec.Name, err)
			}
		default:
			return err
		}
	}
	return nil
}

// createConfigs creates the stack's configs, updating those that exist.
func createConfigs(ctx context.Context, cli *command.Cli, api client.APIClient, specs []swarmtypes.ConfigSpec) error {
	for _, spec := range specs {
		res, err := api.ConfigInspect(ctx, spec.Name, client.ConfigInspectOptions{})
		switch {
		case err == nil:
			if _, err := api.ConfigUpdate(ctx, res.Config.ID, client.ConfigUpdateOptions{Version: res.Config.Version, Spec: spec}); err != nil {
				return fmt.Errorf("failed to update config %s: %w", spec.Name, err)
			}
		case cerrdefs.IsNotFound(err):
			fmt.Fprintf(cli.Out, "Creating config %s\n", spec.Name)
			if _, err := api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec}); err != nil {
				return fmt.Errorf("failed to create config %s: %w", spec.Name, err)
			}
		default:
			return err
		}
	}
	return nil
}

// createNetworks creates the stack's networks that do not exist yet.
func createNetworks(ctx context.Context, cli *command.Cli, api client.APIClient, ns string, nets []stack.Network) error {
	res, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: namespaceFilter(ns)})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range res.Items {
		have[n.Name] = true
	}
	for _, n := range nets {
		if have[n.Name] {
			continue
		}
		fmt.Fprintf(cli.Out, "Creating network %s\n", n.Name)
		if _, err := api.NetworkCreate(ctx, n.Name, n.Options); err != nil {
			return fmt.Errorf("failed to create network %s: %w", n.Name, err)
		}
	}
	return nil
}

// deployServices creates the services that do not exist and updates
// those that do (at their current version), and returns their IDs.
func deployServices(ctx context.Context, cli *command.Cli, api client.APIClient, o deployOptions, specs []swarmtypes.ServiceSpec) ([]string, error) {
	res, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(o.namespace)})
	if err != nil {
		return nil, err
	}
	existing := map[string]swarmtypes.Service{}
	for _, s := range res.Items {
		existing[s.Spec.Name] = s
	}
	var ids []string
	for _, spec := range specs {
		if err := resolveRefs(ctx, api, &spec); err != nil {
			return nil, err
		}
		image := spec.TaskTemplate.ContainerSpec.Image
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[stack.LabelImage] = image
		auth := ""
		if o.auth {
			auth = config.EncodedAuth(config.RegistryOf(image))
		}
		if svc, ok := existing[spec.Name]; ok {
			fmt.Fprintf(cli.Out, "Updating service %s (id: %s)\n", spec.Name, svc.ID)
			opts := client.ServiceUpdateOptions{Version: svc.Version, EncodedRegistryAuth: auth}
			same := image == svc.Spec.Labels[stack.LabelImage]
			switch {
			case o.resolveImage == resolveAlways, o.resolveImage == resolveChanged && !same:
				opts.QueryRegistry = true
			case same:
				// Keep the digest the daemon pinned on the last deploy:
				// the unchanged image must not roll the tasks.
				spec.TaskTemplate.ContainerSpec.Image = svc.Spec.TaskTemplate.ContainerSpec.Image
			}
			// Stack deploy has no --force: keep the service's own count.
			spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
			opts.Spec = spec
			up, err := api.ServiceUpdate(ctx, svc.ID, opts)
			if err != nil {
				return nil, fmt.Errorf("failed to update service %s: %w", spec.Name, err)
			}
			for _, w := range up.Warnings {
				fmt.Fprintln(cli.Err, w)
			}
			ids = append(ids, svc.ID)
			continue
		}
		fmt.Fprintf(cli.Out, "Creating service %s\n", spec.Name)
		opts := client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: auth, QueryRegistry: o.resolveImage != resolveNever}
		// docker prints the warnings of updates only (a local image's
		// "could not be accessed on a registry" among them).
		cr, err := api.ServiceCreate(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("failed to create service %s: %w", spec.Name, err)
		}
		ids = append(ids, cr.ID)
	}
	return ids, nil
}

// resolveRefs fills in the IDs of the secrets and configs a service
// names.
func resolveRefs(ctx context.Context, api client.APIClient, spec *swarmtypes.ServiceSpec) error {
	cs := spec.TaskTemplate.ContainerSpec
	for _, r := range cs.Secrets {
		res, err := api.SecretInspect(ctx, r.SecretName, client.SecretInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return fmt.Errorf("secret not found: %s", r.SecretName)
			}
			return err
		}
		r.SecretID = res.Secret.ID
	}
	for _, r := range cs.Configs {
		res, err := api.ConfigInspect(ctx, r.ConfigName, client.ConfigInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return fmt.Errorf("config not found: %s", r.ConfigName)
			}
			return err
		}
		r.ConfigID = res.Config.ID
	}
	return nil
}
