// Package version holds berth's version, the one place it is set: `make
// build` stamps it with -ldflags "-X
// github.com/berth-project/berth/internal/version.Version=$(git describe)".
package version

// Version is berth's version ("dev" in a plain `go build`).
var Version = "dev"
