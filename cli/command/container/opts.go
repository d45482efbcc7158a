package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
)

// runOpts are the flags shared by run and create.
type runOpts struct {
	detach, interactive, tty, rm, readOnly, privileged, publishAll, init   bool
	sigProxy                                                               bool
	name, workdir, user, entrypoint, hostname, memory, memorySwap, cpus    string
	cpusetCPUs, restart, stopSignal, netMode, logDriver, shmSize, platform string
	pull, detachKeys                                                       string
	cpuShares, pidsLimit                                                   int64
	stopTimeout                                                            int
	env, envFile, volumes, mounts, tmpfs, capAdd, capDrop, securityOpt     []string
	publish, expose, labels, logOpts, ulimits, sysctls, groupAdd, attach   []string
	dns, dnsSearch, dnsOpts, addHosts, netAliases                          []string
	ip                                                                     string
}

func (o *runOpts) addFlags(fs *pflag.FlagSet, withRun bool) {
	if withRun {
		fs.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
		fs.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	}
	// -h is --hostname here, so --help has no shorthand (as in docker).
	fs.Bool("help", false, "Print usage")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fs.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fs.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&o.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&o.cpus, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&o.cpusetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.StringVar(&o.netMode, "network", "", "Connect a container to a network")
	fs.StringVar(&o.netMode, "net", "", "Connect a container to a network")
	_ = fs.MarkHidden("net")
	fs.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	fs.StringVar(&o.shmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVar(&o.mounts, "mount", nil, "Attach a filesystem mount to the container")
	fs.StringArrayVar(&o.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.StringArrayVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringArrayVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	fs.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringArrayVar(&o.logOpts, "log-opt", nil, "Log driver options")
	fs.StringArrayVar(&o.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringArrayVar(&o.sysctls, "sysctl", nil, "Sysctl options")
	fs.StringArrayVar(&o.groupAdd, "group-add", nil, "Add additional groups to join")
	fs.StringArrayVarP(&o.attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fs.StringArrayVar(&o.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&o.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringArrayVar(&o.dnsOpts, "dns-option", nil, "Set DNS options")
	fs.StringArrayVar(&o.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&o.netAliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.SetInterspersed(false)
}

// containerConfig turns the flags plus IMAGE [COMMAND] [ARG...] into the
// API's create request parts.
func (o *runOpts) containerConfig(args []string, lookup func(string) (string, bool)) (*containertypes.Config, *containertypes.HostConfig, *network.NetworkingConfig, error) {
	if len(args) == 0 {
		return nil, nil, nil, fmt.Errorf("requires at least 1 argument")
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg := &containertypes.Config{
		Image:      args[0],
		Cmd:        args[1:],
		Hostname:   o.hostname,
		User:       o.user,
		WorkingDir: o.workdir,
		Tty:        o.tty,
		OpenStdin:  o.interactive,
		StopSignal: o.stopSignal,
		Labels:     command.ParseKeyValues(o.labels),
	}
	if len(cfg.Cmd) == 0 {
		cfg.Cmd = nil
	}
	if o.entrypoint != "" {
		cfg.Entrypoint = []string{o.entrypoint}
	}
	if o.stopTimeout != 0 {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	for _, f := range o.envFile {
		vals, err := readEnvFile(f, lookup)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg.Env = append(cfg.Env, vals...)
	}
	for _, e := range o.env {
		if v, ok := parseEnv(e, lookup); ok {
			cfg.Env = append(cfg.Env, v)
		}
	}
	securityOpt, err := readSecurityOpts(o.securityOpt)
	if err != nil {
		return nil, nil, nil, err
	}
	hc := &containertypes.HostConfig{
		AutoRemove:      o.rm,
		ReadonlyRootfs:  o.readOnly,
		Privileged:      o.privileged,
		PublishAllPorts: o.publishAll,
		CapAdd:          o.capAdd,
		CapDrop:         o.capDrop,
		SecurityOpt:     securityOpt,
		GroupAdd:        o.groupAdd,
		Sysctls:         command.ParseKeyValues(o.sysctls),
		NetworkMode:     containertypes.NetworkMode(o.netMode),
	}
	if o.init {
		b := true
		hc.Init = &b
	}
	if hc.NetworkMode == "" {
		hc.NetworkMode = "bridge"
	}
	hc.LogConfig = containertypes.LogConfig{Type: o.logDriver, Config: command.ParseKeyValues(o.logOpts)}
	if hc.RestartPolicy, err = parseRestart(o.restart); err != nil {
		return nil, nil, nil, err
	}
	if o.rm && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != containertypes.RestartPolicyDisabled {
		return nil, nil, nil, fmt.Errorf("conflicting options: cannot specify both --restart and --rm")
	}
	if hc.Memory, err = parseMemory(o.memory); err != nil {
		return nil, nil, nil, err
	}
	if hc.MemorySwap, err = parseMemory(o.memorySwap); err != nil {
		return nil, nil, nil, err
	}
	if o.cpus != "" {
		if hc.NanoCPUs, err = parseCPUs(o.cpus); err != nil {
			return nil, nil, nil, fmt.Errorf("invalid argument %q for \"--cpus\" flag: %w", o.cpus, err)
		}
	}
	if o.shmSize != "" {
		if hc.ShmSize, err = parseMemory(o.shmSize); err != nil {
			return nil, nil, nil, err
		}
	}
	hc.CPUShares = o.cpuShares
	hc.CpusetCpus = o.cpusetCPUs
	if o.pidsLimit != 0 {
		n := o.pidsLimit
		hc.PidsLimit = &n
	}
	for _, u := range o.ulimits {
		ul, err := parseUlimit(u)
		if err != nil {
			return nil, nil, nil, err
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	for _, v := range o.volumes {
		bind, anon, err := parseVolume(v)
		if err != nil {
			return nil, nil, nil, err
		}
		if anon != "" {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[anon] = struct{}{}
		} else {
			hc.Binds = append(hc.Binds, bind)
		}
	}
	for _, m := range o.mounts {
		mm, err := parseMount(m)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", m, err)
		}
		hc.Mounts = append(hc.Mounts, mm)
	}
	for _, t := range o.tmpfs {
		p, opts, err := parseTmpfs(t)
		if err != nil {
			return nil, nil, nil, err
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[p] = opts
	}
	for _, p := range o.publish {
		exp, binds, err := parsePublish(p)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid argument %q for \"-p, --publish\" flag: %w", p, err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		for k := range exp {
			cfg.ExposedPorts[k] = struct{}{}
		}
		for k, v := range binds {
			hc.PortBindings[k] = append(hc.PortBindings[k], v...)
		}
	}
	for _, e := range o.expose {
		ports, err := parseExpose(e)
		if err != nil {
			return nil, nil, nil, err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	// Streams: docker attaches stdout/stderr unless detached; -a narrows.
	if !o.detach {
		if len(o.attach) == 0 {
			cfg.AttachStdout, cfg.AttachStderr = true, true
			cfg.AttachStdin = o.interactive
		}
		streams := map[string]*bool{"stdin": &cfg.AttachStdin, "stdout": &cfg.AttachStdout, "stderr": &cfg.AttachStderr}
		for _, a := range o.attach {
			attach, ok := streams[strings.ToLower(a)]
			if !ok {
				return nil, nil, nil, fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
			}
			*attach = true
		}
		if cfg.AttachStdin {
			cfg.StdinOnce = true
		}
	} else if len(o.attach) > 0 {
		return nil, nil, nil, fmt.Errorf("conflicting options: cannot specify both --attach and --detach")
	}
	for _, d := range o.dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("invalid argument %q for \"--dns\" flag: %s is not an ip address", d, d)
		}
		hc.DNS = append(hc.DNS, a)
	}
	hc.DNSSearch, hc.DNSOptions = o.dnsSearch, o.dnsOpts
	for _, h := range o.addHosts {
		if err := validateExtraHost(h); err != nil {
			return nil, nil, nil, err
		}
		hc.ExtraHosts = append(hc.ExtraHosts, h)
	}
	var netCfg *network.NetworkingConfig
	es := &network.EndpointSettings{Aliases: o.netAliases}
	if o.ip != "" {
		a, err := netip.ParseAddr(o.ip)
		if err != nil || !a.Is4() {
			return nil, nil, nil, fmt.Errorf("invalid argument %q for \"--ip\" flag: invalid IPv4 address", o.ip)
		}
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a}
	}
	switch {
	case o.netMode == "none" || o.netMode == "host" || strings.HasPrefix(o.netMode, "container:"):
		if len(o.netAliases) > 0 || o.ip != "" {
			return nil, nil, nil, fmt.Errorf("conflicting options: --network-alias and --ip need a bridge network")
		}
	case o.netMode == "" || o.netMode == "default":
		if len(o.netAliases) > 0 || o.ip != "" {
			netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"default": es}}
		}
	default:
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{o.netMode: es}}
	}
	_ = mount.TypeBind
	return cfg, hc, netCfg, nil
}

// validateExtraHost checks an --add-host value: host:ip (or host=ip), where
// ip may be "host-gateway".
func validateExtraHost(h string) error {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	if !ok || name == "" {
		return fmt.Errorf("invalid argument %q for \"--add-host\" flag: bad format for add-host: %q", h, h)
	}
	if ip == "host-gateway" {
		return nil
	}
	if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
		return fmt.Errorf("invalid argument %q for \"--add-host\" flag: invalid IP address in add-host: %q", h, ip)
	}
	return nil
}

// readSecurityOpts replaces seccomp=FILE by seccomp=<the file's JSON,
// compacted>, as the docker CLI does: the daemon gets the profile itself.
func readSecurityOpts(opts []string) ([]string, error) {
	out := make([]string, 0, len(opts))
	for _, opt := range opts {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok || k != "seccomp" || v == "unconfined" || v == "builtin" {
			out = append(out, opt)
			continue
		}
		f, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, f); err != nil {
			return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
		}
		out = append(out, "seccomp="+b.String())
	}
	return out, nil
}
