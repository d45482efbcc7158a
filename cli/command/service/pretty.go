package service

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"
	swarmtypes "github.com/moby/moby/api/types/swarm"
)

// Pretty is `service inspect --pretty`: the service in docker's
// human-readable layout (literal tabs, no tab writer), starting with an
// empty line and ending with one. networks maps network IDs to names;
// now is what "Started: … ago" counts from.
func Pretty(s swarmtypes.Service, networks map[string]string, now time.Time) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	spec := s.Spec
	task := spec.TaskTemplate
	cs := task.ContainerSpec
	if cs == nil {
		cs = &swarmtypes.ContainerSpec{}
	}

	w("\nID:\t\t%s\nName:\t\t%s", s.ID, spec.Name)
	if len(spec.Labels) > 0 {
		w("\nLabels:")
		for _, k := range slices.Sorted(maps.Keys(spec.Labels)) {
			w("\n %s", kvText(k, spec.Labels[k], "="))
		}
	}
	w("\nService Mode:")
	switch {
	case spec.Mode.Global != nil:
		w("\tGlobal")
	case spec.Mode.Replicated != nil:
		w("\tReplicated")
		if r := spec.Mode.Replicated.Replicas; r != nil {
			w("\n Replicas:\t%d", *r)
		}
	}
	if u := s.UpdateStatus; u != nil && u.State != "" {
		w("\nUpdateStatus:\n State:\t\t%s", u.State)
		if u.StartedAt != nil {
			w("\n Started:\t%s ago", units.HumanDuration(now.Sub(*u.StartedAt)))
		}
		if u.State == swarmtypes.UpdateStateCompleted && u.CompletedAt != nil {
			w("\n Completed:\t%s ago", units.HumanDuration(now.Sub(*u.CompletedAt)))
		}
		w("\n Message:\t%s", u.Message)
	}
	w("\nPlacement:")
	if p := task.Placement; p != nil {
		if len(p.Constraints) > 0 {
			w("\n Constraints:\t%v", p.Constraints)
		}
		var prefs []string
		for _, pref := range p.Preferences {
			if pref.Spread != nil {
				prefs = append(prefs, "spread="+pref.Spread.SpreadDescriptor)
			}
		}
		if len(prefs) > 0 {
			w("\n Preferences:   %v", prefs)
		}
		if p.MaxReplicas > 0 {
			w("\n Max Replicas Per Node:   %d", p.MaxReplicas)
		}
	}
	writeUpdateConfig(&b, "UpdateConfig", "Update order:      ", spec.UpdateConfig)
	writeUpdateConfig(&b, "RollbackConfig", "Rollback order:    ", spec.RollbackConfig)

	w("\nContainerSpec:\n Image:\t\t%s", cs.Image)
	if len(cs.Args) > 0 {
		w("\n Args:\t\t%s", wordsWithSpace(cs.Args))
	}
	if len(cs.Env) > 0 {
		w("\n Env:\t\t%s", wordsWithSpace(cs.Env))
	}
	if cs.Dir != "" {
		w("\n Dir:\t\t%s", cs.Dir)
	}
	if cs.Init != nil {
		w("\n Init:\t\t%t", *cs.Init)
	}
	if cs.User != "" {
		w("\n User: %s", cs.User)
	}
	if len(cs.CapabilityAdd) > 0 || len(cs.CapabilityDrop) > 0 {
		w("\nCapabilities:")
		if len(cs.CapabilityAdd) > 0 {
			w("\n Add: %s", strings.Join(cs.CapabilityAdd, ", "))
		}
		if len(cs.CapabilityDrop) > 0 {
			w("\n Drop: %s", strings.Join(cs.CapabilityDrop, ", "))
		}
	}
	if len(cs.Sysctls) > 0 {
		w("\nSysCtls:")
		for _, k := range slices.Sorted(maps.Keys(cs.Sysctls)) {
			w("\n %s", kvText(k, cs.Sysctls[k], ": "))
		}
	}
	if len(cs.Ulimits) > 0 {
		limits := map[string]string{}
		for _, u := range cs.Ulimits {
			limits[u.Name] = fmt.Sprintf("%d:%d", u.Soft, u.Hard)
		}
		w("\nUlimits:")
		for _, k := range slices.Sorted(maps.Keys(limits)) {
			w("\n %s: %s", k, limits[k])
		}
	}
	if len(cs.Mounts) > 0 {
		w("\nMounts:")
	}
	for _, m := range cs.Mounts {
		w("\n Target:\t%s\n  Source:\t%s\n  ReadOnly:\t%t\n  Type:\t\t%s", m.Target, m.Source, m.ReadOnly, m.Type)
	}
	prettyRefs(w, "Configs", configKind(), cs.Configs)
	prettyRefs(w, "Secrets", secretKind(), cs.Secrets)
	if ld := task.LogDriver; ld != nil {
		w("\nLog Driver:")
		if ld.Name != "" {
			w("\n Name:\t\t%s", ld.Name)
		}
		if len(ld.Options) > 0 {
			w("\n LogOpts:")
			for _, k := range slices.Sorted(maps.Keys(ld.Options)) {
				w("\n  %s", kvText(k, ld.Options[k], ":       "))
			}
		}
		w("\n")
	}
	var pids int64
	if r := task.Resources; r != nil {
		w("\nResources:")
		if res := r.Reservations; res != nil && (res.NanoCPUs > 0 || res.MemoryBytes > 0) {
			w("\n Reservations:")
			if res.NanoCPUs > 0 {
				w("\n  CPU:\t\t%v", float64(res.NanoCPUs)/1e9)
			}
			if res.MemoryBytes != 0 {
				w("\n  Memory:\t%s", units.BytesSize(float64(res.MemoryBytes)))
			}
		}
		if l := r.Limits; l != nil {
			pids = l.Pids
			if l.NanoCPUs > 0 || l.MemoryBytes > 0 || l.Pids > 0 {
				w("\n Limits:")
				if l.NanoCPUs > 0 {
					w("\n  CPU:\t\t%v", float64(l.NanoCPUs)/1e9)
				}
				if l.MemoryBytes != 0 {
					w("\n  Memory:\t%s", units.BytesSize(float64(l.MemoryBytes)))
				}
			}
		}
	}
	if pids > 0 {
		w("\n  PIDs:\t\t%d", pids)
	}
	if len(task.Networks) > 0 {
		w("\nNetworks:")
		for _, n := range task.Networks {
			name, ok := networks[n.Target]
			if !ok {
				name = n.Target
			}
			w(" %s", name)
		}
		w(" ")
	}
	mode := ""
	if spec.EndpointSpec != nil {
		mode = string(spec.EndpointSpec.Mode)
	}
	w("\nEndpoint Mode:\t%s", mode)
	if len(s.Endpoint.Ports) > 0 {
		w("\nPorts:")
		for _, p := range s.Endpoint.Ports {
			w("\n PublishedPort = %d\n  Protocol = %s\n  TargetPort = %d\n  PublishMode = %s", p.PublishedPort, p.Protocol, p.TargetPort, p.PublishMode)
		}
		w(" ")
	}
	if hc := cs.Healthcheck; hc != nil {
		w("\n Healthcheck:\n  Interval = %s\n  Retries = %d\n  StartPeriod =\t%s\n  Timeout =\t%s", hc.Interval, hc.Retries, hc.StartPeriod, hc.Timeout)
		if len(hc.Test) > 0 {
			w("\n  Tests:")
			for _, t := range hc.Test {
				w("\n\t Test = %s", t)
			}
			w(" ")
		}
	}
	w("\n\n")
	return b.String()
}

// writeUpdateConfig writes an UpdateConfig or RollbackConfig section.
func writeUpdateConfig(b *strings.Builder, title, orderLabel string, c *swarmtypes.UpdateConfig) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n%s:\n Parallelism:\t%d", title, c.Parallelism)
	if c.Delay > 0 {
		fmt.Fprintf(b, "\n Delay:\t\t%s", c.Delay)
	}
	fmt.Fprintf(b, "\n On failure:\t%s", c.FailureAction)
	if c.Monitor > 0 {
		fmt.Fprintf(b, "\n Monitoring Period: %s", c.Monitor)
	}
	fmt.Fprintf(b, "\n Max failure ratio: %v\n %s%s", c.MaxFailureRatio, orderLabel, c.Order)
}

// kvText is "k<sep>v", or "k" when v is empty.
func kvText(k, v, sep string) string {
	if v == "" {
		return k
	}
	return k + sep + v
}

// wordsWithSpace is each word followed by a space, as docker lists Args
// and Env.
func wordsWithSpace(words []string) string {
	var b strings.Builder
	for _, w := range words {
		b.WriteString(w + " ")
	}
	return b.String()
}
