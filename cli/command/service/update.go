package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"
)

// apply changes spec as the update flags fs saw say, as docker's service
// update does: a flag left out leaves its field alone, -rm runs before
// -add, and the lists it rebuilds come out sorted.
func (o *options) apply(ctx context.Context, api client.APIClient, fs *pflag.FlagSet, spec *swarmtypes.ServiceSpec) error {
	task := &spec.TaskTemplate
	if task.ContainerSpec == nil {
		task.ContainerSpec = &swarmtypes.ContainerSpec{}
	}
	cs := task.ContainerSpec
	spec.Labels = updateLabels(spec.Labels, o.labelRm.values, fs.Changed("label-add"), o.labels.values)
	cs.Labels = updateLabels(cs.Labels, o.containerLabelRm.values, fs.Changed("container-label-add"), o.containerLabels.values)
	setChanged(fs, "image", o.newImage, &cs.Image)
	setChanged(fs, "args", o.newArgs.v, &cs.Args)
	setChanged(fs, "entrypoint", o.entrypoint.v, &cs.Command)
	cs.Env = updateEnv(cs.Env, o.envRm.values, o.env.values)
	setChanged(fs, "workdir", o.workdir, &cs.Dir)
	setChanged(fs, "user", o.user, &cs.User)
	setChanged(fs, "hostname", o.hostname, &cs.Hostname)
	if fs.Changed("init") {
		v := o.init
		cs.Init = &v
	}
	mounts, err := updateMounts(cs.Mounts, o.mountRm.values, o.mounts.items)
	if err != nil {
		return err
	}
	cs.Mounts = mounts

	if anyChanged(fs, "limit-cpu", "limit-memory", "limit-pids") {
		r := resources(task)
		setChanged(fs, "limit-cpu", int64(o.limitCPU), &r.Limits.NanoCPUs)
		setChanged(fs, "limit-memory", int64(o.limitMem), &r.Limits.MemoryBytes)
		setChanged(fs, "limit-pids", o.limitPids, &r.Limits.Pids)
	}
	if anyChanged(fs, "reserve-cpu", "reserve-memory") {
		r := resources(task)
		setChanged(fs, "reserve-cpu", int64(o.reserveCPU), &r.Reservations.NanoCPUs)
		setChanged(fs, "reserve-memory", int64(o.reserveMem), &r.Reservations.MemoryBytes)
	}
	if fs.Changed("stop-grace-period") {
		v := *o.stopGrace.v
		cs.StopGracePeriod = &v
	}
	if anyChanged(fs, restartFlags...) {
		if task.RestartPolicy == nil {
			task.RestartPolicy = defaultRestartPolicy()
		}
		o.mergeRestartPolicy(fs, task.RestartPolicy)
	}
	if anyChanged(fs, "constraint-add", "constraint-rm", "placement-pref-add", "placement-pref-rm", "replicas-max-per-node") && task.Placement == nil {
		task.Placement = &swarmtypes.Placement{}
	}
	if anyChanged(fs, "constraint-add", "constraint-rm") {
		task.Placement.Constraints = updateSorted(task.Placement.Constraints, o.constraintRm.values, o.constraints.values, false)
	}
	if anyChanged(fs, "placement-pref-add", "placement-pref-rm") {
		task.Placement.Preferences = updatePrefs(task.Placement.Preferences, o.prefRm.items, o.prefs.items)
	}
	if anyChanged(fs, "network-add", "network-rm") {
		if err := o.updateNetworks(ctx, api, task); err != nil {
			return err
		}
	}
	if fs.Changed("replicas") {
		if spec.Mode.Replicated == nil {
			return errors.New("replicas can only be used with replicated mode")
		}
		spec.Mode.Replicated.Replicas = o.replicas.v
	}
	if fs.Changed("replicas-max-per-node") {
		task.Placement.MaxReplicas = o.maxReplicas // made above
	}
	if anyChanged(fs, updateFlagNames("update")...) {
		if spec.UpdateConfig == nil {
			spec.UpdateConfig = defaultUpdateConfig()
		}
		mergeUpdateConfig(fs, "update", o.update, spec.UpdateConfig)
	}
	if anyChanged(fs, updateFlagNames("rollback")...) {
		if spec.RollbackConfig == nil {
			spec.RollbackConfig = defaultUpdateConfig()
		}
		mergeUpdateConfig(fs, "rollback", o.rollback, spec.RollbackConfig)
	}
	if fs.Changed("endpoint-mode") {
		if spec.EndpointSpec == nil {
			spec.EndpointSpec = &swarmtypes.EndpointSpec{}
		}
		spec.EndpointSpec.Mode = swarmtypes.ResolutionMode(o.endpointMode)
	}
	if anyChanged(fs, "publish-add", "publish-rm") {
		if spec.EndpointSpec == nil {
			spec.EndpointSpec = &swarmtypes.EndpointSpec{}
		}
		spec.EndpointSpec.Ports = updatePorts(spec.EndpointSpec.Ports, o.publishRm.items, o.publish.items)
	}
	if anyChanged(fs, "dns-add", "dns-rm", "dns-option-add", "dns-option-rm", "dns-search-add", "dns-search-rm") {
		if cs.DNSConfig == nil {
			cs.DNSConfig = &swarmtypes.DNSConfig{}
		}
		d := cs.DNSConfig
		var servers []string
		for _, a := range d.Nameservers {
			servers = append(servers, a.String())
		}
		d.Nameservers = netipAddrs(updateSorted(servers, o.dnsRm.values, o.dns.values, true))
		d.Search = updateSorted(d.Search, o.dnsSearchRm.values, o.dnsSearch.values, true)
		d.Options = updateSorted(d.Options, o.dnsOptionRm.values, o.dnsOptions.values, true)
	}
	if anyChanged(fs, "host-add", "host-rm") {
		cs.Hosts = updateHosts(cs.Hosts, o.hostRm.values, o.hosts.values)
	}
	if o.force {
		task.ForceUpdate++
	}
	if err := o.updateHealthcheck(fs, cs); err != nil {
		return err
	}
	setChanged(fs, "tty", o.tty, &cs.TTY)
	setChanged(fs, "read-only", o.readOnly, &cs.ReadOnly)
	setChanged(fs, "stop-signal", o.stopSignal, &cs.StopSignal)

	// --secret-rm's secrets (by name) go, --secret-add's come.
	secrets, err := updateRefs(ctx, api, secretKind(), cs.Secrets, o.secretRm.values, o.secrets.items, nil)
	if err != nil {
		return err
	}
	cs.Secrets = secrets
	configs, err := o.updateConfigs(ctx, api, cs)
	if err != nil {
		return err
	}
	cs.Configs = configs
	return nil
}

// resources makes sure task has limits and reservations to set.
func resources(task *swarmtypes.TaskSpec) *swarmtypes.ResourceRequirements {
	if task.Resources == nil {
		task.Resources = &swarmtypes.ResourceRequirements{}
	}
	if task.Resources.Limits == nil {
		task.Resources.Limits = &swarmtypes.Limit{}
	}
	if task.Resources.Reservations == nil {
		task.Resources.Reservations = &swarmtypes.Resources{}
	}
	return task.Resources
}

// updateLabels removes the keys rm then sets the "k=v" add (when added).
func updateLabels(labels map[string]string, rm []string, added bool, add []string) map[string]string {
	if labels != nil {
		for _, k := range rm {
			delete(labels, k)
		}
	}
	if added {
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range kvMap(add) {
			labels[k] = v
		}
	}
	return labels
}

// updateEnv removes the variables named in rm, then sets add's: a
// variable already there keeps its place, a new one goes last.
func updateEnv(env, rm, add []string) []string {
	if len(rm) == 0 && len(add) == 0 {
		return env
	}
	drop := map[string]bool{}
	for _, k := range rm {
		drop[k] = true
	}
	out := []string{}
	for _, kv := range env {
		if !drop[envKey(kv)] {
			out = append(out, kv)
		}
	}
	for _, kv := range add {
		k := envKey(kv)
		replaced := false
		for i, cur := range out {
			if envKey(cur) == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// updateMounts adds (or replaces, by target) add's mounts and removes the
// targets rm names, ordered by source then target.
func updateMounts(mounts []mount.Mount, rm []string, add []mount.Mount) ([]mount.Mount, error) {
	if len(rm) == 0 && len(add) == 0 {
		return mounts, nil
	}
	byTarget := map[string]mount.Mount{}
	for _, m := range add {
		if _, dup := byTarget[m.Target]; dup {
			return nil, errors.New("duplicate mount target")
		}
		byTarget[m.Target] = m
	}
	for _, m := range mounts {
		if _, ok := byTarget[m.Target]; !ok {
			byTarget[m.Target] = m
		}
	}
	drop := map[string]bool{}
	for _, t := range rm {
		drop[t] = true
	}
	out := []mount.Mount{}
	for t, m := range byTarget {
		if !drop[t] {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Source == out[j].Source {
			return out[i].Target < out[j].Target
		}
		return out[i].Source < out[j].Source
	})
	return out, nil
}

// updateSorted appends add to list (dedup drops repeats), removes rm's
// values and sorts the result.
func updateSorted(list, rm, add []string, dedup bool) []string {
	all := append(append([]string{}, list...), add...)
	drop := map[string]bool{}
	for _, v := range rm {
		drop[v] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, v := range all {
		if drop[v] || (dedup && seen[v]) {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	if out == nil && !dedup {
		out = []string{}
	}
	sort.Strings(out)
	return out
}

// updatePrefs removes the spread preferences of rm and appends add's.
func updatePrefs(prefs, rm, add []swarmtypes.PlacementPreference) []swarmtypes.PlacementPreference {
	var out []swarmtypes.PlacementPreference
	for _, p := range prefs {
		removed := false
		for _, r := range rm {
			if r.Spread != nil && p.Spread != nil && r.Spread.SpreadDescriptor == p.Spread.SpreadDescriptor {
				removed = true
				break
			}
		}
		if !removed {
			out = append(out, p)
		}
	}
	return append(out, add...)
}

// portKey identifies a published port for add's de-duplication.
func portKey(p swarmtypes.PortConfig) string {
	return fmt.Sprintf("%v:%v/%s/%s", p.PublishedPort, p.TargetPort, p.Protocol, p.PublishMode)
}

// updatePorts removes the ports rm names (by target port, protocol and
// mode), then adds add's new ones, sorted.
func updatePorts(ports, rm, add []swarmtypes.PortConfig) []swarmtypes.PortConfig {
	seen := map[string]bool{}
	out := []swarmtypes.PortConfig{}
	for _, p := range ports {
		k := portKey(p)
		if seen[k] {
			continue
		}
		seen[k] = true
		removed := false
		for _, r := range rm {
			if sameOrDefault(string(p.Protocol), string(r.Protocol), "tcp") && p.TargetPort == r.TargetPort &&
				sameOrDefault(string(p.PublishMode), string(r.PublishMode), "ingress") {
				removed = true
				break
			}
		}
		if !removed {
			out = append(out, p)
		}
	}
	for _, p := range add {
		if !seen[portKey(p)] {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return portKey(out[i]) < portKey(out[j]) })
	return out
}

// sameOrDefault compares two settings, "" standing for def.
func sameOrDefault(a, b, def string) bool {
	if a == "" {
		a = def
	}
	if b == "" {
		b = def
	}
	return a == b
}

// updateHosts removes the "name[:ip]" mappings of rm from the "ip name…"
// lines of hosts and adds add's "name:ip" ones.
func updateHosts(hosts, rm, add []string) []string {
	type mapping struct{ ip, host string }
	var drop []mapping
	for _, r := range rm {
		host, ip, _ := strings.Cut(r, ":")
		drop = append(drop, mapping{ip: ip, host: host})
	}
	var out []string
	for _, line := range hosts {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		ip, names := parts[0], parts[1:]
		var kept []string
		for _, n := range names {
			removed := false
			for _, d := range drop {
				if (d.ip == "" || d.ip == ip) && d.host == n {
					removed = true
					break
				}
			}
			if !removed {
				kept = append(kept, n)
			}
		}
		if len(kept) > 0 {
			out = append(out, ip+" "+strings.Join(kept, " "))
		}
	}
	out = append(out, swarmHosts(add)...)
	var uniq []string
	seen := map[string]bool{}
	for _, h := range out {
		if !seen[h] {
			seen[h] = true
			uniq = append(uniq, h)
		}
	}
	return uniq
}

// updateNetworks removes --network-rm's networks and attaches
// --network-add's, refusing one the service is already on.
func (o *options) updateNetworks(ctx context.Context, api client.APIClient, task *swarmtypes.TaskSpec) error {
	dropIDs := map[string]bool{}
	for _, name := range o.networkRm.values {
		res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{Scope: "swarm"})
		if err != nil {
			return err
		}
		dropIDs[res.Network.ID] = true
	}
	have := map[string]bool{}
	var nets []swarmtypes.NetworkAttachmentConfig
	for _, n := range task.Networks {
		if dropIDs[n.Target] {
			continue
		}
		nets = append(nets, n)
		have[n.Target] = true
	}
	for _, n := range o.networks.items {
		res, err := api.NetworkInspect(ctx, n.Target, client.NetworkInspectOptions{Scope: "swarm"})
		if err != nil {
			return err
		}
		if have[res.Network.ID] {
			return fmt.Errorf("service is already attached to network %s", n.Target)
		}
		n.Target = res.Network.ID
		nets = append(nets, n)
		have[n.Target] = true
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Target < nets[j].Target })
	task.Networks = nets
	return nil
}

var healthFlags = []string{"health-cmd", "health-interval", "health-retries", "health-timeout", "health-start-period"}

// updateHealthcheck applies --health-* and --no-healthcheck to the
// service's healthcheck.
func (o *options) updateHealthcheck(fs *pflag.FlagSet, cs *swarmtypes.ContainerSpec) error {
	if !anyChanged(fs, append(healthFlags, "no-healthcheck")...) {
		return nil
	}
	if cs.Healthcheck == nil {
		cs.Healthcheck = &container.HealthConfig{}
	}
	if o.health.none {
		if anyChanged(fs, healthFlags...) {
			return errors.New("--no-healthcheck conflicts with --health-* options")
		}
		cs.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		return nil
	}
	hc := cs.Healthcheck
	if len(hc.Test) > 0 && hc.Test[0] == "NONE" {
		hc.Test = nil
	}
	if fs.Changed("health-interval") {
		hc.Interval = *o.health.interval.v
	}
	if fs.Changed("health-timeout") {
		hc.Timeout = *o.health.timeout.v
	}
	if fs.Changed("health-start-period") {
		hc.StartPeriod = *o.health.startTime.v
	}
	setChanged(fs, "health-retries", o.health.retries, &hc.Retries)
	if fs.Changed("health-cmd") {
		if o.health.cmd != "" {
			hc.Test = []string{"CMD-SHELL", o.health.cmd}
		} else {
			hc.Test = nil
		}
	}
	return nil
}

// updateConfigs removes --config-rm's configs (by name) and adds
// --config-add's; a runtime config stays while the credential spec
// names it.
func (o *options) updateConfigs(ctx context.Context, api client.APIClient, cs *swarmtypes.ContainerSpec) ([]*swarmtypes.ConfigReference, error) {
	credSpec := ""
	if cs.Privileges != nil && cs.Privileges.CredentialSpec != nil {
		credSpec = cs.Privileges.CredentialSpec.Config
	}
	return updateRefs(ctx, api, configKind(), cs.Configs, o.configRm.values, o.configs.items, func(r *swarmtypes.ConfigReference) (bool, bool) {
		if r.Runtime == nil {
			return false, false
		}
		return credSpec != "" && (r.ConfigID == credSpec || r.ConfigName == credSpec), true
	})
}
