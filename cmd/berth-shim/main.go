// Command berth-shim is the per-container supervisor and the container
// init, split from the berth binary so that the process that stays with
// every running container (and the init that runs before the user's
// program) loads only what they need: not the CLI, the Engine API or
// swarm mode's SwarmKit, whose package initialisation alone costs each
// container megabytes and milliseconds. The daemon runs it when it sits
// beside the berth binary (make build puts it there); otherwise berth
// itself serves both roles.
package main

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// Device cgroup rules need the devices controller registered.
	_ "github.com/opencontainers/cgroups/devices"
	// nsenter runs in C before the Go runtime when re-exec'd as "init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/berth-project/berth/daemon/runtime/shim"
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
	fmt.Fprintln(os.Stderr, "berth-shim is started by berth daemon, not by hand")
	os.Exit(2)
}
