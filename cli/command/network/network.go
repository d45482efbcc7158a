// Package network holds `berth network`: create, ls, inspect, rm, prune,
// connect and disconnect.
package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	networktypes "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// NewNetworkCommand is `berth network`: create, ls, inspect, rm, prune,
// connect and disconnect, as docker's.
func NewNetworkCommand(cli *command.Cli) *cobra.Command {
	return command.Group("network", "Manage networks", newCreateCommand(cli), newListCommand(cli), newInspectCommand(cli),
		newRemoveCommand(cli), newPruneCommand(cli), newConnectCommand(cli), newDisconnectCommand(cli))
}

func newCreateCommand(cli *command.Cli) *cobra.Command {
	var driver, subnet, gateway, ipRange, scope string
	var internal, attachable, ipv6 bool
	var labels, opts []string
	cmd := command.NewCommand("create [OPTIONS] NETWORK", "Create a network", command.ExactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			o := client.NetworkCreateOptions{
				Driver: driver, Scope: scope, Internal: internal, Attachable: attachable,
				Labels: kvMap(labels), Options: kvMap(opts),
			}
			if cmd.Flags().Changed("ipv6") {
				o.EnableIPv6 = &ipv6
			}
			if subnet != "" || gateway != "" || ipRange != "" {
				var c networktypes.IPAMConfig
				var err error
				if subnet != "" {
					if c.Subnet, err = netip.ParsePrefix(subnet); err != nil {
						return fmt.Errorf("invalid subnet %s: invalid CIDR address: %s", subnet, subnet)
					}
				}
				if ipRange != "" {
					if c.IPRange, err = netip.ParsePrefix(ipRange); err != nil {
						return fmt.Errorf("invalid ip-range %s: invalid CIDR address: %s", ipRange, ipRange)
					}
				}
				if gateway != "" {
					if c.Gateway, err = netip.ParseAddr(gateway); err != nil {
						return fmt.Errorf("invalid gateway %s: ParseAddr(%q): unable to parse IP", gateway, gateway)
					}
				}
				if subnet == "" {
					return errors.New("every ip-range or gateway must have a corresponding subnet")
				}
				o.IPAM = &networktypes.IPAM{Driver: "default", Config: []networktypes.IPAMConfig{c}}
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := api.NetworkCreate(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cli.Out, res.ID)
			return nil
		})
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringVar(&subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	f.StringVar(&gateway, "gateway", "", "IPv4 Gateway for the master subnet")
	f.StringVar(&ipRange, "ip-range", "", "Allocate container ip from a sub-range")
	f.StringVar(&scope, "scope", "", "Control the network's scope")
	f.BoolVar(&internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&attachable, "attachable", false, "Enable manual container attachment")
	f.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// kvMap turns key=value flags into a map (a bare key maps to "").
func kvMap(kvs []string) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func newRemoveCommand(cli *command.Cli) *cobra.Command {
	var force bool
	cmd := command.Renamed(command.NewCommand("rm NETWORK [NETWORK...]", "Remove one or more networks", command.MinArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			var errs []error
			for _, n := range args {
				if _, err := api.NetworkRemove(ctx, n, client.NetworkRemoveOptions{}); err != nil {
					if force && strings.Contains(err.Error(), "not found") {
						continue
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cli.Out, n)
			}
			return errors.Join(errs...)
		})), "", "remove")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	return command.Prune{
		Short:   "Remove all unused networks",
		Removes: "all custom networks not used by at least one container",
		NoTotal: true,
		Run:     RunPrune,
	}.Command(cli)
}

// RunPrune removes the custom networks no container uses that filters
// select. Networks free no space: the report is all there is.
func RunPrune(ctx context.Context, api client.APIClient, filters client.Filters, _ bool) (command.Pruned, error) {
	res, err := api.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: filters})
	return command.Pruned{Title: "Networks", Deleted: res.Report.NetworksDeleted}, err
}

func newConnectCommand(cli *command.Cli) *cobra.Command {
	var aliases, links []string
	var ip string
	cmd := command.NewCommand("connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network", command.ExactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			es := &networktypes.EndpointSettings{Aliases: aliases, Links: links}
			if ip != "" {
				addr, err := netip.ParseAddr(ip)
				if err != nil {
					return fmt.Errorf("invalid IPv4 address: %s", ip)
				}
				es.IPAMConfig = &networktypes.EndpointIPAMConfig{IPv4Address: addr}
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			_, err = api.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: es})
			return err
		})
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	cmd.Flags().StringArrayVar(&links, "link", nil, "Add link to another container")
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	return cmd
}

func newDisconnectCommand(cli *command.Cli) *cobra.Command {
	var force bool
	cmd := command.NewCommand("disconnect [OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", command.ExactArgs(2),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			_, err := api.NetworkDisconnect(ctx, args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

type networkContext struct {
	n     networktypes.Summary
	trunc bool
}

func (c networkContext) ID() string {
	return formatter.ID(c.n.ID, c.trunc)
}

func (c networkContext) Name() string { return c.n.Name }

func (c networkContext) Driver() string { return c.n.Driver }

func (c networkContext) Scope() string { return c.n.Scope }

func (c networkContext) IPv6() string { return fmt.Sprint(c.n.EnableIPv6) }

func (c networkContext) Internal() string {
	return fmt.Sprint(c.n.Internal)
}

func (c networkContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"Driver", "ID", "IPv6", "Internal", "Name", "Scope"})
}

func newListCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Short:         "List networks",
		DefaultFormat: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
		Headers:       formatter.Headers{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL"},
		QuietHelp:     "Only display network IDs",
		NoTruncHelp:   "Do not truncate the output",
		FilterHelp:    "Provide filter values (e.g. \"driver=bridge\")",
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, _ []string) ([]any, error) {
			res, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: o.Filters})
			if err != nil {
				return nil, err
			}
			sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Name < res.Items[j].Name })
			return formatter.Rows(res.Items, func(n networktypes.Summary) any { return networkContext{n: n, trunc: !o.NoTrunc} }), nil
		},
	}.Command(cli)
}

// InspectRaw is a network's inspect document as the daemon sent it.
func InspectRaw(ctx context.Context, api client.APIClient, name string) (json.RawMessage, error) {
	res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	return res.Raw, err
}

func newInspectCommand(cli *command.Cli) *cobra.Command {
	return command.Inspect{Noun: "network", Get: InspectRaw}.Command(cli)
}
