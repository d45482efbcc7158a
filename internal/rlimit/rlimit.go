// Package rlimit is the one table of resource limits berth knows: the
// names `--ulimit` takes (Docker's), the OCI spec's RLIMIT_* types and the
// kernel's resource numbers.
package rlimit

import (
	"strings"

	"golang.org/x/sys/unix"
)

// byName maps Docker's --ulimit names to the kernel's resources.
var byName = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// Known reports whether name is a --ulimit name ("nofile").
func Known(name string) bool {
	_, ok := byName[name]
	return ok
}

// SpecType is the OCI spec's type for a --ulimit name ("RLIMIT_NOFILE").
func SpecType(name string) string { return "RLIMIT_" + strings.ToUpper(name) }

// Resource maps an OCI spec type ("RLIMIT_NOFILE") to the kernel's
// resource number.
func Resource(specType string) (int, bool) {
	name, ok := strings.CutPrefix(specType, "RLIMIT_")
	if !ok {
		return 0, false
	}
	r, ok := byName[strings.ToLower(name)]
	return r, ok
}
