package convert

import (
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// TaskFromGRPC converts a SwarmKit task to the Engine API's (GET /tasks).
// States are SwarmKit's names in lower case ("running", "complete",
// "shutdown", …). It fails only when the spec's plugin payload does not
// decode.
func TaskFromGRPC(t *swarmapi.Task) (swarm.Task, error) {
	if t == nil {
		return swarm.Task{}, nil
	}
	spec, err := TaskSpecFromGRPC(t.Spec)
	if err != nil {
		return swarm.Task{}, err
	}
	task := swarm.Task{
		ID:          t.ID,
		Meta:        metaFromGRPC(t.Meta),
		Annotations: annotationsFromGRPC(t.Annotations),
		Spec:        spec,
		ServiceID:   t.ServiceID,
		Slot:        int(t.Slot),
		NodeID:      t.NodeID,
		Status: swarm.TaskStatus{
			Timestamp: timeFromGRPC(t.Status.Timestamp),
			State:     taskStateFromGRPC(t.Status.State),
			Message:   t.Status.Message,
			Err:       t.Status.Err,
		},
		DesiredState:     taskStateFromGRPC(t.DesiredState),
		GenericResources: GenericResourcesFromGRPC(t.AssignedGenericResources),
	}
	if c := t.Status.GetContainer(); c != nil {
		task.Status.ContainerStatus = &swarm.ContainerStatus{
			ContainerID: c.ContainerID,
			PID:         int(c.PID),
			ExitCode:    int(c.ExitCode),
		}
	}
	if ps := t.Status.PortStatus; ps != nil {
		for _, p := range ps.Ports {
			if p != nil {
				task.Status.PortStatus.Ports = append(task.Status.PortStatus.Ports, portConfigFromGRPC(p))
			}
		}
	}
	for _, na := range t.Networks {
		if na != nil {
			task.NetworksAttachments = append(task.NetworksAttachments, NetworkAttachmentFromGRPC(na))
		}
	}
	if t.JobIteration != nil {
		task.JobIteration = &swarm.Version{Index: t.JobIteration.Index}
	}
	for _, v := range t.Volumes {
		if v != nil {
			task.Volumes = append(task.Volumes, swarm.VolumeAttachment{ID: v.ID, Source: v.Source, Target: v.Target})
		}
	}
	return task, nil
}

// taskStateFromGRPC is the state's SwarmKit name in lower case.
func taskStateFromGRPC(s swarmapi.TaskState) swarm.TaskState {
	return swarm.TaskState(strings.ToLower(s.String()))
}

// NetworkAttachmentFromGRPC converts a task's (or node's) attachment to a
// network: the network and the endpoint's addresses (CIDR, e.g.
// 10.0.1.5/24; addresses that do not parse are dropped).
func NetworkAttachmentFromGRPC(na *swarmapi.NetworkAttachment) swarm.NetworkAttachment {
	if na == nil {
		return swarm.NetworkAttachment{}
	}
	out := swarm.NetworkAttachment{Network: networkFromGRPC(na.Network)}
	for _, a := range na.Addresses {
		if p, ok := parsePrefixOrAddr(a); ok {
			out.Addresses = append(out.Addresses, p)
		}
	}
	return out
}

// parsePrefixOrAddr reads "10.0.0.2/24", or a bare address as a
// single-address prefix.
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// portConfigFromGRPC converts a published port; protocol and publish mode
// are SwarmKit's names in lower case ("tcp", "ingress").
func portConfigFromGRPC(p *swarmapi.PortConfig) swarm.PortConfig {
	return swarm.PortConfig{
		Name:          p.Name,
		Protocol:      network.IPProtocol(strings.ToLower(p.Protocol.String())),
		TargetPort:    p.TargetPort,
		PublishedPort: p.PublishedPort,
		PublishMode:   swarm.PortConfigPublishMode(strings.ToLower(p.PublishMode.String())),
	}
}
