package convert

import (
	"fmt"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// TaskSpecFromGRPC converts a task spec (a task's, or a service's task
// template). Runtime is set only for network-attachment tasks, as in
// dockerd; ServiceSpecFromGRPC sets it for services. The container's
// PidsLimit shows as Resources.Limits.Pids.
func TaskSpecFromGRPC(ts swarmapi.TaskSpec) (swarm.TaskSpec, error) {
	out := swarm.TaskSpec{
		Resources:     resourcesFromGRPC(&ts),
		RestartPolicy: restartPolicyFromGRPC(ts.Restart),
		Placement:     placementFromGRPC(ts.Placement),
		Networks:      networkAttachmentConfigsFromGRPC(ts.Networks),
		LogDriver:     driverFromGRPC(ts.LogDriver),
		ForceUpdate:   ts.ForceUpdate,
	}
	switch rt := ts.Runtime.(type) {
	case *swarmapi.TaskSpec_Container:
		out.ContainerSpec = ContainerSpecFromGRPC(rt.Container)
	case *swarmapi.TaskSpec_Generic:
		if rt.Generic != nil && rt.Generic.Kind == string(swarm.RuntimePlugin) {
			var payload []byte
			if rt.Generic.Payload != nil {
				payload = rt.Generic.Payload.Value
			}
			p, err := unmarshalPluginSpec(payload)
			if err != nil {
				return out, fmt.Errorf("error unmarshalling plugin spec: %w", err)
			}
			out.PluginSpec = p
		}
	case *swarmapi.TaskSpec_Attachment:
		if rt.Attachment != nil {
			out.NetworkAttachmentSpec = &swarm.NetworkAttachmentSpec{ContainerID: rt.Attachment.ContainerID}
		}
		out.Runtime = swarm.RuntimeNetworkAttachment
	}
	return out, nil
}

func networkAttachmentConfigsFromGRPC(ns []*swarmapi.NetworkAttachmentConfig) []swarm.NetworkAttachmentConfig {
	var out []swarm.NetworkAttachmentConfig
	for _, n := range ns {
		if n != nil {
			out = append(out, swarm.NetworkAttachmentConfig{Target: n.Target, Aliases: n.Aliases, DriverOpts: n.DriverAttachmentOpts})
		}
	}
	return out
}

func networkAttachmentConfigsToGRPC(ns []swarm.NetworkAttachmentConfig) []*swarmapi.NetworkAttachmentConfig {
	var out []*swarmapi.NetworkAttachmentConfig
	for _, n := range ns {
		out = append(out, &swarmapi.NetworkAttachmentConfig{Target: n.Target, Aliases: n.Aliases, DriverAttachmentOpts: n.DriverOpts})
	}
	return out
}

// resourcesFromGRPC reads the task spec's resources and the container's
// PidsLimit (SwarmKit keeps it on the container spec).
func resourcesFromGRPC(ts *swarmapi.TaskSpec) *swarm.ResourceRequirements {
	var out *swarm.ResourceRequirements
	if c := ts.GetContainer(); c != nil && c.PidsLimit != 0 {
		out = &swarm.ResourceRequirements{Limits: &swarm.Limit{Pids: c.PidsLimit}}
	}
	r := ts.Resources
	if r == nil {
		return out
	}
	if out == nil {
		out = &swarm.ResourceRequirements{}
	}
	if r.Limits != nil {
		if out.Limits == nil {
			out.Limits = &swarm.Limit{}
		}
		out.Limits.NanoCPUs = r.Limits.NanoCPUs
		out.Limits.MemoryBytes = r.Limits.MemoryBytes
	}
	if r.Reservations != nil {
		out.Reservations = &swarm.Resources{
			NanoCPUs:         r.Reservations.NanoCPUs,
			MemoryBytes:      r.Reservations.MemoryBytes,
			GenericResources: GenericResourcesFromGRPC(r.Reservations.Generic),
		}
	}
	if r.SwapBytes != nil {
		v := r.SwapBytes.Value
		out.SwapBytes = &v
	}
	if r.MemorySwappiness != nil {
		v := r.MemorySwappiness.Value
		out.MemorySwappiness = &v
	}
	return out
}

// resourcesToGRPC converts resources (Limits.Pids goes on the container
// spec, see ServiceSpecToGRPC). A swap limit needs a memory limit, as in
// dockerd.
func resourcesToGRPC(r *swarm.ResourceRequirements) (*swarmapi.ResourceRequirements, error) {
	if r == nil {
		return nil, nil
	}
	out := &swarmapi.ResourceRequirements{}
	if r.Limits != nil {
		out.Limits = &swarmapi.Resources{NanoCPUs: r.Limits.NanoCPUs, MemoryBytes: r.Limits.MemoryBytes}
	}
	if r.Reservations != nil {
		out.Reservations = &swarmapi.Resources{
			NanoCPUs:    r.Reservations.NanoCPUs,
			MemoryBytes: r.Reservations.MemoryBytes,
			Generic:     GenericResourcesToGRPC(r.Reservations.GenericResources),
		}
	}
	if r.SwapBytes != nil {
		if out.Limits == nil || out.Limits.MemoryBytes == 0 {
			return nil, invalidArg("memory swap provided, but no memory-limit was set")
		}
		out.SwapBytes = &gogotypes.Int64Value{Value: *r.SwapBytes}
	}
	if r.MemorySwappiness != nil {
		out.MemorySwappiness = &gogotypes.Int64Value{Value: *r.MemorySwappiness}
	}
	return out, nil
}

// restartPolicyFromGRPC always sets MaxAttempts (0 is unlimited), as
// dockerd shows it.
func restartPolicyFromGRPC(p *swarmapi.RestartPolicy) *swarm.RestartPolicy {
	if p == nil {
		return nil
	}
	out := &swarm.RestartPolicy{
		Delay:  durationPtrFromGRPC(p.Delay),
		Window: durationPtrFromGRPC(p.Window),
	}
	switch p.Condition {
	case swarmapi.RestartOnNone:
		out.Condition = swarm.RestartPolicyConditionNone
	case swarmapi.RestartOnFailure:
		out.Condition = swarm.RestartPolicyConditionOnFailure
	default:
		out.Condition = swarm.RestartPolicyConditionAny
	}
	attempts := p.MaxAttempts
	out.MaxAttempts = &attempts
	return out
}

// restartPolicyToGRPC converts the optional restart policy; an empty
// condition is "any", an unknown one `invalid RestartCondition: "x"`.
func restartPolicyToGRPC(p *swarm.RestartPolicy) (*swarmapi.RestartPolicy, error) {
	if p == nil {
		return nil, nil
	}
	out := &swarmapi.RestartPolicy{}
	switch p.Condition {
	case swarm.RestartPolicyConditionNone:
		out.Condition = swarmapi.RestartOnNone
	case swarm.RestartPolicyConditionOnFailure:
		out.Condition = swarmapi.RestartOnFailure
	case swarm.RestartPolicyConditionAny, "":
		out.Condition = swarmapi.RestartOnAny
	default:
		return nil, invalidArg("invalid RestartCondition: %q", p.Condition)
	}
	if p.Delay != nil {
		out.Delay = gogotypes.DurationProto(*p.Delay)
	}
	if p.Window != nil {
		out.Window = gogotypes.DurationProto(*p.Window)
	}
	if p.MaxAttempts != nil {
		out.MaxAttempts = *p.MaxAttempts
	}
	return out, nil
}

func placementFromGRPC(p *swarmapi.Placement) *swarm.Placement {
	if p == nil {
		return nil
	}
	out := &swarm.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxReplicas}
	for _, pref := range p.Preferences {
		if s := pref.GetSpread(); s != nil {
			out.Preferences = append(out.Preferences, swarm.PlacementPreference{
				Spread: &swarm.SpreadOver{SpreadDescriptor: s.SpreadDescriptor},
			})
		}
	}
	for _, pl := range p.Platforms {
		if pl != nil {
			out.Platforms = append(out.Platforms, swarm.Platform{Architecture: pl.Architecture, OS: pl.OS})
		}
	}
	return out
}

// placementToGRPC converts the optional placement; preferences other than
// spread are dropped (there are none other).
func placementToGRPC(p *swarm.Placement) *swarmapi.Placement {
	if p == nil {
		return nil
	}
	out := &swarmapi.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxReplicas}
	for _, pref := range p.Preferences {
		if pref.Spread != nil {
			out.Preferences = append(out.Preferences, &swarmapi.PlacementPreference{
				Preference: &swarmapi.PlacementPreference_Spread{Spread: &swarmapi.SpreadOver{SpreadDescriptor: pref.Spread.SpreadDescriptor}},
			})
		}
	}
	for _, pl := range p.Platforms {
		out.Platforms = append(out.Platforms, &swarmapi.Platform{Architecture: pl.Architecture, OS: pl.OS})
	}
	return out
}
