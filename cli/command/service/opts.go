package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"
)

// Swarm's defaults for what a new service leaves out (SwarmKit's
// api/defaults), which create's help shows and create and update fill in
// when only part of a policy is given.
const (
	defaultStopGrace     = 10 * time.Second
	defaultRestartDelay  = 5 * time.Second
	defaultMonitor       = 5 * time.Second
	defaultParallelism   = 1
	defaultFailureAction = "pause"
	defaultOrder         = "stop-first"
	defaultRestartCond   = "any"
)

// updateOptions are the --update-* or --rollback-* flags.
type updateOptions struct {
	parallelism     uint64
	delay, monitor  time.Duration
	failureAction   string
	maxFailureRatio floatValue
	order           string
}

// healthOptions are the --health-* flags and --no-healthcheck.
type healthOptions struct {
	cmd                          string
	interval, timeout, startTime durationValue
	retries                      int
	none                         bool
}

// options are the flags of service create and update, as parsed; update
// reads the additions from the same fields (--env-add fills env…).
type options struct {
	detach, quiet bool

	name, mode string
	image      string
	args       []string

	labels, containerLabels, env, envFile          listValue
	constraints, dns, dnsOptions, dnsSearch, hosts listValue
	entrypoint                                     commandValue
	hostname, workdir, user, stopSignal            string
	init, tty, readOnly                            bool
	mounts                                         itemsValue[mount.Mount]

	limitCPU, reserveCPU cpuValue
	limitMem, reserveMem bytesValue
	limitPids            int64
	stopGrace            durationValue

	replicas    uintValue
	maxReplicas uint64

	restartCondition            string
	restartDelay, restartWindow durationValue
	restartMaxAttempts          uintValue

	prefs            itemsValue[swarmtypes.PlacementPreference]
	update, rollback updateOptions
	networks         itemsValue[swarmtypes.NetworkAttachmentConfig]
	endpointMode     string
	publish          itemsValue[swarmtypes.PortConfig]
	registryAuth     bool
	health           healthOptions
	secrets          itemsValue[*swarmtypes.SecretReference]
	configs          itemsValue[*swarmtypes.ConfigReference]

	// update only
	newImage                                      string
	newArgs                                       commandValue
	doRollback, force                             bool
	envRm, labelRm, containerLabelRm, mountRm     listValue
	constraintRm, dnsRm, dnsOptionRm, dnsSearchRm listValue
	hostRm, secretRm, configRm, networkRm         listValue
	publishRm                                     itemsValue[swarmtypes.PortConfig]
	prefRm                                        itemsValue[swarmtypes.PlacementPreference]
}

// newOptions returns options whose lists check their values as docker's.
func newOptions() *options {
	env := validateEnv(os.LookupEnv)
	return &options{
		labels:          listValue{validate: validateLabel},
		containerLabels: listValue{validate: validateLabel},
		env:             listValue{validate: env},
		dns:             listValue{validate: validateIP},
		dnsSearch:       listValue{validate: validateDNSSearch},
		hosts:           listValue{validate: validateExtraHost},
		mounts:          mountsValue(),
		prefs:           prefsValue(),
		prefRm:          prefsValue(),
		networks:        networksValue(),
		publish:         portsValue(),
		publishRm:       portsValue(),
		secrets:         refsValue(secretKind()),
		configs:         refsValue(configKind()),
		health: healthOptions{
			interval: durationValue{positive: true}, timeout: durationValue{positive: true}, startTime: durationValue{positive: true},
		},
	}
}

// addFlags adds the flags create and update share; create's help shows
// the defaults a new service gets.
func (o *options) addFlags(fs *pflag.FlagSet, create bool) {
	def := func(help, value string) string {
		if create {
			return help + " (default " + value + ")"
		}
		return help
	}
	var parallelism uint64
	endpointMode := ""
	if create {
		parallelism, endpointMode = defaultParallelism, "vip"
	}
	fs.BoolVarP(&o.detach, "detach", "d", false, "Exit immediately instead of waiting for the service to converge")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&o.hostname, "hostname", "", "Container hostname")
	fs.Var(&o.entrypoint, "entrypoint", "Overwrite the default ENTRYPOINT of the image")

	fs.Var(&o.limitCPU, "limit-cpu", "Limit CPUs")
	fs.Var(&o.limitMem, "limit-memory", "Limit Memory")
	fs.Var(&o.reserveCPU, "reserve-cpu", "Reserve CPUs")
	fs.Var(&o.reserveMem, "reserve-memory", "Reserve Memory")
	fs.Int64Var(&o.limitPids, "limit-pids", 0, "Limit maximum number of processes (default 0 = unlimited)")

	fs.Var(&o.stopGrace, "stop-grace-period", def("Time to wait before force killing a container (ns|us|ms|s|m|h)", defaultStopGrace.String()))
	fs.Var(&o.replicas, "replicas", "Number of tasks")
	fs.Uint64Var(&o.maxReplicas, "replicas-max-per-node", 0, "Maximum number of tasks per node (default 0 = unlimited)")

	fs.StringVar(&o.restartCondition, "restart-condition", "", def(`Restart when condition is met ("none", "on-failure", "any")`, `"`+defaultRestartCond+`"`))
	fs.Var(&o.restartDelay, "restart-delay", def("Delay between restart attempts (ns|us|ms|s|m|h)", defaultRestartDelay.String()))
	fs.Var(&o.restartMaxAttempts, "restart-max-attempts", "Maximum number of restarts before giving up")
	fs.Var(&o.restartWindow, "restart-window", "Window used to evaluate the restart policy (ns|us|ms|s|m|h)")

	fs.Uint64Var(&o.update.parallelism, "update-parallelism", parallelism, "Maximum number of tasks updated simultaneously (0 to update all at once)")
	fs.DurationVar(&o.update.delay, "update-delay", 0, def("Delay between updates (ns|us|ms|s|m|h)", "0s"))
	fs.DurationVar(&o.update.monitor, "update-monitor", 0, def("Duration after each task update to monitor for failure (ns|us|ms|s|m|h)", defaultMonitor.String()))
	fs.StringVar(&o.update.failureAction, "update-failure-action", "", def(`Action on update failure ("pause", "continue", "rollback")`, `"`+defaultFailureAction+`"`))
	fs.Var(&o.update.maxFailureRatio, "update-max-failure-ratio", def("Failure rate to tolerate during an update", "0"))
	fs.StringVar(&o.update.order, "update-order", "", def(`Update order ("start-first", "stop-first")`, `"`+defaultOrder+`"`))

	fs.Uint64Var(&o.rollback.parallelism, "rollback-parallelism", parallelism, "Maximum number of tasks rolled back simultaneously (0 to roll back all at once)")
	fs.DurationVar(&o.rollback.delay, "rollback-delay", 0, def("Delay between task rollbacks (ns|us|ms|s|m|h)", "0s"))
	fs.DurationVar(&o.rollback.monitor, "rollback-monitor", 0, def("Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)", defaultMonitor.String()))
	fs.StringVar(&o.rollback.failureAction, "rollback-failure-action", "", def(`Action on rollback failure ("pause", "continue")`, `"`+defaultFailureAction+`"`))
	fs.Var(&o.rollback.maxFailureRatio, "rollback-max-failure-ratio", def("Failure rate to tolerate during a rollback", "0"))
	fs.StringVar(&o.rollback.order, "rollback-order", "", def(`Rollback order ("start-first", "stop-first")`, `"`+defaultOrder+`"`))

	fs.StringVar(&o.endpointMode, "endpoint-mode", endpointMode, "Endpoint mode (vip or dnsrr)")
	fs.BoolVar(&o.registryAuth, "with-registry-auth", false, "Send registry authentication details to swarm agents")

	fs.StringVar(&o.health.cmd, "health-cmd", "", "Command to run to check health")
	fs.Var(&o.health.interval, "health-interval", "Time between running the check (ms|s|m|h)")
	fs.Var(&o.health.timeout, "health-timeout", "Maximum time to allow one check to run (ms|s|m|h)")
	fs.IntVar(&o.health.retries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.Var(&o.health.startTime, "health-start-period", "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)")
	fs.BoolVar(&o.health.none, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")

	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.BoolVar(&o.init, "init", false, "Use an init inside each service container to forward signals and reap processes")
}

// addCreateFlags adds the flags only create has.
func (o *options) addCreateFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.mode, "mode", "replicated", `Service mode ("replicated", "global", "replicated-job", "global-job")`)
	fs.StringVar(&o.name, "name", "", "Service name")
	fs.VarP(&o.labels, "label", "l", "Service labels")
	fs.Var(&o.containerLabels, "container-label", "Container labels")
	fs.VarP(&o.env, "env", "e", "Set environment variables")
	fs.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	fs.Var(&o.mounts, "mount", "Attach a filesystem mount to the service")
	fs.Var(&o.constraints, "constraint", "Placement constraints")
	fs.Var(&o.prefs, "placement-pref", "Add a placement preference")
	fs.Var(&o.networks, "network", "Network attachments")
	fs.Var(&o.secrets, "secret", "Specify secrets to expose to the service")
	fs.Var(&o.configs, "config", "Specify configurations to expose to the service")
	fs.VarP(&o.publish, "publish", "p", "Publish a port as a node port")
	fs.Var(&o.dns, "dns", "Set custom DNS servers")
	fs.Var(&o.dnsOptions, "dns-option", "Set DNS options")
	fs.Var(&o.dnsSearch, "dns-search", "Set custom DNS search domains")
	fs.Var(&o.hosts, "host", "Set one or more custom host-to-IP mappings (host:ip)")
}

// addUpdateFlags adds the flags only update has: the new image and args,
// --rollback, --force and the -add/-rm pairs.
func (o *options) addUpdateFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.newImage, "image", "", "Service image tag")
	fs.Var(&o.newArgs, "args", "Service command args")
	fs.BoolVar(&o.doRollback, "rollback", false, "Rollback to previous specification")
	fs.BoolVar(&o.force, "force", false, "Force update even if no changes require it")

	fs.Var(&o.env, "env-add", "Add or update an environment variable")
	fs.Var(&o.envRm, "env-rm", "Remove an environment variable")
	fs.Var(&o.labels, "label-add", "Add or update a service label")
	fs.Var(&o.labelRm, "label-rm", "Remove a label by its key")
	fs.Var(&o.containerLabels, "container-label-add", "Add or update a container label")
	fs.Var(&o.containerLabelRm, "container-label-rm", "Remove a container label by its key")
	fs.Var(&o.mounts, "mount-add", "Add or update a mount on a service")
	fs.Var(&o.mountRm, "mount-rm", "Remove a mount by its target path")
	fs.Var(&o.publish, "publish-add", "Add or update a published port")
	fs.Var(&o.publishRm, "publish-rm", "Remove a published port by its target port")
	fs.Var(&o.constraints, "constraint-add", "Add or update a placement constraint")
	fs.Var(&o.constraintRm, "constraint-rm", "Remove a constraint")
	fs.Var(&o.prefs, "placement-pref-add", "Add a placement preference")
	fs.Var(&o.prefRm, "placement-pref-rm", "Remove a placement preference")
	fs.Var(&o.networks, "network-add", "Add a network")
	fs.Var(&o.networkRm, "network-rm", "Remove a network")
	fs.Var(&o.secrets, "secret-add", "Add or update a secret on a service")
	fs.Var(&o.secretRm, "secret-rm", "Remove a secret")
	fs.Var(&o.configs, "config-add", "Add or update a config file on a service")
	fs.Var(&o.configRm, "config-rm", "Remove a configuration file")
	fs.Var(&o.dns, "dns-add", "Add or update a custom DNS server")
	fs.Var(&o.dnsRm, "dns-rm", "Remove a custom DNS server")
	fs.Var(&o.dnsOptions, "dns-option-add", "Add or update a DNS option")
	fs.Var(&o.dnsOptionRm, "dns-option-rm", "Remove a DNS option")
	fs.Var(&o.dnsSearch, "dns-search-add", "Add or update a custom DNS search domain")
	fs.Var(&o.dnsSearchRm, "dns-search-rm", "Remove a DNS search domain")
	fs.Var(&o.hosts, "host-add", `Add a custom host-to-IP mapping ("host:ip")`)
	fs.Var(&o.hostRm, "host-rm", `Remove a custom host-to-IP mapping ("host:ip")`)
}

// anyChanged reports whether any of the flags was given.
// setChanged sets *dst to v when fs saw the flag name (v is worked out
// either way: nothing that can fail or panic).
func setChanged[T any](fs *pflag.FlagSet, name string, v T, dst *T) {
	if fs.Changed(name) {
		*dst = v
	}
}

func anyChanged(fs *pflag.FlagSet, names ...string) bool {
	for _, n := range names {
		if fs.Changed(n) {
			return true
		}
	}
	return false
}

// serviceMode is --mode with --replicas and --replicas-max-per-node.
func (o *options) serviceMode() (swarmtypes.ServiceMode, error) {
	var m swarmtypes.ServiceMode
	switch o.mode {
	case "global":
		if o.replicas.v != nil {
			return m, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		if o.maxReplicas > 0 {
			return m, errors.New("replicas-max-per-node can only be used with replicated or replicated-job mode")
		}
		m.Global = &swarmtypes.GlobalService{}
	case "replicated":
		m.Replicated = &swarmtypes.ReplicatedService{Replicas: o.replicas.v}
	case "replicated-job":
		m.ReplicatedJob = &swarmtypes.ReplicatedJob{MaxConcurrent: o.replicas.v, TotalCompletions: o.replicas.v}
	case "global-job":
		if o.maxReplicas > 0 {
			return m, errors.New("replicas-max-per-node can only be used with replicated or replicated-job mode")
		}
		if o.replicas.v != nil {
			return m, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		m.GlobalJob = &swarmtypes.GlobalJob{}
	default:
		return m, fmt.Errorf("Unknown mode: %s, only replicated and global supported", o.mode)
	}
	return m, nil
}

// defaultUpdateConfig is a new service's update (or rollback) policy.
func defaultUpdateConfig() *swarmtypes.UpdateConfig {
	return &swarmtypes.UpdateConfig{
		Parallelism: defaultParallelism, Monitor: defaultMonitor,
		FailureAction: defaultFailureAction, Order: defaultOrder,
	}
}

// defaultRestartPolicy is a new service's restart policy.
func defaultRestartPolicy() *swarmtypes.RestartPolicy {
	delay := defaultRestartDelay
	var attempts uint64
	return &swarmtypes.RestartPolicy{Condition: defaultRestartCond, Delay: &delay, MaxAttempts: &attempts}
}

// mergeUpdateConfig sets in c the --PREFIX-* flags given (prefix is
// "update" or "rollback").
func mergeUpdateConfig(fs *pflag.FlagSet, prefix string, u updateOptions, c *swarmtypes.UpdateConfig) {
	setChanged(fs, prefix+"-parallelism", u.parallelism, &c.Parallelism)
	setChanged(fs, prefix+"-delay", u.delay, &c.Delay)
	setChanged(fs, prefix+"-monitor", u.monitor, &c.Monitor)
	setChanged(fs, prefix+"-failure-action", swarmtypes.FailureAction(u.failureAction), &c.FailureAction)
	setChanged(fs, prefix+"-max-failure-ratio", float32(u.maxFailureRatio), &c.MaxFailureRatio)
	setChanged(fs, prefix+"-order", swarmtypes.UpdateOrder(u.order), &c.Order)
}

// updateFlagNames are the flags of an update (prefix "update") or
// rollback policy.
func updateFlagNames(prefix string) []string {
	return []string{prefix + "-parallelism", prefix + "-delay", prefix + "-monitor", prefix + "-failure-action", prefix + "-max-failure-ratio", prefix + "-order"}
}

// updateConfig is the policy the --PREFIX-* flags make, nil when none is
// given.
func updateConfig(fs *pflag.FlagSet, prefix string, u updateOptions) *swarmtypes.UpdateConfig {
	if !anyChanged(fs, updateFlagNames(prefix)...) {
		return nil
	}
	c := defaultUpdateConfig()
	mergeUpdateConfig(fs, prefix, u, c)
	return c
}

var restartFlags = []string{"restart-condition", "restart-delay", "restart-max-attempts", "restart-window"}

// mergeRestartPolicy sets in p the --restart-* flags given.
func (o *options) mergeRestartPolicy(fs *pflag.FlagSet, p *swarmtypes.RestartPolicy) {
	setChanged(fs, "restart-condition", swarmtypes.RestartPolicyCondition(o.restartCondition), &p.Condition)
	setChanged(fs, "restart-delay", o.restartDelay.v, &p.Delay)
	setChanged(fs, "restart-max-attempts", o.restartMaxAttempts.v, &p.MaxAttempts)
	setChanged(fs, "restart-window", o.restartWindow.v, &p.Window)
}

// healthConfig is the healthcheck --health-* and --no-healthcheck make
// for a new service (nil: the image's).
func (h *healthOptions) healthConfig() (*container.HealthConfig, error) {
	have := h.cmd != "" || h.interval.v != nil || h.timeout.v != nil || h.startTime.v != nil || h.retries != 0
	if h.none {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	hc := &container.HealthConfig{Retries: h.retries}
	if h.cmd != "" {
		hc.Test = []string{"CMD-SHELL", h.cmd}
	}
	for _, d := range []struct {
		v   *durationValue
		dst *time.Duration
	}{{&h.interval, &hc.Interval}, {&h.timeout, &hc.Timeout}, {&h.startTime, &hc.StartPeriod}} {
		if d.v.v != nil {
			*d.dst = *d.v.v
		}
	}
	return hc, nil
}

// kvMap turns "k=v" values into a map ("k" maps to "").
func kvMap(values []string) map[string]string {
	m := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// envKey is the name of an "K=V" variable.
func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// makeEnv is --env-file's variables then -e's, a later one replacing an
// earlier one of the same name.
func (o *options) makeEnv() ([]string, error) {
	var all []string
	for _, f := range o.envFile.values {
		vars, err := readEnvFile(f, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		all = append(all, vars...)
	}
	all = append(all, o.env.values...)
	var out []string
	for _, kv := range all {
		k := envKey(kv)
		out = slices.DeleteFunc(out, func(cur string) bool { return envKey(cur) == k })
		out = append(out, kv)
	}
	return out, nil
}

// resolveNetworks replaces network names by their IDs (swarm scope).
func resolveNetworks(ctx context.Context, api client.APIClient, nets []swarmtypes.NetworkAttachmentConfig) ([]swarmtypes.NetworkAttachmentConfig, error) {
	out := make([]swarmtypes.NetworkAttachmentConfig, len(nets))
	for i, n := range nets {
		res, err := api.NetworkInspect(ctx, n.Target, client.NetworkInspectOptions{Scope: "swarm"})
		if err != nil {
			return nil, err
		}
		n.Target = res.Network.ID
		out[i] = n
	}
	return out, nil
}

// spec is the ServiceSpec service create sends.
func (o *options) spec(ctx context.Context, api client.APIClient, fs *pflag.FlagSet) (swarmtypes.ServiceSpec, error) {
	var spec swarmtypes.ServiceSpec
	env, err := o.makeEnv()
	if err != nil {
		return spec, err
	}
	health, err := o.health.healthConfig()
	if err != nil {
		return spec, err
	}
	mode, err := o.serviceMode()
	if err != nil {
		return spec, err
	}
	upd := updateConfig(fs, "update", o.update)
	rb := updateConfig(fs, "rollback", o.rollback)
	if (mode.ReplicatedJob != nil || mode.GlobalJob != nil) && (upd != nil || rb != nil) {
		return spec, errors.New("update and rollback configuration is not supported for jobs")
	}
	nets, err := resolveNetworks(ctx, api, o.networks.items)
	if err != nil {
		return spec, err
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Target < nets[j].Target })
	useInit := o.init
	cs := &swarmtypes.ContainerSpec{
		Image:      o.image,
		Args:       o.args,
		Command:    o.entrypoint.v,
		Env:        env,
		Hostname:   o.hostname,
		Labels:     kvMap(o.containerLabels.values),
		Dir:        o.workdir,
		User:       o.user,
		StopSignal: o.stopSignal,
		TTY:        o.tty,
		ReadOnly:   o.readOnly,
		Mounts:     o.mounts.items,
		Init:       &useInit,
		DNSConfig: &swarmtypes.DNSConfig{
			Nameservers: netipAddrs(o.dns.values), Search: o.dnsSearch.values, Options: o.dnsOptions.values,
		},
		Hosts:       swarmHosts(o.hosts.values),
		Healthcheck: health,
	}
	setChanged(fs, "stop-grace-period", o.stopGrace.v, &cs.StopGracePeriod)
	spec = swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: o.name, Labels: kvMap(o.labels.values)},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: cs,
			Networks:      nets,
			Resources: &swarmtypes.ResourceRequirements{
				Limits:       &swarmtypes.Limit{NanoCPUs: int64(o.limitCPU), MemoryBytes: int64(o.limitMem), Pids: o.limitPids},
				Reservations: &swarmtypes.Resources{NanoCPUs: int64(o.reserveCPU), MemoryBytes: int64(o.reserveMem)},
			},
			Placement: &swarmtypes.Placement{Constraints: o.constraints.values, Preferences: o.prefs.items, MaxReplicas: o.maxReplicas},
		},
		Mode:           mode,
		UpdateConfig:   upd,
		RollbackConfig: rb,
		EndpointSpec:   &swarmtypes.EndpointSpec{Mode: swarmtypes.ResolutionMode(strings.ToLower(o.endpointMode)), Ports: o.publish.items},
	}
	if anyChanged(fs, restartFlags...) {
		p := defaultRestartPolicy()
		o.mergeRestartPolicy(fs, p)
		spec.TaskTemplate.RestartPolicy = p
	}
	if len(o.secrets.items) > 0 {
		if cs.Secrets, err = resolveRefs(ctx, api, secretKind(), o.secrets.items); err != nil {
			return spec, err
		}
	}
	if len(o.configs.items) > 0 {
		if cs.Configs, err = resolveRefs(ctx, api, configKind(), o.configs.items); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

// netipAddrs is the --dns list (checked by validateIP) as the API's
// addresses.
func netipAddrs(ips []string) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			out = append(out, a)
		}
	}
	return out
}
