// Command berth is the berth CLI, the `berth daemon` engine, and (through
// hidden re-exec entry points) the container init and the per-container shim.
package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// Device cgroup rules need the devices controller registered.
	_ "github.com/opencontainers/cgroups/devices"
	// nsenter runs in C before the Go runtime when re-exec'd as "init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/berth-project/berth/cli"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The container's first process: libcontainer finishes setting up
		// the namespaces and execs the user's program. Never returns.
		libcontainer.Init()
	}
}

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
