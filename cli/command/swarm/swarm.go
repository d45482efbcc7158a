// Package swarm holds `berth swarm`: ca, init, join, join-token, leave,
// update, unlock and unlock-key, with the docker CLI's flags and output
// (the commands it prints to run next name berth, not docker).
package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
)

// NewSwarmCommand is `berth swarm`.
func NewSwarmCommand(cli *command.Cli) *cobra.Command {
	return command.Group("swarm", "Manage Swarm",
		newCACommand(cli), newInitCommand(cli), newJoinCommand(cli), newJoinTokenCommand(cli), newLeaveCommand(cli),
		newUpdateCommand(cli), newUnlockCommand(cli), newUnlockKeyCommand(cli))
}

// progName is the name the printed follow-up commands use ("berth").
func progName(cmd *cobra.Command) string { return cmd.Root().Name() }

func newInitCommand(cli *command.Cli) *cobra.Command {
	var (
		spec          specOptions
		listen        = nodeAddr{addr: defaultListenAddr}
		advertise     string
		dataPathAddr  string
		dataPathPort  uint32
		forceNew      bool
		availability  string
		addrPools     []net.IPNet
		addrPoolMaskL uint32
	)
	cmd := command.NewCommand("init [OPTIONS]", "Initialize a swarm", command.NoArgs, nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
		fs := cmd.Flags()
		req := client.SwarmInitOptions{
			ListenAddr:       listen.String(),
			AdvertiseAddr:    advertise,
			DataPathAddr:     dataPathAddr,
			DataPathPort:     dataPathPort,
			ForceNewCluster:  forceNew,
			AutoLockManagers: spec.autolock,
			SubnetSize:       addrPoolMaskL,
		}
		spec.merge(&req.Spec, fs)
		for _, p := range addrPools {
			pfx, err := ipNetPrefix(p)
			if err != nil {
				return err
			}
			req.DefaultAddrPool = append(req.DefaultAddrPool, pfx)
		}
		if fs.Changed("availability") {
			a, err := parseAvailability(availability)
			if err != nil {
				return err
			}
			req.Availability = a
		}
		res, err := api.SwarmInit(ctx, req)
		if err != nil {
			if strings.Contains(err.Error(), "could not choose an IP address to advertise") || strings.Contains(err.Error(), "could not find the system's IP address") {
				return errors.New(err.Error() + " - specify one with --advertise-addr")
			}
			return err
		}
		fmt.Fprintf(cli.Out, "Swarm initialized: current node (%s) is now a manager.\n\n", res.NodeID)
		if err := printJoinCommand(ctx, cli.Out, api, progName(cmd), res.NodeID, true, false); err != nil {
			return err
		}
		fmt.Fprintf(cli.Out, "To add a manager to this swarm, run '%s swarm join-token manager' and follow the instructions.\n", progName(cmd))
		if req.AutoLockManagers {
			key, err := api.SwarmGetUnlockKey(ctx)
			if err != nil {
				return fmt.Errorf("could not fetch unlock key: %w", err)
			}
			printUnlockCommand(cli.Out, progName(cmd), key.Key)
		}
		return nil
	})
	fs := cmd.Flags()
	fs.Var(&listen, "listen-addr", `Listen address (format: "<ip|interface>[:port]")`)
	fs.StringVar(&advertise, "advertise-addr", "", `Advertised address (format: "<ip|interface>[:port]")`)
	fs.StringVar(&dataPathAddr, "data-path-addr", "", `Address or interface to use for data path traffic (format: "<ip|interface>")`)
	fs.Uint32Var(&dataPathPort, "data-path-port", 0, "Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.")
	fs.BoolVar(&forceNew, "force-new-cluster", false, "Force create a new cluster from current state")
	fs.BoolVar(&spec.autolock, "autolock", false, "Enable manager autolocking (requiring an unlock key to start a stopped manager)")
	fs.StringVar(&availability, "availability", "active", `Availability of the node ("active", "pause", "drain")`)
	fs.IPNetSliceVar(&addrPools, "default-addr-pool", []net.IPNet{}, "default address pool in CIDR format")
	fs.Uint32Var(&addrPoolMaskL, "default-addr-pool-mask-length", 24, "default address pool subnet mask length")
	addSpecFlags(fs, &spec)
	return cmd
}

// ipNetPrefix converts a --default-addr-pool value to the API's prefix.
func ipNetPrefix(n net.IPNet) (netip.Prefix, error) {
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("invalid address pool %s", n.String())
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones), nil
}

// printJoinCommand prints the `swarm join` command of a worker and/or a
// manager, as docker's init and join-token do.
func printJoinCommand(ctx context.Context, out io.Writer, api client.APIClient, prog, nodeID string, worker, manager bool) error {
	node, err := api.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
	if err != nil {
		return err
	}
	sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	if node.Node.ManagerStatus == nil {
		return nil
	}
	addr := node.Node.ManagerStatus.Addr
	if worker {
		fmt.Fprintf(out, "To add a worker to this swarm, run the following command:\n\n    %s swarm join --token %s %s\n\n", prog, sw.Swarm.JoinTokens.Worker, addr)
	}
	if manager {
		fmt.Fprintf(out, "To add a manager to this swarm, run the following command:\n\n    %s swarm join --token %s %s\n\n", prog, sw.Swarm.JoinTokens.Manager, addr)
	}
	return nil
}

// printUnlockCommand tells how to unlock a manager with key.
func printUnlockCommand(out io.Writer, prog, key string) {
	if key == "" {
		return
	}
	fmt.Fprintf(out, "To unlock a swarm manager after it restarts, run the `%s swarm unlock`\ncommand and provide the following key:\n\n    %s\n\n"+
		"Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n", prog, key)
}

func newJoinCommand(cli *command.Cli) *cobra.Command {
	var (
		listen                             = nodeAddr{addr: defaultListenAddr}
		advertise, dataPath, token, availa string
	)
	cmd := command.NewCommand("join [OPTIONS] HOST:PORT", "Join a swarm as a node and/or manager", command.ExactArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		req := client.SwarmJoinOptions{
			JoinToken:     token,
			ListenAddr:    listen.String(),
			AdvertiseAddr: advertise,
			DataPathAddr:  dataPath,
			RemoteAddrs:   []string{args[0]},
		}
		if cmd.Flags().Changed("availability") {
			a, err := parseAvailability(availa)
			if err != nil {
				return err
			}
			req.Availability = a
		}
		if _, err := api.SwarmJoin(ctx, req); err != nil {
			return err
		}
		info, err := api.Info(ctx, client.InfoOptions{})
		if err != nil {
			return err
		}
		if info.Info.Swarm.ControlAvailable {
			fmt.Fprintln(cli.Out, "This node joined a swarm as a manager.")
		} else {
			fmt.Fprintln(cli.Out, "This node joined a swarm as a worker.")
		}
		return nil
	})
	fs := cmd.Flags()
	fs.Var(&listen, "listen-addr", `Listen address (format: "<ip|interface>[:port]")`)
	fs.StringVar(&advertise, "advertise-addr", "", `Advertised address (format: "<ip|interface>[:port]")`)
	fs.StringVar(&dataPath, "data-path-addr", "", `Address or interface to use for data path traffic (format: "<ip|interface>")`)
	fs.StringVar(&token, "token", "", "Token for entry into the swarm")
	fs.StringVar(&availa, "availability", "active", `Availability of the node ("active", "pause", "drain")`)
	return cmd
}

func newJoinTokenCommand(cli *command.Cli) *cobra.Command {
	var rotate, quiet bool
	cmd := command.NewCommand("join-token [OPTIONS] (worker|manager)", "Manage join tokens", command.ExactArgs(1), nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
		role := args[0]
		worker, manager := role == "worker", role == "manager"
		if !worker && !manager {
			return errors.New("unknown role " + role)
		}
		if rotate {
			sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
			if err != nil {
				return err
			}
			if _, err := api.SwarmUpdate(ctx, client.SwarmUpdateOptions{
				Version: sw.Swarm.Version, Spec: sw.Swarm.Spec,
				RotateWorkerToken: worker, RotateManagerToken: manager,
			}); err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(cli.Out, "Successfully rotated %s join token.\n\n", role)
			}
		}
		sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		if quiet {
			if worker {
				fmt.Fprintln(cli.Out, sw.Swarm.JoinTokens.Worker)
			} else {
				fmt.Fprintln(cli.Out, sw.Swarm.JoinTokens.Manager)
			}
			return nil
		}
		info, err := api.Info(ctx, client.InfoOptions{})
		if err != nil {
			return err
		}
		return printJoinCommand(ctx, cli.Out, api, progName(cmd), info.Info.Swarm.NodeID, worker, manager)
	})
	cmd.Flags().BoolVar(&rotate, "rotate", false, "Rotate join token")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display token")
	return cmd
}

func newLeaveCommand(cli *command.Cli) *cobra.Command {
	var force bool
	cmd := command.NewCommand("leave [OPTIONS]", "Leave the swarm", command.NoArgs,
		cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
			if _, err := api.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: force}); err != nil {
				return err
			}
			fmt.Fprintln(cli.Out, "Node left the swarm.")
			return nil
		}))
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force this node to leave the swarm, ignoring warnings")
	return cmd
}

func newUpdateCommand(cli *command.Cli) *cobra.Command {
	var spec specOptions
	cmd := command.NewCommand("update [OPTIONS]", "Update the swarm", command.NoArgs, nil)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().NFlag() == 0 {
			return pflag.ErrHelp
		}
		return cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
			sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
			if err != nil {
				return err
			}
			wasLocked := sw.Swarm.Spec.EncryptionConfig.AutoLockManagers
			spec.merge(&sw.Swarm.Spec, cmd.Flags())
			if _, err := api.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: sw.Swarm.Version, Spec: sw.Swarm.Spec}); err != nil {
				return err
			}
			fmt.Fprintln(cli.Out, "Swarm updated.")
			if sw.Swarm.Spec.EncryptionConfig.AutoLockManagers && !wasLocked {
				key, err := api.SwarmGetUnlockKey(ctx)
				if err != nil {
					return fmt.Errorf("could not fetch unlock key: %w", err)
				}
				printUnlockCommand(cli.Out, progName(cmd), key.Key)
			}
			return nil
		})(cmd, args)
	}
	cmd.Flags().BoolVar(&spec.autolock, "autolock", false, "Change manager autolocking setting (true|false)")
	addSpecFlags(cmd.Flags(), &spec)
	return cmd
}

func newUnlockCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("unlock", "Unlock swarm", command.NoArgs,
		cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
			info, err := api.Info(ctx, client.InfoOptions{})
			if err != nil {
				return err
			}
			switch info.Info.Swarm.LocalNodeState {
			case swarmtypes.LocalNodeStateInactive:
				return errors.New("Error: This node is not part of a swarm")
			case swarmtypes.LocalNodeStateLocked:
			case swarmtypes.LocalNodeStatePending, swarmtypes.LocalNodeStateActive, swarmtypes.LocalNodeStateError:
				return errors.New("Error: swarm is not locked")
			}
			key, err := readKey(cli.In, cli.Out, "Enter unlock key: ")
			if err != nil {
				return err
			}
			_, err = api.SwarmUnlock(ctx, client.SwarmUnlockOptions{Key: key})
			return err
		}))
}

// readKey reads the unlock key: typed without echo at a terminal (after
// prompt), else the first line of in.
func readKey(in io.Reader, out io.Writer, prompt string) (string, error) {
	if fd, isTerm := term.GetFdInfo(in); isTerm {
		fmt.Fprint(out, prompt)
		state, err := term.SaveState(fd)
		if err != nil {
			return "", fmt.Errorf("read unlock key: %w", err)
		}
		if err := term.DisableEcho(fd, state); err != nil {
			return "", fmt.Errorf("read unlock key: %w", err)
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		_ = term.RestoreTerminal(fd, state)
		fmt.Fprintln(out)
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err == io.EOF {
		err = nil
	}
	return strings.TrimSpace(line), err
}

func newUnlockKeyCommand(cli *command.Cli) *cobra.Command {
	var rotate, quiet bool
	cmd := command.NewCommand("unlock-key [OPTIONS]", "Manage the unlock key", command.NoArgs, nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
		if rotate {
			sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
			if err != nil {
				return err
			}
			if !sw.Swarm.Spec.EncryptionConfig.AutoLockManagers {
				return errors.New("cannot rotate because autolock is not turned on")
			}
			if _, err := api.SwarmUpdate(ctx, client.SwarmUpdateOptions{
				Version: sw.Swarm.Version, Spec: sw.Swarm.Spec, RotateManagerUnlockKey: true,
			}); err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintln(cli.Out, "Successfully rotated manager unlock key.")
			}
		}
		key, err := api.SwarmGetUnlockKey(ctx)
		if err != nil {
			return fmt.Errorf("could not fetch unlock key: %w", err)
		}
		if key.Key == "" {
			return errors.New("no unlock key is set")
		}
		if quiet {
			fmt.Fprintln(cli.Out, key.Key)
			return nil
		}
		printUnlockCommand(cli.Out, progName(cmd), key.Key)
		return nil
	})
	cmd.Flags().BoolVar(&rotate, "rotate", false, "Rotate unlock key")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display token")
	return cmd
}
