// Package node holds `berth node`: ls, inspect, update, promote, demote,
// rm and ps, as docker's. Reference resolves the "self" other commands
// (service ps's node filter) accept too.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/cli/command/task"
)

// NewNodeCommand is `berth node`.
func NewNodeCommand(cli *command.Cli) *cobra.Command {
	return command.Group("node", "Manage Swarm nodes",
		newDemoteCommand(cli), newInspectCommand(cli), newListCommand(cli), newPromoteCommand(cli),
		newRemoveCommand(cli), newPsCommand(cli), newUpdateCommand(cli))
}

// Reference turns "self" into this node's ID (from /info); other
// references are returned as they are.
func Reference(ctx context.Context, api client.APIClient, ref string) (string, error) {
	if ref != "self" {
		return ref, nil
	}
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	if info.Info.Swarm.NodeID == "" {
		// Not in a swarm: let the node API say so in its words.
		if _, err := api.NodeList(ctx, client.NodeListOptions{}); err != nil {
			return "", err
		}
		return "", errors.New("node ID not found in /info")
	}
	return info.Info.Swarm.NodeID, nil
}

// DefaultListFormat is docker's node ls table: the ID marked with "*"
// for this node.
const DefaultListFormat = "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}"

var listHeaders = formatter.Headers{
	"ID": "ID", "Self": "", "Hostname": "HOSTNAME", "Status": "STATUS", "Availability": "AVAILABILITY",
	"ManagerStatus": "MANAGER STATUS", "EngineVersion": "ENGINE VERSION", "TLSStatus": "TLS STATUS",
}

// listContext is one node ls row.
type listContext struct {
	n    swarmtypes.Node
	info system.Info
}

// ID is the full node ID.
func (c listContext) ID() string { return c.n.ID }

// Self says whether this is the node the daemon runs on.
func (c listContext) Self() bool { return c.n.ID != "" && c.n.ID == c.info.Swarm.NodeID }

// Hostname is the node's host name.
func (c listContext) Hostname() string { return c.n.Description.Hostname }

// Status is "Ready", "Down"…
func (c listContext) Status() string { return task.PrettyPrint(string(c.n.Status.State)) }

// Availability is "Active", "Pause" or "Drain".
func (c listContext) Availability() string { return task.PrettyPrint(string(c.n.Spec.Availability)) }

// ManagerStatus is "Leader", "Reachable", "Unreachable" or "" (a worker).
func (c listContext) ManagerStatus() string {
	if c.n.ManagerStatus == nil {
		return ""
	}
	if c.n.ManagerStatus.Leader {
		return "Leader"
	}
	return task.PrettyPrint(string(c.n.ManagerStatus.Reachability))
}

// TLSStatus says whether the node's certificate is from the current root
// CA: "Ready", "Needs Rotation" or "Unknown".
func (c listContext) TLSStatus() string {
	cl := c.info.Swarm.Cluster
	if cl == nil || tlsEmpty(cl.TLSInfo) || tlsEmpty(c.n.Description.TLSInfo) {
		return "Unknown"
	}
	if tlsEqual(c.n.Description.TLSInfo, cl.TLSInfo) {
		return "Ready"
	}
	return "Needs Rotation"
}

func tlsEmpty(t swarmtypes.TLSInfo) bool {
	return t.TrustRoot == "" && len(t.CertIssuerSubject) == 0 && len(t.CertIssuerPublicKey) == 0
}

func tlsEqual(a, b swarmtypes.TLSInfo) bool {
	return a.TrustRoot == b.TrustRoot && string(a.CertIssuerSubject) == string(b.CertIssuerSubject) &&
		string(a.CertIssuerPublicKey) == string(b.CertIssuerPublicKey)
}

// EngineVersion is the node's engine version.
func (c listContext) EngineVersion() string { return c.n.Description.Engine.EngineVersion }

// MarshalJSON is {{json .}}.
func (c listContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"Availability", "EngineVersion", "Hostname", "ID", "ManagerStatus", "Self", "Status", "TLSStatus"})
}

// listRows orders nodes by hostname (natural order) as rows.
func listRows(nodes []swarmtypes.Node, info system.Info) []any {
	task.SortNatural(nodes, func(n swarmtypes.Node) string { return n.Description.Hostname })
	return formatter.Rows(nodes, func(n swarmtypes.Node) any { return listContext{n: n, info: info} })
}

func newListCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Short:         "List nodes in the swarm",
		DefaultFormat: DefaultListFormat,
		Headers:       listHeaders,
		QuietHelp:     "Only display IDs",
		FilterHelp:    "Filter output based on conditions provided",
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, _ []string) ([]any, error) {
			res, err := api.NodeList(ctx, client.NodeListOptions{Filters: o.Filters})
			if err != nil {
				return nil, err
			}
			var info system.Info
			if len(res.Items) > 0 && !o.Quiet {
				ir, err := api.Info(ctx, client.InfoOptions{})
				if err != nil {
					return nil, err
				}
				info = ir.Info
			}
			return listRows(res.Items, info), nil
		},
	}.Command(cli)
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	return command.Inspect{
		Noun: "node",
		Use:  "inspect [OPTIONS] self|NODE [NODE...]",
		Get: func(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
			res, err := inspectNode(ctx, api, name)
			return res.Raw, err
		},
		Pretty: &command.Pretty{
			Text: func(ctx context.Context, api client.APIClient, name string) (string, error) {
				res, err := inspectNode(ctx, api, name)
				if err != nil {
					return "", err
				}
				return Pretty(res.Node), nil
			},
			Extra: "cannot supply extra formatting options to the pretty template",
		},
	}.Command(cli)
}

// inspectNode is GET /nodes/REF, "self" being this node.
func inspectNode(ctx context.Context, api client.APIClient, name string) (client.NodeInspectResult, error) {
	ref, err := Reference(ctx, api, name)
	if err != nil {
		return client.NodeInspectResult{}, err
	}
	return api.NodeInspect(ctx, ref, client.NodeInspectOptions{})
}

// errNoRoleChange skips a node promote or demote need not touch.
var errNoRoleChange = errors.New("role was already set to the requested value")

// updateNodes applies change to each node and saves it, stopping at the
// first failure as docker does; ok runs after each saved node.
func updateNodes(ctx context.Context, api client.APIClient, refs []string, change func(*swarmtypes.Node) error, ok func(ref string)) error {
	for _, ref := range refs {
		res, err := api.NodeInspect(ctx, ref, client.NodeInspectOptions{})
		if err != nil {
			return err
		}
		n := res.Node
		if err := change(&n); err != nil {
			if errors.Is(err, errNoRoleChange) {
				continue
			}
			return err
		}
		if _, err := api.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: n.Spec}); err != nil {
			return err
		}
		ok(ref)
	}
	return nil
}

// roleChange is promote or demote: the role it gives and what it says.
type roleChange struct {
	use, short string
	role       swarmtypes.NodeRole
	already    string // "Node %s is already a manager.\n"
	done       string // "Node %s promoted to a manager in the swarm.\n"
}

func newPromoteCommand(cli *command.Cli) *cobra.Command {
	return newRoleCommand(cli, roleChange{
		use: "promote NODE [NODE...]", short: "Promote one or more nodes to manager in the swarm", role: swarmtypes.NodeRoleManager,
		already: "Node %s is already a manager.\n", done: "Node %s promoted to a manager in the swarm.\n",
	})
}

func newDemoteCommand(cli *command.Cli) *cobra.Command {
	return newRoleCommand(cli, roleChange{
		use: "demote NODE [NODE...]", short: "Demote one or more nodes from manager in the swarm", role: swarmtypes.NodeRoleWorker,
		already: "Node %s is already a worker.\n", done: "Manager %s demoted in the swarm.\n",
	})
}

// newRoleCommand is promote or demote, as rc says.
func newRoleCommand(cli *command.Cli, rc roleChange) *cobra.Command {
	return command.NewCommand(rc.use, rc.short, command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			return updateNodes(ctx, api, args, func(n *swarmtypes.Node) error {
				if n.Spec.Role == rc.role {
					fmt.Fprintf(cli.Out, rc.already, n.ID)
					return errNoRoleChange
				}
				n.Spec.Role = rc.role
				return nil
			}, func(ref string) { fmt.Fprintf(cli.Out, rc.done, ref) })
		}))
}

// updateFlags are node update's flags.
type updateFlags struct {
	role, availability string
	labelAdd, labelRm  []string
}

// apply changes spec as the flags fs saw say.
func (o *updateFlags) apply(fs *pflag.FlagSet, spec *swarmtypes.NodeSpec) error {
	if fs.Changed("role") {
		spec.Role = swarmtypes.NodeRole(o.role)
	}
	if fs.Changed("availability") {
		spec.Availability = swarmtypes.NodeAvailability(o.availability)
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	for _, kv := range o.labelAdd {
		k, v, _ := strings.Cut(kv, "=")
		spec.Labels[k] = v
	}
	for _, k := range o.labelRm {
		if _, ok := spec.Labels[k]; !ok {
			return fmt.Errorf("key %s doesn't exist in node's labels", k)
		}
		delete(spec.Labels, k)
	}
	return nil
}

func newUpdateCommand(cli *command.Cli) *cobra.Command {
	var o updateFlags
	cmd := command.NewCommand("update [OPTIONS] NODE", "Update a node", command.ExactArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		return updateNodes(ctx, api, args, func(n *swarmtypes.Node) error { return o.apply(cmd.Flags(), &n.Spec) },
			func(string) { fmt.Fprintln(cli.Out, args[0]) })
	})
	fs := cmd.Flags()
	fs.StringVar(&o.role, "role", "", `Role of the node ("worker", "manager")`)
	fs.StringVar(&o.availability, "availability", "", `Availability of the node ("active", "pause", "drain")`)
	fs.StringArrayVar(&o.labelAdd, "label-add", nil, `Add or update a node label ("key=value")`)
	fs.StringArrayVar(&o.labelRm, "label-rm", nil, "Remove a node label if exists")
	return cmd
}

func newRemoveCommand(cli *command.Cli) *cobra.Command {
	return command.Remove{
		Noun:  "node",
		Short: "Remove one or more nodes from the swarm",
		Force: "Force remove a node from the swarm",
		Remove: func(ctx context.Context, api client.APIClient, id string, force bool) error {
			_, err := api.NodeRemove(ctx, id, client.NodeRemoveOptions{Force: force})
			return err
		},
	}.Command(cli)
}

func newPsCommand(cli *command.Cli) *cobra.Command {
	var (
		o         task.PrintOptions
		noResolve bool
		filters   []string
	)
	cmd := command.NewCommand("ps [OPTIONS] [NODE...]", "List tasks running on one or more nodes, defaults to current node", nil,
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			f, err := command.FilterArgs(filters)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"self"}
			}
			var errs []string
			var tasks []swarmtypes.Task
			for _, name := range args {
				ref, err := Reference(ctx, api, name)
				if err != nil {
					errs = append(errs, command.DaemonMessage(err))
					continue
				}
				n, err := api.NodeInspect(ctx, ref, client.NodeInspectOptions{})
				if err != nil {
					errs = append(errs, command.DaemonMessage(err))
					continue
				}
				nf := f.Clone().Add("node", n.Node.ID)
				res, err := api.TaskList(ctx, client.TaskListOptions{Filters: nf})
				if err != nil {
					errs = append(errs, command.DaemonMessage(err))
					continue
				}
				tasks = append(tasks, res.Items...)
			}
			if len(errs) == 0 || len(tasks) != 0 {
				o.Now = time.Now()
				if err := task.Print(ctx, cli.Out, task.NewResolver(api, noResolve), tasks, o); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		}))
	fs := cmd.Flags()
	fs.BoolVar(&o.NoTrunc, "no-trunc", false, "Do not truncate output")
	fs.BoolVar(&noResolve, "no-resolve", false, "Do not map IDs to Names")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&o.Format, "format", "", "Pretty-print tasks using a Go template")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display task IDs")
	return cmd
}
