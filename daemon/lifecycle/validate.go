package lifecycle

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/daemon/runtime/spec"

	"github.com/berth-project/berth/internal/rlimit"
)

func invalidArg(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// validateCreate checks a create request the way dockerd does at
// POST /containers/create, with its wording, so that a container that could
// never start is refused (400) instead of being created. numCPU is the
// number of CPUs this host offers.
func validateCreate(cfg *apicontainer.Config, hc *apicontainer.HostConfig, numCPU int) error {
	if cfg.WorkingDir != "" && !path.IsAbs(cfg.WorkingDir) {
		return invalidArg("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir)
	}
	if cfg.StopSignal != "" {
		if _, err := parseSignal(cfg.StopSignal); err != nil {
			return invalidArg("invalid signal: %s", cfg.StopSignal)
		}
	}
	if err := validateHealthcheck(cfg.Healthcheck); err != nil {
		return err
	}
	if err := validateResources(&hc.Resources, numCPU); err != nil {
		return err
	}
	if hc.ShmSize < 0 {
		return invalidArg("SHM size can not be less than 0")
	}
	if err := validateCaps("CapAdd", hc.CapAdd); err != nil {
		return err
	}
	if err := validateCaps("CapDrop", hc.CapDrop); err != nil {
		return err
	}
	for _, so := range hc.SecurityOpt {
		if err := validateSecurityOpt(so); err != nil {
			return err
		}
	}
	if err := validateLogConfig(hc.LogConfig); err != nil {
		return err
	}
	for _, b := range hc.Binds {
		if err := validateBindSyntax(b); err != nil {
			return err
		}
	}
	for _, h := range hc.ExtraHosts {
		if err := validateExtraHost(h); err != nil {
			return err
		}
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return invalidArg("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if hc.UTSMode.IsHost() && cfg.Hostname != "" {
		return invalidArg("Conflicting options: hostname and the UTS mode")
	}
	return validateSupported(cfg, hc)
}

// validateSupported refuses what berth cannot honour yet, naming the
// flag, rather than creating a container that silently lacks it.
func validateSupported(cfg *apicontainer.Config, hc *apicontainer.HostConfig) error {
	unsupported := func(flag string) error {
		return invalidArg("%s is not supported by berth yet", flag)
	}
	r := &hc.Resources
	checks := []struct {
		set  bool
		flag string
	}{
		{hc.Init != nil && *hc.Init, "--init"},
		{len(hc.Links) > 0, "--link"},
		{len(hc.VolumesFrom) > 0, "--volumes-from"},
		{hc.PidMode != "" && !hc.PidMode.IsHost(), "--pid " + string(hc.PidMode)},
		{hc.IpcMode != "" && hc.IpcMode != "private", "--ipc " + string(hc.IpcMode)},
		{hc.UTSMode != "" && !hc.UTSMode.IsHost(), "--uts " + string(hc.UTSMode)},
		{hc.CgroupnsMode == "private", "--cgroupns private (the cgroup namespace is the host's, as Docker's default on cgroup v1)"},
		{hc.UsernsMode != "" && hc.UsernsMode != "host", "--userns " + string(hc.UsernsMode)},
		{len(r.Devices) > 0, "--device"},
		{len(r.DeviceCgroupRules) > 0, "--device-cgroup-rule"},
		{len(hc.StorageOpt) > 0, "--storage-opt"},
		{r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0, "--blkio-weight"},
		{len(r.BlkioDeviceReadBps) > 0, "--device-read-bps"},
		{len(r.BlkioDeviceWriteBps) > 0, "--device-write-bps"},
		{len(r.BlkioDeviceReadIOps) > 0, "--device-read-iops"},
		{len(r.BlkioDeviceWriteIOps) > 0, "--device-write-iops"},
		{r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0, "--cpu-rt-period/--cpu-rt-runtime"},
		{r.MemorySwappiness != nil && *r.MemorySwappiness != -1, "--memory-swappiness"},
		{r.CPUCount != 0 || r.CPUPercent != 0 || r.IOMaximumIOps != 0 || r.IOMaximumBandwidth != 0, "Windows-only resource limits"},
		{hc.Runtime != "" && hc.Runtime != "runc" && hc.Runtime != "berth", "--runtime " + hc.Runtime},
		{hc.Isolation != "" && hc.Isolation != "default", "--isolation " + string(hc.Isolation)},
		{hc.VolumeDriver != "" && hc.VolumeDriver != "local", "--volume-driver " + hc.VolumeDriver},
	}
	for _, c := range checks {
		if c.set {
			return unsupported(c.flag)
		}
	}
	if len(r.DeviceRequests) > 0 {
		// dockerd's words when no device driver can serve the request.
		caps := ""
		if len(r.DeviceRequests[0].Capabilities) > 0 {
			caps = fmt.Sprint(r.DeviceRequests[0].Capabilities)
		}
		return invalidArg("could not select device driver %q with capabilities: %s", r.DeviceRequests[0].Driver, caps)
	}
	return nil
}

func validateHealthcheck(h *apicontainer.HealthConfig) error {
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < apicontainer.MinimumDuration {
			return invalidArg("%s in Healthcheck cannot be less than %s", d.name, apicontainer.MinimumDuration)
		}
	}
	if h.Retries < 0 {
		return invalidArg("Retries in Healthcheck cannot be negative")
	}
	return nil
}

func validateResources(r *apicontainer.Resources, numCPU int) error {
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalidArg("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.MemorySwap > 0 && r.Memory <= 0 {
		return invalidArg("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if ncpu := int64(numCPU); r.NanoCPUs < 0 || r.NanoCPUs > ncpu*1e9 {
		return invalidArg("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return invalidArg("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return invalidArg("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if err := validateCPUSet(r.CpusetCpus, numCPU); err != nil {
		return invalidArg("Invalid value %s for cpuset cpus", r.CpusetCpus)
	}
	if err := validateCPUSet(r.CpusetMems, -1); err != nil {
		return invalidArg("Invalid value %s for cpuset mems", r.CpusetMems)
	}
	for _, u := range r.Ulimits {
		if u == nil {
			continue
		}
		if !rlimit.Known(u.Name) {
			return invalidArg("invalid ulimit type: %s", u.Name)
		}
		if u.Hard >= 0 && u.Soft > u.Hard {
			return invalidArg("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
		}
	}
	return nil
}

// validateCPUSet checks a cpuset list ("0-2,4"); max < 0 skips the bound.
func validateCPUSet(s string, max int) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return fmt.Errorf("bad cpuset element %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return fmt.Errorf("bad cpuset range %q", part)
			}
		}
		if max >= 0 && b >= max {
			return fmt.Errorf("cpu %d not available", b)
		}
	}
	return nil
}

func validateCaps(field string, caps []string) error {
	known := spec.AllCapabilities()
	for _, c := range caps {
		n := strings.ToUpper(strings.TrimSpace(c))
		if n == "ALL" {
			continue
		}
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if !slices.Contains(known, n) {
			return invalidArg("invalid %s: unknown capability: %q", field, n)
		}
	}
	return nil
}

// validateSecurityOpt accepts the --security-opt keys dockerd knows. The
// values of seccomp (a profile) are left to the runtime spec.
func validateSecurityOpt(so string) error {
	if so == "no-new-privileges" || so == "disable" {
		return nil
	}
	k, v, ok := strings.Cut(so, "=")
	if !ok {
		k, v, ok = strings.Cut(so, ":")
	}
	if !ok {
		return invalidArg("invalid --security-opt 1: %q", so)
	}
	switch k {
	case "label", "apparmor", "seccomp":
		return nil
	case "no-new-privileges", "writable-cgroups":
		if _, err := strconv.ParseBool(v); err != nil {
			return invalidArg("invalid --security-opt 2: %q", so)
		}
		return nil
	case "systempaths":
		if v == "unconfined" {
			return nil
		}
	}
	return invalidArg("invalid --security-opt 2: %q", so)
}

// jsonFileLogOpts are the options Docker's json-file driver accepts.
var jsonFileLogOpts = map[string]bool{
	"max-size": true, "max-file": true, "compress": true, "labels": true, "labels-regex": true,
	"env": true, "env-regex": true, "tag": true,
}

// dockerLogDrivers are the drivers dockerd has built in; berth stores logs
// with json-file only.
var dockerLogDrivers = map[string]bool{
	"none": true, "local": true, "json-file": true, "syslog": true, "journald": true, "gelf": true,
	"fluentd": true, "awslogs": true, "splunk": true, "etwlogs": true, "gcplogs": true,
}

func validateLogConfig(lc apicontainer.LogConfig) error {
	switch {
	case lc.Type == "" || lc.Type == "json-file":
	case !dockerLogDrivers[lc.Type]:
		return invalidArg("logger: no log driver named '%s' is registered", lc.Type)
	default:
		return invalidArg("logging driver %q is not supported: berth stores logs with json-file", lc.Type)
	}
	keys := make([]string, 0, len(lc.Config))
	for k := range lc.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !jsonFileLogOpts[k] {
			return invalidArg("unknown log opt '%s' for json-file log driver", k)
		}
	}
	if _, _, err := logOptions(lc.Config); err != nil {
		return err
	}
	if v, ok := lc.Config["compress"]; ok {
		if _, err := strconv.ParseBool(v); err != nil {
			return invalidArg("invalid value for compress option: %q", v)
		}
	}
	return nil
}

// validateBindSyntax catches -v specs with an empty source before a colon
// (":/x") and anything else parseBind refuses, without creating host
// directories.
func validateBindSyntax(b string) error {
	bad := invalidArg("invalid volume specification: '%s'", b)
	parts := strings.Split(b, ":")
	if len(parts) > 3 || (len(parts) >= 2 && parts[0] == "") {
		return bad
	}
	dst := parts[0]
	if len(parts) >= 2 {
		dst = parts[1]
	}
	if dst == "" || !path.IsAbs(dst) {
		return bad
	}
	return nil
}

// validateExtraHost checks an --add-host entry, "name:ip" (or "name=ip"),
// ip being an address, a bracketed IPv6 address or host-gateway.
func validateExtraHost(h string) error {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	if !ok || name == "" {
		return invalidArg("bad format for add-host: %q", h)
	}
	if ip == "host-gateway" {
		return nil
	}
	addr := ip
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return invalidArg("invalid IP address in add-host: %q", ip)
	}
	return nil
}

// imageIDPattern is a full or short image ID, "sha256:" optional.
var imageIDPattern = regexp.MustCompile(`^(sha256:)?[a-f0-9]{1,64}$`)

// validateImageRef refuses an image name that is neither an ID nor a
// reference (e.g. "x/UPPER", "a@@b") with the reference library's, and so
// dockerd's, "invalid reference format" rather than "No such image".
func validateImageRef(s string) error {
	if imageIDPattern.MatchString(s) {
		return nil
	}
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		msg := err.Error()
		if !strings.Contains(msg, "invalid reference format") {
			msg = "invalid reference format: " + msg
		}
		return errdefs.ErrInvalidArgument.WithMessage(msg)
	}
	return nil
}

// hostCPUs is the CPU count validateCreate checks NanoCpus and cpusets
// against.
func hostCPUs() int { return goruntime.NumCPU() }
