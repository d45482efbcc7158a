package stack

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// defaultNetwork is the network of a service that names none.
const defaultNetwork = "default"

// Convert turns a loaded project into the stack namespace: the networks
// its services use (overlay unless the file says otherwise), its secrets
// and configs read from their files, and one service spec per service,
// as the docker CLI converts them.
func Convert(p *types.Project, namespace string) (*Stack, error) {
	if err := ValidateName(namespace); err != nil {
		return nil, err
	}
	st := &Stack{Namespace: namespace}
	c := converter{p: p, ns: namespace}
	if err := c.networks(st); err != nil {
		return nil, err
	}
	if err := c.secrets(st); err != nil {
		return nil, err
	}
	if err := c.configs(st); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		spec, err := c.service(p.Services[name], st)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		if n := len(spec.Name); n > 63 {
			return nil, fmt.Errorf("service %s: the name %s is %d characters long, longer than swarm's 63", name, spec.Name, n)
		}
		st.Services = append(st.Services, spec)
	}
	return st, nil
}

type converter struct {
	p  *types.Project
	ns string
}

// name is the name of a stack resource: its own name when the file gives
// one (or the key, for an external one), "<stack>_<key>" otherwise.
func (c converter) name(key, given string, external bool) string {
	if external {
		return given
	}
	if given == "" || given == projectName(c.ns)+"_"+key {
		return Scope(c.ns, key)
	}
	return given
}

func (c converter) networks(st *Stack) error {
	used := map[string]bool{}
	for _, s := range c.p.Services {
		if len(s.Networks) == 0 {
			used[defaultNetwork] = true
		}
		for n := range s.Networks {
			used[n] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(used)) {
		n, ok := c.p.Networks[key]
		if !ok && key != defaultNetwork {
			return fmt.Errorf("undefined network %q", key)
		}
		if isExternal(n.External) {
			st.ExternalNetworks = append(st.ExternalNetworks, c.name(key, n.Name, true))
			continue
		}
		opts, err := networkOptions(n)
		if err != nil {
			return fmt.Errorf("network %s: %w", key, err)
		}
		opts.Labels = Labels(c.ns, n.Labels)
		st.Networks = append(st.Networks, Network{Name: c.name(key, n.Name, false), Options: opts})
	}
	return nil
}

// networkOptions is a compose network as created in swarm mode: overlay
// and swarm-scoped unless it says otherwise.
func networkOptions(n types.NetworkConfig) (client.NetworkCreateOptions, error) {
	var o client.NetworkCreateOptions
	o.Driver = n.Driver
	if o.Driver == "" {
		o.Driver = "overlay"
	}
	o.Scope = "swarm"
	o.Options = n.DriverOpts
	o.Internal = n.Internal
	o.Attachable = n.Attachable
	o.EnableIPv4, o.EnableIPv6 = n.EnableIPv4, n.EnableIPv6
	if n.Ipam.Driver != "" || len(n.Ipam.Config) > 0 || len(n.Ipam.Options) > 0 {
		ipam := &network.IPAM{Driver: n.Ipam.Driver, Options: n.Ipam.Options}
		for _, pool := range n.Ipam.Config {
			cfg := network.IPAMConfig{AuxAddress: map[string]netip.Addr{}}
			var err error
			if pool.Subnet != "" {
				if cfg.Subnet, err = netip.ParsePrefix(pool.Subnet); err != nil {
					return o, fmt.Errorf("ipam subnet %q: %w", pool.Subnet, err)
				}
			}
			if pool.IPRange != "" {
				if cfg.IPRange, err = netip.ParsePrefix(pool.IPRange); err != nil {
					return o, fmt.Errorf("ipam ip_range %q: %w", pool.IPRange, err)
				}
			}
			if pool.Gateway != "" {
				if cfg.Gateway, err = netip.ParseAddr(pool.Gateway); err != nil {
					return o, fmt.Errorf("ipam gateway %q: %w", pool.Gateway, err)
				}
			}
			for k, v := range pool.AuxiliaryAddresses {
				a, err := netip.ParseAddr(v)
				if err != nil {
					return o, fmt.Errorf("ipam aux_addresses %s=%q: %w", k, v, err)
				}
				cfg.AuxAddress[k] = a
			}
			if len(cfg.AuxAddress) == 0 {
				cfg.AuxAddress = nil
			}
			ipam.Config = append(ipam.Config, cfg)
		}
		o.IPAM = ipam
	}
	return o, nil
}

func (c converter) secrets(st *Stack) error {
	for _, key := range slices.Sorted(maps.Keys(c.p.Secrets)) {
		s := c.p.Secrets[key]
		if isExternal(s.External) {
			st.ExternalSecrets = append(st.ExternalSecrets, c.name(key, s.Name, true))
			continue
		}
		data, err := c.fileData("secret", key, types.FileObjectConfig(s))
		if err != nil {
			return err
		}
		spec := swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: c.name(key, s.Name, false), Labels: Labels(c.ns, s.Labels)},
			Data:        data,
		}
		if s.Driver != "" {
			spec.Driver = &swarm.Driver{Name: s.Driver, Options: s.DriverOpts}
		}
		if s.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: s.TemplateDriver}
		}
		st.Secrets = append(st.Secrets, spec)
	}
	return nil
}

func (c converter) configs(st *Stack) error {
	for _, key := range slices.Sorted(maps.Keys(c.p.Configs)) {
		s := c.p.Configs[key]
		if isExternal(s.External) {
			st.ExternalConfigs = append(st.ExternalConfigs, c.name(key, s.Name, true))
			continue
		}
		data, err := c.fileData("config", key, types.FileObjectConfig(s))
		if err != nil {
			return err
		}
		spec := swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: c.name(key, s.Name, false), Labels: Labels(c.ns, s.Labels)},
			Data:        data,
		}
		if s.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: s.TemplateDriver}
		}
		st.Configs = append(st.Configs, spec)
	}
	return nil
}

// fileData is a secret's or config's content: its file, its environment
// variable or (configs) its inline content.
func (c converter) fileData(kind, key string, f types.FileObjectConfig) ([]byte, error) {
	switch {
	case f.File != "":
		data, err := os.ReadFile(f.File)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, key, err)
		}
		return data, nil
	case f.Environment != "":
		v, ok := c.p.Environment[f.Environment]
		if !ok {
			return nil, fmt.Errorf("%s %s: environment variable %s is not set", kind, key, f.Environment)
		}
		return []byte(v), nil
	case f.Content != "":
		return []byte(f.Content), nil
	}
	return nil, fmt.Errorf("%s %s: one of file, environment or content is required unless it is external", kind, key)
}

func (c converter) service(s types.ServiceConfig, st *Stack) (swarm.ServiceSpec, error) {
	if s.Image == "" {
		return swarm.ServiceSpec{}, errors.New("no image: swarm mode runs images, it builds none (set image:)")
	}
	deploy := s.Deploy
	if deploy == nil {
		deploy = &types.DeployConfig{}
	}
	cs := &swarm.ContainerSpec{
		Image:           s.Image,
		Privileges:      &swarm.Privileges{},
		Command:         s.Entrypoint,
		Args:            s.Command,
		Hostname:        s.Hostname,
		Env:             env(s.Environment),
		Labels:          Labels(c.ns, s.Labels),
		Dir:             s.WorkingDir,
		User:            s.User,
		Groups:          s.GroupAdd,
		StopSignal:      s.StopSignal,
		TTY:             s.Tty,
		OpenStdin:       s.StdinOpen,
		ReadOnly:        s.ReadOnly,
		Init:            s.Init,
		Isolation:       container.Isolation(s.Isolation),
		Sysctls:         s.Sysctls,
		CapabilityAdd:   s.CapAdd,
		CapabilityDrop:  s.CapDrop,
		OomScoreAdj:     s.OomScoreAdj,
		Hosts:           hosts(s.ExtraHosts),
		StopGracePeriod: durationPtr(s.StopGracePeriod),
		Ulimits:         ulimits(s.Ulimits),
	}
	var err error
	if cs.DNSConfig, err = dnsConfig(s); err != nil {
		return swarm.ServiceSpec{}, err
	}
	if cs.Healthcheck, err = healthcheck(s.HealthCheck); err != nil {
		return swarm.ServiceSpec{}, err
	}
	if cs.Mounts, err = c.mounts(s.Volumes); err != nil {
		return swarm.ServiceSpec{}, err
	}
	if cs.Secrets, err = c.secretRefs(s.Secrets); err != nil {
		return swarm.ServiceSpec{}, err
	}
	if cs.Configs, err = c.configRefs(s.Configs); err != nil {
		return swarm.ServiceSpec{}, err
	}
	nets, err := c.serviceNetworks(s)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	restart, err := restartPolicy(s.Restart, deploy.RestartPolicy)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	if s.Restart != "" && deploy.RestartPolicy != nil {
		st.Unsupported = appendOnce(st.Unsupported, "restart")
	}
	mode, err := serviceMode(deploy.Mode, s)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	ports, err := ports(s.Ports)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: Scope(c.ns, s.Name), Labels: Labels(c.ns, deploy.Labels)},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			LogDriver:     logDriver(s.Logging),
			Resources:     resources(deploy.Resources),
			RestartPolicy: restart,
			Placement: &swarm.Placement{
				Constraints: deploy.Placement.Constraints,
				Preferences: preferences(deploy.Placement.Preferences),
				MaxReplicas: deploy.Placement.MaxReplicas,
			},
			Networks: nets,
		},
		EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionMode(strings.ToLower(deploy.EndpointMode)), Ports: ports},
		Mode:           mode,
		UpdateConfig:   updateConfig(deploy.UpdateConfig),
		RollbackConfig: updateConfig(deploy.RollbackConfig),
	}
	return spec, nil
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// env is the environment as KEY=VALUE, sorted; a key without a value
// stays bare (the task inherits nothing for it).
func env(m types.MappingWithEquals) []string {
	var out []string
	for k, v := range m {
		if v == nil {
			out = append(out, k)
			continue
		}
		out = append(out, k+"="+*v)
	}
	sort.Strings(out)
	return out
}

// hosts are extra_hosts in the hosts-file order swarm keeps: "IP host".
func hosts(h types.HostsList) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, ip := range h[name] {
			out = append(out, ip+" "+name)
		}
	}
	return out
}

func durationPtr(d *types.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := time.Duration(*d)
	return &v
}

func ulimits(u map[string]*types.UlimitsConfig) []*container.Ulimit {
	var out []*container.Ulimit
	for _, name := range slices.Sorted(maps.Keys(u)) {
		l := u[name]
		if l.Single != 0 {
			out = append(out, &container.Ulimit{Name: name, Soft: int64(l.Single), Hard: int64(l.Single)})
			continue
		}
		out = append(out, &container.Ulimit{Name: name, Soft: int64(l.Soft), Hard: int64(l.Hard)})
	}
	return out
}

func dnsConfig(s types.ServiceConfig) (*swarm.DNSConfig, error) {
	if len(s.DNS) == 0 && len(s.DNSSearch) == 0 && len(s.DNSOpts) == 0 {
		return nil, nil
	}
	d := &swarm.DNSConfig{Search: s.DNSSearch, Options: s.DNSOpts}
	for _, ns := range s.DNS {
		a, err := netip.ParseAddr(ns)
		if err != nil {
			return nil, fmt.Errorf("dns: %q is not an IP address", ns)
		}
		d.Nameservers = append(d.Nameservers, a)
	}
	return d, nil
}

func healthcheck(h *types.HealthCheckConfig) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		if len(h.Test) != 0 {
			return nil, errors.New("test and disable can't be set at the same time")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &container.HealthConfig{Test: h.Test}
	for _, d := range []struct {
		in  *types.Duration
		out *time.Duration
	}{{h.Interval, &hc.Interval}, {h.Timeout, &hc.Timeout}, {h.StartPeriod, &hc.StartPeriod}, {h.StartInterval, &hc.StartInterval}} {
		if d.in != nil {
			*d.out = time.Duration(*d.in)
		}
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc, nil
}

// mounts converts the service's volumes: a named volume is the stack's
// ("<stack>_<name>", labelled, with its driver) unless external, a bind
// keeps its (absolute) host path.
func (c converter) mounts(vols []types.ServiceVolumeConfig) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, v := range vols {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly, Consistency: mount.Consistency(v.Consistency)}
		switch v.Type {
		case types.VolumeTypeVolume:
			m.Type = mount.TypeVolume
			opts := &mount.VolumeOptions{}
			if v.Volume != nil {
				opts.NoCopy, opts.Subpath = v.Volume.NoCopy, v.Volume.Subpath
				opts.Labels = v.Volume.Labels
			}
			if v.Source != "" {
				top, ok := c.p.Volumes[v.Source]
				if !ok {
					return nil, fmt.Errorf("undefined volume %q", v.Source)
				}
				if isExternal(top.External) {
					m.Source = c.name(v.Source, top.Name, true)
				} else {
					m.Source = c.name(v.Source, top.Name, false)
					opts.Labels = Labels(c.ns, mergeLabels(top.Labels, opts.Labels))
					if top.Driver != "" || len(top.DriverOpts) > 0 {
						opts.DriverConfig = &mount.Driver{Name: top.Driver, Options: top.DriverOpts}
					}
				}
			}
			if opts.NoCopy || opts.Subpath != "" || len(opts.Labels) > 0 || opts.DriverConfig != nil {
				m.VolumeOptions = opts
			}
		case types.VolumeTypeBind:
			m.Type, m.Source = mount.TypeBind, v.Source
			if v.Bind != nil && v.Bind.Propagation != "" {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
			}
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
			if v.Source != "" {
				return nil, fmt.Errorf("invalid tmpfs source, source must be empty")
			}
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size), Mode: os.FileMode(v.Tmpfs.Mode)}
			}
		default:
			return nil, fmt.Errorf("volume type %q is not supported in swarm mode", v.Type)
		}
		out = append(out, m)
	}
	return out, nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// fileTarget is a secret's or config's file in the task: its target (the
// source's name by default), owned by root, mode 0444 by default.
func fileTarget(r types.FileReferenceConfig) (name, uid, gid string, mode os.FileMode) {
	name, uid, gid, mode = r.Target, r.UID, r.GID, 0o444
	if name == "" {
		name = r.Source
	}
	if uid == "" {
		uid = "0"
	}
	if gid == "" {
		gid = "0"
	}
	if r.Mode != nil {
		mode = os.FileMode(*r.Mode)
	}
	return name, uid, gid, mode
}

func (c converter) secretRefs(refs []types.ServiceSecretConfig) ([]*swarm.SecretReference, error) {
	var out []*swarm.SecretReference
	for _, r := range refs {
		top, ok := c.p.Secrets[r.Source]
		if !ok {
			return nil, fmt.Errorf("undefined secret %q", r.Source)
		}
		name, uid, gid, mode := fileTarget(types.FileReferenceConfig(r))
		// compose-go spells the default target as its path in the task;
		// swarm wants the name under /run/secrets.
		name = strings.TrimPrefix(name, "/run/secrets/")
		out = append(out, &swarm.SecretReference{
			SecretName: c.name(r.Source, top.Name, isExternal(top.External)),
			File:       &swarm.SecretReferenceFileTarget{Name: name, UID: uid, GID: gid, Mode: mode},
		})
	}
	return out, nil
}

func (c converter) configRefs(refs []types.ServiceConfigObjConfig) ([]*swarm.ConfigReference, error) {
	var out []*swarm.ConfigReference
	for _, r := range refs {
		top, ok := c.p.Configs[r.Source]
		if !ok {
			return nil, fmt.Errorf("undefined config %q", r.Source)
		}
		name, uid, gid, mode := fileTarget(types.FileReferenceConfig(r))
		out = append(out, &swarm.ConfigReference{
			ConfigName: c.name(r.Source, top.Name, isExternal(top.External)),
			File:       &swarm.ConfigReferenceFileTarget{Name: name, UID: uid, GID: gid, Mode: mode},
		})
	}
	return out, nil
}

// serviceNetworks attaches the service to its networks (the stack's
// default one when it names none), sorted by name.
func (c converter) serviceNetworks(s types.ServiceConfig) ([]swarm.NetworkAttachmentConfig, error) {
	nets := s.Networks
	if len(nets) == 0 {
		nets = map[string]*types.ServiceNetworkConfig{defaultNetwork: nil}
	}
	var out []swarm.NetworkAttachmentConfig
	for key, cfg := range nets {
		top, ok := c.p.Networks[key]
		if !ok && key != defaultNetwork {
			return nil, fmt.Errorf("undefined network %q", key)
		}
		// The service answers by its own (unscoped) name on each of its
		// networks, after its aliases, as docker attaches it.
		a := swarm.NetworkAttachmentConfig{Target: c.name(key, top.Name, isExternal(top.External))}
		if cfg != nil {
			a.Aliases, a.DriverOpts = slices.Clone(cfg.Aliases), cfg.DriverOpts
		}
		a.Aliases = append(a.Aliases, s.Name)
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out, nil
}

// restartPolicy is deploy.restart_policy, else the service's restart:
// as docker reads it.
func restartPolicy(restart string, p *types.RestartPolicy) (*swarm.RestartPolicy, error) {
	if p != nil {
		return &swarm.RestartPolicy{
			Condition:   swarm.RestartPolicyCondition(p.Condition),
			Delay:       durationPtr(p.Delay),
			MaxAttempts: p.MaxAttempts,
			Window:      durationPtr(p.Window),
		}, nil
	}
	name, count, _ := strings.Cut(restart, ":")
	switch name {
	case "", "no":
		return nil, nil
	case "always", "unless-stopped":
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}, nil
	case "on-failure":
		var n uint64
		if count != "" {
			v, err := strconv.ParseUint(count, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
			}
			n = v
		}
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &n}, nil
	}
	return nil, fmt.Errorf("unknown restart policy: %s", restart)
}

func serviceMode(mode string, s types.ServiceConfig) (swarm.ServiceMode, error) {
	var replicas *uint64
	if s.Deploy != nil && s.Deploy.Replicas != nil || s.Scale != nil {
		n := uint64(s.GetScale())
		replicas = &n
	}
	switch mode {
	case "global":
		if replicas != nil {
			return swarm.ServiceMode{}, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		return swarm.ServiceMode{Global: &swarm.GlobalService{}}, nil
	case "", "replicated":
		return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: replicas}}, nil
	case "replicated-job":
		return swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: replicas, TotalCompletions: replicas}}, nil
	case "global-job":
		if replicas != nil {
			return swarm.ServiceMode{}, errors.New("replicas can only be used with replicated or replicated-job mode")
		}
		return swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}, nil
	}
	return swarm.ServiceMode{}, fmt.Errorf("unknown mode: %s", mode)
}

func ports(in []types.ServicePortConfig) ([]swarm.PortConfig, error) {
	var out []swarm.PortConfig
	for _, p := range in {
		var published uint64
		if p.Published != "" {
			v, err := strconv.ParseUint(p.Published, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("invalid published port %q", p.Published)
			}
			published = v
		}
		mode := swarm.PortConfigPublishMode(p.Mode)
		if mode == "" {
			mode = swarm.PortConfigPublishModeIngress
		}
		out = append(out, swarm.PortConfig{
			Name:          p.Name,
			Protocol:      network.IPProtocol(cmpOr(p.Protocol, "tcp")),
			TargetPort:    p.Target,
			PublishedPort: uint32(published),
			PublishMode:   mode,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PublishedPort < out[j].PublishedPort })
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func logDriver(l *types.LoggingConfig) *swarm.Driver {
	if l == nil || l.Driver == "" && len(l.Options) == 0 {
		return nil
	}
	return &swarm.Driver{Name: l.Driver, Options: l.Options}
}

// nanoCPUs is a cpus value in billionths, exactly as written ("0.1" is
// 100000000, not float32's 100000001).
func nanoCPUs(v types.NanoCPUs) int64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return int64(f*1e9 + 0.5)
}

func resources(r types.Resources) *swarm.ResourceRequirements {
	out := &swarm.ResourceRequirements{}
	if l := r.Limits; l != nil {
		out.Limits = &swarm.Limit{NanoCPUs: nanoCPUs(l.NanoCPUs), MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
	}
	if rs := r.Reservations; rs != nil {
		res := &swarm.Resources{NanoCPUs: nanoCPUs(rs.NanoCPUs), MemoryBytes: int64(rs.MemoryBytes)}
		for _, g := range rs.GenericResources {
			if d := g.DiscreteResourceSpec; d != nil {
				res.GenericResources = append(res.GenericResources, swarm.GenericResource{
					DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: d.Kind, Value: d.Value},
				})
			}
		}
		out.Reservations = res
	}
	return out
}

func preferences(prefs []types.PlacementPreferences) []swarm.PlacementPreference {
	var out []swarm.PlacementPreference
	for _, p := range prefs {
		out = append(out, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: p.Spread}})
	}
	return out
}

func updateConfig(u *types.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	parallel := uint64(1)
	if u.Parallelism != nil {
		parallel = *u.Parallelism
	}
	return &swarm.UpdateConfig{
		Parallelism:     parallel,
		Delay:           time.Duration(u.Delay),
		FailureAction:   swarm.FailureAction(u.FailureAction),
		Monitor:         time.Duration(u.Monitor),
		MaxFailureRatio: u.MaxFailureRatio,
		Order:           swarm.UpdateOrder(u.Order),
	}
}
