package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SeccompProfile is a seccomp profile in Docker's format, as
// --security-opt seccomp=PROFILE.json sends it: the OCI fields plus
// archMap and per-rule includes/excludes, resolved against the container's
// capabilities, the daemon's architecture and its kernel when the
// container starts.
type SeccompProfile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []SeccompArchMap         `json:"archMap,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	Syscalls         []SeccompSyscall         `json:"syscalls"`
}

// SeccompArchMap is one archMap entry: the native architecture and the
// others its kernel also runs.
type SeccompArchMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// SeccompSyscall is one rule of a Docker-format profile.
type SeccompSyscall struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []*specs.LinuxSeccompArg `json:"args"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *SeccompFilter           `json:"includes,omitempty"`
	Excludes *SeccompFilter           `json:"excludes,omitempty"`
}

// SeccompFilter conditions a rule: on capabilities the container holds,
// on the daemon's Go architecture (amd64, arm64…) and on a minimum kernel
// version ("4.8").
type SeccompFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

var seccompActions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap, specs.ActErrno,
	specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

var seccompOps = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

var seccompArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
}

var seccompFlags = []specs.LinuxSeccompFlag{
	specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv,
	"SECCOMP_FILTER_FLAG_TSYNC",
}

// ParseSeccompProfile decodes and checks a Docker-format profile. Every
// error is the user's: a malformed profile, an unknown action, operator,
// architecture or flag, or a rule that names no syscall.
func ParseSeccompProfile(data []byte) (*SeccompProfile, error) {
	var p SeccompProfile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("Decoding seccomp profile failed: %w", err) //nolint:staticcheck // Docker's words
	}
	if dec.More() {
		return nil, errors.New("Decoding seccomp profile failed: data after the profile") //nolint:staticcheck // Docker's words
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *SeccompProfile) validate() error {
	if p.DefaultAction == "" {
		return errors.New("seccomp profile: defaultAction is required")
	}
	if !slices.Contains(seccompActions, p.DefaultAction) {
		return fmt.Errorf("seccomp profile: unknown defaultAction %q", p.DefaultAction)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return errors.New("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'")
	}
	for _, a := range p.Architectures {
		if !slices.Contains(seccompArches, a) {
			return fmt.Errorf("seccomp profile: unknown architecture %q", a)
		}
	}
	for _, m := range p.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if !slices.Contains(seccompArches, a) {
				return fmt.Errorf("seccomp profile: unknown architecture %q", a)
			}
		}
	}
	for _, f := range p.Flags {
		if !slices.Contains(seccompFlags, f) {
			return fmt.Errorf("seccomp profile: unknown flag %q", f)
		}
	}
	notify := p.DefaultAction == specs.ActNotify
	for i, sc := range p.Syscalls {
		notify = notify || sc.Action == specs.ActNotify
		if sc.Name != "" && len(sc.Names) > 0 {
			return errors.New("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'")
		}
		if sc.Name == "" && len(sc.Names) == 0 {
			return fmt.Errorf("seccomp profile: syscalls[%d] names no syscall", i)
		}
		for _, n := range append([]string{sc.Name}, sc.Names...) {
			if strings.ContainsAny(n, " \t\n\x00") {
				return fmt.Errorf("seccomp profile: syscalls[%d]: invalid syscall name %q", i, n)
			}
		}
		if !slices.Contains(seccompActions, sc.Action) {
			return fmt.Errorf("seccomp profile: syscalls[%d]: unknown action %q", i, sc.Action)
		}
		for _, a := range sc.Args {
			if a == nil {
				return fmt.Errorf("seccomp profile: syscalls[%d]: null argument filter", i)
			}
			if a.Index > 5 {
				return fmt.Errorf("seccomp profile: syscalls[%d]: argument index %d out of range (0-5)", i, a.Index)
			}
			if !slices.Contains(seccompOps, a.Op) {
				return fmt.Errorf("seccomp profile: syscalls[%d]: unknown operator %q", i, a.Op)
			}
		}
		for _, f := range []*SeccompFilter{sc.Includes, sc.Excludes} {
			if f == nil || f.MinKernel == "" {
				continue
			}
			if _, err := parseKernelVersion(f.MinKernel); err != nil {
				return fmt.Errorf("seccomp profile: syscalls[%d]: %w", i, err)
			}
		}
	}
	if notify && p.ListenerPath == "" {
		return errors.New("seccomp profile: SCMP_ACT_NOTIFY needs a listenerPath")
	}
	return nil
}

// kernelVersion is a kernel's major.minor.patch.
type kernelVersion [3]int

// parseKernelVersion reads "6.8", "4.8.0" or a full release such as
// "6.18.44-generic": the leading digits of the first three fields.
func parseKernelVersion(s string) (kernelVersion, error) {
	var v kernelVersion
	rel, _, _ := strings.Cut(s, "-")
	parts := strings.SplitN(rel, ".", 4)
	if len(parts) < 2 {
		return v, fmt.Errorf("invalid kernel version %q", s)
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		end := 0
		for end < len(parts[i]) && end < 9 && parts[i][end] >= '0' && parts[i][end] <= '9' {
			end++
		}
		if end == 0 && i < 2 || end < len(parts[i]) && i < 2 {
			return v, fmt.Errorf("invalid kernel version %q", s)
		}
		if end > 0 {
			n, err := strconv.Atoi(parts[i][:end])
			if err != nil {
				return v, fmt.Errorf("invalid kernel version %q", s)
			}
			v[i] = n
		}
	}
	return v, nil
}

func (v kernelVersion) less(w kernelVersion) bool {
	return slices.Compare(v[:], w[:]) < 0
}

// nativeArch is the seccomp architecture of the Go architecture.
func nativeArch(goarch string) specs.Arch {
	switch goarch {
	case "amd64":
		return specs.ArchX86_64
	case "386":
		return specs.ArchX86
	case "arm64":
		return specs.ArchAARCH64
	case "arm":
		return specs.ArchARM
	case "ppc64le":
		return specs.ArchPPC64LE
	case "s390x":
		return specs.ArchS390X
	case "riscv64":
		return specs.ArchRISCV64
	case "loong64":
		return specs.ArchLOONGARCH64
	case "mips64le":
		return specs.ArchMIPSEL64
	}
	return ""
}

// resolve turns the profile into the OCI form for a container with caps on
// a kernel of version kernel: rules whose includes are not met, or whose
// excludes are, are left out.
func (p *SeccompProfile) resolve(caps []string, kernel kernelVersion) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	if len(p.Architectures) > 0 {
		s.Architectures = slices.Clone(p.Architectures)
	}
	if len(p.Flags) > 0 {
		s.Flags = slices.Clone(p.Flags)
	}
	native := nativeArch(runtime.GOARCH)
	for _, m := range p.ArchMap {
		if m.Arch == native {
			s.Architectures = append(s.Architectures, m.Arch)
			s.Architectures = append(s.Architectures, m.SubArches...)
		}
	}
	for _, sc := range p.Syscalls {
		if !sc.applies(caps, kernel) {
			continue
		}
		names := sc.Names
		if sc.Name != "" {
			names = []string{sc.Name}
		}
		rule := specs.LinuxSyscall{Names: slices.Clone(names), Action: sc.Action, ErrnoRet: sc.ErrnoRet}
		for _, a := range sc.Args {
			rule.Args = append(rule.Args, *a)
		}
		s.Syscalls = append(s.Syscalls, rule)
	}
	return s
}

func (sc *SeccompSyscall) applies(caps []string, kernel kernelVersion) bool {
	if ex := sc.Excludes; ex != nil {
		if slices.Contains(ex.Arches, runtime.GOARCH) {
			return false
		}
		if slices.ContainsFunc(ex.Caps, func(c string) bool { return slices.Contains(caps, c) }) {
			return false
		}
		if ex.MinKernel != "" {
			if min, err := parseKernelVersion(ex.MinKernel); err == nil && !kernel.less(min) {
				return false
			}
		}
	}
	if in := sc.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, runtime.GOARCH) {
			return false
		}
		for _, c := range in.Caps {
			if !slices.Contains(caps, c) {
				return false
			}
		}
		if in.MinKernel != "" {
			if min, err := parseKernelVersion(in.MinKernel); err == nil && kernel.less(min) {
				return false
			}
		}
	}
	return true
}
