package convert

import (
	"strings"

	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// NodeFromGRPC converts a SwarmKit node to the Engine API's (GET /nodes).
// Enum values become SwarmKit's names in lower case ("manager", "drain",
// "ready", "reachable"); ManagerStatus is set only for managers.
func NodeFromGRPC(n *swarmapi.Node) swarm.Node {
	if n == nil {
		return swarm.Node{}
	}
	node := swarm.Node{
		ID:   n.ID,
		Meta: metaFromGRPC(n.Meta),
		Spec: swarm.NodeSpec{
			Annotations:  annotationsFromGRPC(n.Spec.Annotations),
			Role:         swarm.NodeRole(strings.ToLower(n.Spec.DesiredRole.String())),
			Availability: swarm.NodeAvailability(strings.ToLower(n.Spec.Availability.String())),
		},
		Status: swarm.NodeStatus{
			State:   swarm.NodeState(strings.ToLower(n.Status.State.String())),
			Message: n.Status.Message,
			Addr:    n.Status.Addr,
		},
	}
	if d := n.Description; d != nil {
		node.Description.Hostname = d.Hostname
		if d.Platform != nil {
			node.Description.Platform = swarm.Platform{Architecture: d.Platform.Architecture, OS: d.Platform.OS}
		}
		if d.Resources != nil {
			node.Description.Resources = swarm.Resources{
				NanoCPUs:         d.Resources.NanoCPUs,
				MemoryBytes:      d.Resources.MemoryBytes,
				GenericResources: GenericResourcesFromGRPC(d.Resources.Generic),
			}
		}
		if d.Engine != nil {
			node.Description.Engine.EngineVersion = d.Engine.EngineVersion
			node.Description.Engine.Labels = d.Engine.Labels
			for _, p := range d.Engine.Plugins {
				node.Description.Engine.Plugins = append(node.Description.Engine.Plugins,
					swarm.PluginDescription{Type: p.Type, Name: p.Name})
			}
		}
		if d.TLSInfo != nil {
			node.Description.TLSInfo = swarm.TLSInfo{
				TrustRoot:           string(d.TLSInfo.TrustRoot),
				CertIssuerSubject:   d.TLSInfo.CertIssuerSubject,
				CertIssuerPublicKey: d.TLSInfo.CertIssuerPublicKey,
			}
		}
		for _, csi := range d.CSIInfo {
			if csi == nil {
				continue
			}
			info := swarm.NodeCSIInfo{
				PluginName:        csi.PluginName,
				NodeID:            csi.NodeID,
				MaxVolumesPerNode: csi.MaxVolumesPerNode,
			}
			if csi.AccessibleTopology != nil {
				info.AccessibleTopology = &swarm.Topology{Segments: csi.AccessibleTopology.Segments}
			}
			node.Description.CSIInfo = append(node.Description.CSIInfo, info)
		}
	}
	if m := n.ManagerStatus; m != nil {
		node.ManagerStatus = &swarm.ManagerStatus{
			Leader:       m.Leader,
			Reachability: swarm.Reachability(strings.ToLower(m.Reachability.String())),
			Addr:         m.Addr,
		}
	}
	return node
}

// NodeSpecToGRPC converts the spec of POST /nodes/{id}/update. Role and
// Availability are required (matched case-insensitively), as in dockerd:
// anything else is `invalid Role: "x"` or `invalid Availability: "x"`.
func NodeSpecToGRPC(s swarm.NodeSpec) (swarmapi.NodeSpec, error) {
	spec := swarmapi.NodeSpec{Annotations: annotationsToGRPC(s.Annotations)}
	role, ok := swarmapi.NodeRole_value[strings.ToUpper(string(s.Role))]
	if !ok {
		return swarmapi.NodeSpec{}, invalidArg("invalid Role: %q", s.Role)
	}
	spec.DesiredRole = swarmapi.NodeRole(role)
	availability, ok := swarmapi.NodeSpec_Availability_value[strings.ToUpper(string(s.Availability))]
	if !ok {
		return swarmapi.NodeSpec{}, invalidArg("invalid Availability: %q", s.Availability)
	}
	spec.Availability = swarmapi.NodeSpec_Availability(availability)
	return spec, nil
}
