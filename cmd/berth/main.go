// Command berth is the berth CLI, the `berth daemon` engine, and (through
// hidden re-exec entry points) the container init and the per-container shim.
package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/spf13/cobra"
	// Device cgroup rules need the devices controller registered.
	_ "github.com/opencontainers/cgroups/devices"
	// nsenter runs in C before the Go runtime when re-exec'd as "init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/berth-project/berth/cli"
	"github.com/berth-project/berth/daemon/runtime/shim"
	"github.com/berth-project/berth/machine/local"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The container's first process: libcontainer finishes setting up
		// the namespaces and execs the user's program. Never returns.
		libcontainer.Init()
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "machine-node" {
		// A local machine's first process, in the node's namespaces.
		os.Exit(local.NodeMain(os.Args[2:]))
	}
	os.Exit(cli.Main(os.Args[1:], daemonCommand(), shimCommand(), registryCommand()))
}

// shimCommand documents the hidden shim entry point (dispatched in main
// before cobra parses anything).
func shimCommand() *cobra.Command {
	return &cobra.Command{Use: "shim", Hidden: true, Short: "per-container supervisor (internal)", DisableFlagParsing: true,
		Run: func(cmd *cobra.Command, args []string) { os.Exit(shim.Main(args)) }}
}
