package spec

import (
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Generator builds runtime specs. It holds berth's default seccomp profile,
// built once for the default capability set when the Generator is made;
// the variant for another capability set is built the first time a
// container asks for it and kept. The daemon keeps one Generator.
//
// The profiles it puts in specs are shared between containers: callers
// must not modify a generated spec's Linux.Seccomp.
type Generator struct {
	kernel kernelVersion // the host kernel, for minKernel in custom profiles

	mu sync.Mutex
	// profiles is the default profile by granted capSyscalls capabilities:
	// at most 2^len(capSyscalls) entries, usually a handful.
	profiles map[capMask]*specs.LinuxSeccomp
}

// NewGenerator makes a Generator, building the default seccomp profile.
func NewGenerator() *Generator {
	g := &Generator{kernel: hostKernel(), profiles: map[capMask]*specs.LinuxSeccomp{}}
	m := maskOf(DefaultCapabilities())
	g.profiles[m] = buildDefaultSeccomp(m)
	return g
}

// hostKernel is the running kernel's version, or 0.0.0 when it cannot be
// read (then no minKernel condition holds).
func hostKernel() kernelVersion {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return kernelVersion{}
	}
	v, err := parseKernelVersion(unix.ByteSliceToString(u.Release[:]))
	if err != nil {
		return kernelVersion{}
	}
	return v
}

// seccomp is the profile for a container with caps: the custom profile
// resolved for them, or the default one.
func (g *Generator) seccomp(custom *SeccompProfile, caps []string) *specs.LinuxSeccomp {
	if custom != nil {
		return custom.resolve(caps, g.kernel)
	}
	m := maskOf(caps)
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.profiles[m]; ok {
		return s
	}
	s := buildDefaultSeccomp(m)
	g.profiles[m] = s
	return s
}

// DefaultSeccomp is berth's default seccomp profile, for a container with
// the default capability set, built afresh.
func DefaultSeccomp() *specs.LinuxSeccomp {
	return buildDefaultSeccomp(maskOf(DefaultCapabilities()))
}
