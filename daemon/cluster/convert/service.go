package convert

import (
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/daemon/container"
)

var (
	// ErrUnsupportedRuntime is dockerd's error for a task template whose
	// Runtime is neither "container" nor "plugin".
	ErrUnsupportedRuntime = errdefs.ErrInvalidArgument.WithMessage("unsupported runtime")
	// ErrMismatchedRuntime is dockerd's error for a task template whose
	// Runtime has no matching ContainerSpec or PluginSpec.
	ErrMismatchedRuntime = errdefs.ErrInvalidArgument.WithMessage("mismatched Runtime and *Spec fields")
)

// ServiceSpecToGRPC converts the spec of POST /services/create and
// /services/{id}/update, with dockerd's defaults and errors:
//
//   - no name: a random "adjective_surname" one;
//   - no mode: replicated with 1 replica (also when Replicated has no
//     Replicas); a replicated job without MaxConcurrent runs 1 at a time
//     and without TotalCompletions completes MaxConcurrent tasks; more than
//     one mode is "must specify only one service mode";
//   - Runtime "" is "container"; a container runtime without ContainerSpec
//     (or a plugin one without PluginSpec) is ErrMismatchedRuntime, any
//     other runtime ErrUnsupportedRuntime; a plugin service is always
//     global and refuses replicated mode;
//   - Resources.Limits.Pids becomes the container's PidsLimit;
//   - restart condition, update/rollback failure action and order,
//     endpoint mode, mount types and propagations, credential specs and
//     config targets are checked, in Docker's words;
//   - port protocols and publish modes are matched case-insensitively and,
//     as in dockerd, unknown ones are tcp and ingress.
func ServiceSpecToGRPC(s swarm.ServiceSpec) (swarmapi.ServiceSpec, error) {
	name := s.Name
	if name == "" {
		name = container.GenerateName(func(string) bool { return false })
	}
	resources, err := resourcesToGRPC(s.TaskTemplate.Resources)
	if err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	spec := swarmapi.ServiceSpec{
		Annotations: swarmapi.Annotations{Name: name, Labels: s.Labels},
		Task: swarmapi.TaskSpec{
			Resources:   resources,
			Placement:   placementToGRPC(s.TaskTemplate.Placement),
			LogDriver:   driverToGRPC(s.TaskTemplate.LogDriver),
			Networks:    networkAttachmentConfigsToGRPC(s.TaskTemplate.Networks),
			ForceUpdate: s.TaskTemplate.ForceUpdate,
		},
	}

	switch s.TaskTemplate.Runtime {
	case swarm.RuntimeContainer, "":
		if s.TaskTemplate.ContainerSpec == nil {
			return swarmapi.ServiceSpec{}, ErrMismatchedRuntime
		}
		c, err := containerSpecToGRPC(s.TaskTemplate.ContainerSpec)
		if err != nil {
			return swarmapi.ServiceSpec{}, err
		}
		if r := s.TaskTemplate.Resources; r != nil && r.Limits != nil {
			c.PidsLimit = r.Limits.Pids
		}
		spec.Task.Runtime = &swarmapi.TaskSpec_Container{Container: c}
	case swarm.RuntimePlugin:
		if s.TaskTemplate.PluginSpec == nil {
			return swarmapi.ServiceSpec{}, ErrMismatchedRuntime
		}
		if s.Mode.Replicated != nil {
			return swarmapi.ServiceSpec{}, invalidArg("plugins must not use replicated mode")
		}
		s.Mode.Global = &swarm.GlobalService{}
		spec.Task.Runtime = &swarmapi.TaskSpec_Generic{Generic: &swarmapi.GenericRuntimeSpec{
			Kind: string(swarm.RuntimePlugin),
			Payload: &gogotypes.Any{
				TypeUrl: string(swarm.RuntimeURLPlugin),
				Value:   marshalPluginSpec(s.TaskTemplate.PluginSpec),
			},
		}}
	default:
		return swarmapi.ServiceSpec{}, ErrUnsupportedRuntime
	}

	if spec.Task.Restart, err = restartPolicyToGRPC(s.TaskTemplate.RestartPolicy); err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	if spec.Update, err = updateConfigToGRPC(s.UpdateConfig); err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	if spec.Rollback, err = updateConfigToGRPC(s.RollbackConfig); err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	if spec.Endpoint, err = endpointSpecToGRPC(s.EndpointSpec); err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	if err := modeToGRPC(s.Mode, &spec); err != nil {
		return swarmapi.ServiceSpec{}, err
	}
	return spec, nil
}

// modeToGRPC sets spec's mode from m (see ServiceSpecToGRPC).
func modeToGRPC(m swarm.ServiceMode, spec *swarmapi.ServiceSpec) error {
	n := 0
	for _, set := range []bool{m.Replicated != nil, m.Global != nil, m.ReplicatedJob != nil, m.GlobalJob != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return invalidArg("must specify only one service mode")
	}
	switch {
	case m.Global != nil:
		spec.Mode = &swarmapi.ServiceSpec_Global{Global: &swarmapi.GlobalService{}}
	case m.GlobalJob != nil:
		spec.Mode = &swarmapi.ServiceSpec_GlobalJob{GlobalJob: &swarmapi.GlobalJob{}}
	case m.ReplicatedJob != nil:
		job := &swarmapi.ReplicatedJob{MaxConcurrent: 1}
		if m.ReplicatedJob.MaxConcurrent != nil {
			job.MaxConcurrent = *m.ReplicatedJob.MaxConcurrent
		}
		job.TotalCompletions = job.MaxConcurrent
		if m.ReplicatedJob.TotalCompletions != nil {
			job.TotalCompletions = *m.ReplicatedJob.TotalCompletions
		}
		spec.Mode = &swarmapi.ServiceSpec_ReplicatedJob{ReplicatedJob: job}
	default:
		replicas := uint64(1)
		if m.Replicated != nil && m.Replicated.Replicas != nil {
			replicas = *m.Replicated.Replicas
		}
		spec.Mode = &swarmapi.ServiceSpec_Replicated{Replicated: &swarmapi.ReplicatedService{Replicas: replicas}}
	}
	return nil
}

// ServiceSpecFromGRPC converts a service spec (a service's current or
// previous one); nil is nil. Runtime is always set ("container" or
// "plugin"); the deprecated ServiceSpec.Networks shows as
// TaskTemplate.Networks when the task template has none, as dockerd does
// for services created through API < 1.44. A spec whose runtime is neither
// a container nor a plugin fails in dockerd's words.
func ServiceSpecFromGRPC(spec *swarmapi.ServiceSpec) (*swarm.ServiceSpec, error) {
	if spec == nil {
		return nil, nil
	}
	task, err := TaskSpecFromGRPC(spec.Task)
	if err != nil {
		return nil, err
	}
	if len(task.Networks) == 0 {
		task.Networks = networkAttachmentConfigsFromGRPC(spec.Networks) //nolint:staticcheck // the deprecated field is read on purpose
	}
	switch rt := spec.Task.Runtime.(type) {
	case *swarmapi.TaskSpec_Container:
		task.Runtime = swarm.RuntimeContainer
	case *swarmapi.TaskSpec_Generic:
		if rt.Generic == nil || rt.Generic.Kind != string(swarm.RuntimePlugin) {
			typeURL := ""
			if rt.Generic != nil && rt.Generic.Payload != nil {
				typeURL = rt.Generic.Payload.TypeUrl
			}
			return nil, fmt.Errorf("unknown task runtime type: %s", typeURL)
		}
		task.Runtime = swarm.RuntimePlugin
	default:
		return nil, fmt.Errorf("error creating service; unsupported runtime %T", rt)
	}
	out := &swarm.ServiceSpec{
		Annotations:    annotationsFromGRPC(spec.Annotations),
		TaskTemplate:   task,
		UpdateConfig:   updateConfigFromGRPC(spec.Update),
		RollbackConfig: updateConfigFromGRPC(spec.Rollback),
		EndpointSpec:   endpointSpecFromGRPC(spec.Endpoint),
	}
	switch m := spec.Mode.(type) {
	case *swarmapi.ServiceSpec_Replicated:
		var replicas uint64
		if m.Replicated != nil {
			replicas = m.Replicated.Replicas
		}
		out.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	case *swarmapi.ServiceSpec_Global:
		out.Mode.Global = &swarm.GlobalService{}
	case *swarmapi.ServiceSpec_ReplicatedJob:
		var maxConcurrent, total uint64
		if m.ReplicatedJob != nil {
			maxConcurrent, total = m.ReplicatedJob.MaxConcurrent, m.ReplicatedJob.TotalCompletions
		}
		out.Mode.ReplicatedJob = &swarm.ReplicatedJob{MaxConcurrent: &maxConcurrent, TotalCompletions: &total}
	case *swarmapi.ServiceSpec_GlobalJob:
		out.Mode.GlobalJob = &swarm.GlobalJob{}
	}
	return out, nil
}

// ServiceFromGRPC converts a SwarmKit service to the Engine API's (GET
// /services). ServiceStatus is left to the caller (it needs the task
// counts). UpdateStatus times are set only when SwarmKit has them.
func ServiceFromGRPC(s *swarmapi.Service) (swarm.Service, error) {
	if s == nil {
		return swarm.Service{}, nil
	}
	spec, err := ServiceSpecFromGRPC(&s.Spec)
	if err != nil {
		return swarm.Service{}, err
	}
	prev, err := ServiceSpecFromGRPC(s.PreviousSpec)
	if err != nil {
		return swarm.Service{}, err
	}
	out := swarm.Service{
		ID:           s.ID,
		Meta:         metaFromGRPC(s.Meta),
		Spec:         *spec,
		PreviousSpec: prev,
		Endpoint:     endpointFromGRPC(s.Endpoint),
	}
	if u := s.UpdateStatus; u != nil {
		out.UpdateStatus = &swarm.UpdateStatus{
			State:       updateStateFromGRPC(u.State),
			StartedAt:   optionalTime(u.StartedAt),
			CompletedAt: optionalTime(u.CompletedAt),
			Message:     u.Message,
		}
	}
	if j := s.JobStatus; j != nil {
		out.JobStatus = &swarm.JobStatus{
			JobIteration:  swarm.Version{Index: j.JobIteration.Index},
			LastExecution: timeFromGRPC(j.LastExecution),
		}
	}
	return out, nil
}

// optionalTime is nil for an absent, zero or epoch timestamp.
func optionalTime(ts *gogotypes.Timestamp) *time.Time {
	t := timeFromGRPC(ts)
	if t.IsZero() || t.Unix() == 0 {
		return nil
	}
	return &t
}

func updateStateFromGRPC(s swarmapi.UpdateStatus_UpdateState) swarm.UpdateState {
	switch s {
	case swarmapi.UpdateStatus_UPDATING:
		return swarm.UpdateStateUpdating
	case swarmapi.UpdateStatus_PAUSED:
		return swarm.UpdateStatePaused
	case swarmapi.UpdateStatus_COMPLETED:
		return swarm.UpdateStateCompleted
	case swarmapi.UpdateStatus_ROLLBACK_STARTED:
		return swarm.UpdateStateRollbackStarted
	case swarmapi.UpdateStatus_ROLLBACK_PAUSED:
		return swarm.UpdateStateRollbackPaused
	case swarmapi.UpdateStatus_ROLLBACK_COMPLETED:
		return swarm.UpdateStateRollbackCompleted
	default:
		return ""
	}
}

// updateConfigToGRPC converts an update or rollback config; empty failure
// action and order are pause and stop-first.
func updateConfigToGRPC(u *swarm.UpdateConfig) (*swarmapi.UpdateConfig, error) {
	if u == nil {
		return nil, nil
	}
	out := &swarmapi.UpdateConfig{
		Parallelism:     u.Parallelism,
		Delay:           u.Delay,
		MaxFailureRatio: u.MaxFailureRatio,
	}
	switch u.FailureAction {
	case swarm.UpdateFailureActionPause, "":
		out.FailureAction = swarmapi.UpdateConfig_PAUSE
	case swarm.UpdateFailureActionContinue:
		out.FailureAction = swarmapi.UpdateConfig_CONTINUE
	case swarm.UpdateFailureActionRollback:
		out.FailureAction = swarmapi.UpdateConfig_ROLLBACK
	default:
		return nil, invalidArg("unrecognized update failure action %s", u.FailureAction)
	}
	if u.Monitor != 0 {
		out.Monitor = gogotypes.DurationProto(u.Monitor)
	}
	switch u.Order {
	case swarm.UpdateOrderStopFirst, "":
		out.Order = swarmapi.UpdateConfig_STOP_FIRST
	case swarm.UpdateOrderStartFirst:
		out.Order = swarmapi.UpdateConfig_START_FIRST
	default:
		return nil, invalidArg("unrecognized update order %s", u.Order)
	}
	return out, nil
}

func updateConfigFromGRPC(u *swarmapi.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	out := &swarm.UpdateConfig{
		Parallelism:     u.Parallelism,
		Delay:           u.Delay,
		Monitor:         durationFromGRPC(u.Monitor),
		MaxFailureRatio: u.MaxFailureRatio,
	}
	switch u.FailureAction {
	case swarmapi.UpdateConfig_PAUSE:
		out.FailureAction = swarm.UpdateFailureActionPause
	case swarmapi.UpdateConfig_CONTINUE:
		out.FailureAction = swarm.UpdateFailureActionContinue
	case swarmapi.UpdateConfig_ROLLBACK:
		out.FailureAction = swarm.UpdateFailureActionRollback
	}
	switch u.Order {
	case swarmapi.UpdateConfig_STOP_FIRST:
		out.Order = swarm.UpdateOrderStopFirst
	case swarmapi.UpdateConfig_START_FIRST:
		out.Order = swarm.UpdateOrderStartFirst
	}
	return out
}

// endpointSpecToGRPC converts the optional endpoint spec; the mode is ""
// (vip), "vip" or "dnsrr".
func endpointSpecToGRPC(e *swarm.EndpointSpec) (*swarmapi.EndpointSpec, error) {
	if e == nil {
		return nil, nil
	}
	out := &swarmapi.EndpointSpec{}
	switch e.Mode {
	case swarm.ResolutionModeVIP, "":
		out.Mode = swarmapi.ResolutionModeVirtualIP
	case swarm.ResolutionModeDNSRR:
		out.Mode = swarmapi.ResolutionModeDNSRoundRobin
	default:
		return nil, invalidArg("invalid resolution mode: %q", e.Mode)
	}
	for _, p := range e.Ports {
		out.Ports = append(out.Ports, &swarmapi.PortConfig{
			Name:          p.Name,
			Protocol:      swarmapi.PortConfig_Protocol(swarmapi.PortConfig_Protocol_value[strings.ToUpper(string(p.Protocol))]),
			TargetPort:    p.TargetPort,
			PublishedPort: p.PublishedPort,
			PublishMode:   swarmapi.PortConfig_PublishMode(swarmapi.PortConfig_PublishMode_value[strings.ToUpper(string(p.PublishMode))]),
		})
	}
	return out, nil
}

func endpointSpecFromGRPC(e *swarmapi.EndpointSpec) *swarm.EndpointSpec {
	if e == nil {
		return nil
	}
	out := &swarm.EndpointSpec{Mode: swarm.ResolutionMode(strings.ToLower(e.Mode.String()))}
	for _, p := range e.Ports {
		if p != nil {
			out.Ports = append(out.Ports, portConfigFromGRPC(p))
		}
	}
	return out
}

// endpointFromGRPC converts a service's allocated endpoint: its spec, the
// ports actually published and a virtual IP on each network.
func endpointFromGRPC(e *swarmapi.Endpoint) swarm.Endpoint {
	var out swarm.Endpoint
	if e == nil {
		return out
	}
	if spec := endpointSpecFromGRPC(e.Spec); spec != nil {
		out.Spec = *spec
	}
	for _, p := range e.Ports {
		if p != nil {
			out.Ports = append(out.Ports, portConfigFromGRPC(p))
		}
	}
	for _, v := range e.VirtualIPs {
		if v == nil {
			continue
		}
		addr, _ := parsePrefixOrAddr(v.Addr)
		out.VirtualIPs = append(out.VirtualIPs, swarm.EndpointVirtualIP{NetworkID: v.NetworkID, Addr: addr})
	}
	return out
}
