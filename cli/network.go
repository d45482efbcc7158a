package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// networkCmd is `berth network`: create, ls, inspect, rm, prune, connect
// and disconnect, as docker's.
func (a *app) networkCmd() *cobra.Command {
	netw := &cobra.Command{Use: "network", Short: "Manage networks"}
	netw.AddCommand(a.networkCreateCmd(), a.networkLsCmd(), a.networkInspectCmd(), a.networkRmCmd(),
		a.networkPruneCmd(), a.networkConnectCmd(), a.networkDisconnectCmd())
	return netw
}

func (a *app) networkCreateCmd() *cobra.Command {
	var driver, subnet, gateway, ipRange, scope string
	var internal, attachable, ipv6 bool
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := client.NetworkCreateOptions{
				Driver: driver, Scope: scope, Internal: internal, Attachable: attachable,
				Labels: kvMap(labels), Options: kvMap(opts),
			}
			if cmd.Flags().Changed("ipv6") {
				o.EnableIPv6 = &ipv6
			}
			if subnet != "" || gateway != "" || ipRange != "" {
				var c network.IPAMConfig
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
				o.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{c}}
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.NetworkCreate(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, res.ID)
			return nil
		},
	}
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

func (a *app) networkRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range args {
				if _, err := api.NetworkRemove(cmd.Context(), n, client.NetworkRemoveOptions{}); err != nil {
					if force && strings.Contains(err.Error(), "not found") {
						continue
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.out, n)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func (a *app) networkPruneCmd() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			if !force && !a.confirm("WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.NetworkPrune(cmd.Context(), client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.NetworksDeleted) > 0 {
				fmt.Fprintln(a.out, "Deleted Networks:")
				for _, n := range res.Report.NetworksDeleted {
					fmt.Fprintln(a.out, n)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func (a *app) networkConnectCmd() *cobra.Command {
	var aliases, links []string
	var ip string
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			es := &network.EndpointSettings{Aliases: aliases, Links: links}
			if ip != "" {
				addr, err := netip.ParseAddr(ip)
				if err != nil {
					return fmt.Errorf("invalid IPv4 address: %s", ip)
				}
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: addr}
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			_, err = api.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: es})
			return err
		},
	}
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	cmd.Flags().StringArrayVar(&links, "link", nil, "Add link to another container")
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	return cmd
}

func (a *app) networkDisconnectCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			_, err = api.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

type networkContext struct {
	n     network.Summary
	trunc bool
}

func (c networkContext) ID() string {
	if c.trunc {
		return shortID(c.n.ID)
	}
	return c.n.ID
}
func (c networkContext) Name() string   { return c.n.Name }
func (c networkContext) Driver() string { return c.n.Driver }
func (c networkContext) Scope() string  { return c.n.Scope }
func (c networkContext) IPv6() string   { return fmt.Sprint(c.n.EnableIPv6) }
func (c networkContext) Internal() string {
	return fmt.Sprint(c.n.Internal)
}
func (c networkContext) MarshalJSON() ([]byte, error) {
	return contextJSON(c, []string{"Driver", "ID", "IPv6", "Internal", "Name", "Scope"})
}

func (a *app) networkLsCmd() *cobra.Command {
	var quiet, noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: f})
			if err != nil {
				return err
			}
			sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Name < res.Items[j].Name })
			var rows []any
			for _, n := range res.Items {
				rows = append(rows, networkContext{n: n, trunc: !noTrunc})
			}
			if quiet && format == "" {
				format = "{{.ID}}"
			}
			return listFormat(a.out, format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
				headerContext{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL"}, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"driver=bridge\")")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (a *app) networkInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			var raws []json.RawMessage
			var errs []error
			for _, n := range args {
				res, err := api.NetworkInspect(cmd.Context(), n, client.NetworkInspectOptions{})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				raws = append(raws, res.Raw)
			}
			if err := inspectFormat(a.out, format, raws); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}
