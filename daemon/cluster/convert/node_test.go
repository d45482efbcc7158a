package convert

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestNodeFromGRPC(t *testing.T) {
	created := time.Date(2024, 5, 1, 10, 0, 0, 123, time.UTC)
	updated := created.Add(time.Hour)
	tests := []struct {
		name string
		in   *swarmapi.Node
		want swarm.Node
	}{
		{name: "nil", in: nil, want: swarm.Node{}},
		{
			name: "worker without description",
			in:   &swarmapi.Node{ID: "n1"},
			want: swarm.Node{
				ID: "n1",
				Spec: swarm.NodeSpec{
					Annotations:  swarm.Annotations{Labels: map[string]string{}},
					Role:         swarm.NodeRoleWorker,
					Availability: swarm.NodeAvailabilityActive,
				},
				Status: swarm.NodeStatus{State: swarm.NodeStateUnknown},
			},
		},
		{
			name: "leader manager",
			in: &swarmapi.Node{
				ID: "n2",
				Meta: swarmapi.Meta{
					Version:   swarmapi.Version{Index: 42},
					CreatedAt: ts(t, created),
					UpdatedAt: ts(t, updated),
				},
				Spec: swarmapi.NodeSpec{
					Annotations:  swarmapi.Annotations{Name: "box", Labels: map[string]string{"zone": "a"}},
					DesiredRole:  swarmapi.NodeRoleManager,
					Availability: swarmapi.NodeAvailabilityDrain,
				},
				Description: &swarmapi.NodeDescription{
					Hostname: "host1",
					Platform: &swarmapi.Platform{Architecture: "x86_64", OS: "linux"},
					Resources: &swarmapi.Resources{
						NanoCPUs:    4e9,
						MemoryBytes: 8 << 30,
						Generic: []*swarmapi.GenericResource{
							{Resource: &swarmapi.GenericResource_DiscreteResourceSpec{DiscreteResourceSpec: &swarmapi.DiscreteGenericResource{Kind: "SSD", Value: 2}}},
							{Resource: &swarmapi.GenericResource_NamedResourceSpec{NamedResourceSpec: &swarmapi.NamedGenericResource{Kind: "GPU", Value: "uuid-1"}}},
						},
					},
					Engine: &swarmapi.EngineDescription{
						EngineVersion: "27.0.0",
						Labels:        map[string]string{"eng": "x"},
						Plugins: []swarmapi.PluginDescription{
							{Type: "Network", Name: "overlay"},
							{Type: "Volume", Name: "local"},
						},
					},
					TLSInfo: &swarmapi.NodeTLSInfo{
						TrustRoot:           []byte("-----BEGIN CERTIFICATE-----"),
						CertIssuerSubject:   []byte("subj"),
						CertIssuerPublicKey: []byte("pub"),
					},
					CSIInfo: []*swarmapi.NodeCSIInfo{
						{PluginName: "csi", NodeID: "x", MaxVolumesPerNode: 3, AccessibleTopology: &swarmapi.Topology{Segments: map[string]string{"r": "1"}}},
						nil,
					},
				},
				Status: swarmapi.NodeStatus{State: swarmapi.NodeStatus_READY, Message: "ok", Addr: "10.0.0.1"},
				ManagerStatus: &swarmapi.ManagerStatus{
					Leader:       true,
					Reachability: swarmapi.RaftMemberStatus_REACHABLE,
					Addr:         "10.0.0.1:2377",
				},
			},
			want: swarm.Node{
				ID:   "n2",
				Meta: swarm.Meta{Version: swarm.Version{Index: 42}, CreatedAt: created, UpdatedAt: updated},
				Spec: swarm.NodeSpec{
					Annotations:  swarm.Annotations{Name: "box", Labels: map[string]string{"zone": "a"}},
					Role:         swarm.NodeRoleManager,
					Availability: swarm.NodeAvailabilityDrain,
				},
				Description: swarm.NodeDescription{
					Hostname: "host1",
					Platform: swarm.Platform{Architecture: "x86_64", OS: "linux"},
					Resources: swarm.Resources{
						NanoCPUs:    4e9,
						MemoryBytes: 8 << 30,
						GenericResources: []swarm.GenericResource{
							{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "SSD", Value: 2}},
							{NamedResourceSpec: &swarm.NamedGenericResource{Kind: "GPU", Value: "uuid-1"}},
						},
					},
					Engine: swarm.EngineDescription{
						EngineVersion: "27.0.0",
						Labels:        map[string]string{"eng": "x"},
						Plugins: []swarm.PluginDescription{
							{Type: "Network", Name: "overlay"},
							{Type: "Volume", Name: "local"},
						},
					},
					TLSInfo: swarm.TLSInfo{
						TrustRoot:           "-----BEGIN CERTIFICATE-----",
						CertIssuerSubject:   []byte("subj"),
						CertIssuerPublicKey: []byte("pub"),
					},
					CSIInfo: []swarm.NodeCSIInfo{
						{PluginName: "csi", NodeID: "x", MaxVolumesPerNode: 3, AccessibleTopology: &swarm.Topology{Segments: map[string]string{"r": "1"}}},
					},
				},
				Status: swarm.NodeStatus{State: swarm.NodeStateReady, Message: "ok", Addr: "10.0.0.1"},
				ManagerStatus: &swarm.ManagerStatus{
					Leader:       true,
					Reachability: swarm.ReachabilityReachable,
					Addr:         "10.0.0.1:2377",
				},
			},
		},
		{
			name: "states in lower case",
			in: &swarmapi.Node{
				Spec:          swarmapi.NodeSpec{Availability: swarmapi.NodeAvailabilityPause},
				Status:        swarmapi.NodeStatus{State: swarmapi.NodeStatus_DISCONNECTED},
				ManagerStatus: &swarmapi.ManagerStatus{Reachability: swarmapi.RaftMemberStatus_UNREACHABLE},
			},
			want: swarm.Node{
				Spec: swarm.NodeSpec{
					Annotations:  swarm.Annotations{Labels: map[string]string{}},
					Role:         swarm.NodeRoleWorker,
					Availability: swarm.NodeAvailabilityPause,
				},
				Status:        swarm.NodeStatus{State: swarm.NodeStateDisconnected},
				ManagerStatus: &swarm.ManagerStatus{Reachability: swarm.ReachabilityUnreachable},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NodeFromGRPC(tt.in)
			if d := diff(tt.want, got); d != "" {
				t.Errorf("NodeFromGRPC mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestNodeSpecRoundTrip(t *testing.T) {
	tests := []swarm.NodeSpec{
		{Annotations: swarm.Annotations{Name: "a", Labels: map[string]string{"k": "v", "e": ""}}, Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
		{Annotations: swarm.Annotations{Labels: map[string]string{}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityPause},
		{Annotations: swarm.Annotations{Labels: map[string]string{}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityDrain},
	}
	for _, in := range tests {
		g, err := NodeSpecToGRPC(in)
		if err != nil {
			t.Fatalf("NodeSpecToGRPC(%+v): %v", in, err)
		}
		got := NodeFromGRPC(&swarmapi.Node{Spec: g}).Spec
		if d := diff(in, got); d != "" {
			t.Errorf("round trip mismatch (-in +out):\n%s", d)
		}
	}
}

func TestNodeSpecToGRPC(t *testing.T) {
	g, err := NodeSpecToGRPC(swarm.NodeSpec{Role: "Manager", Availability: "DRAIN"})
	if err != nil {
		t.Fatal(err)
	}
	if g.DesiredRole != swarmapi.NodeRoleManager || g.Availability != swarmapi.NodeAvailabilityDrain {
		t.Errorf("case-insensitive values: got %v %v", g.DesiredRole, g.Availability)
	}

	errs := []struct {
		in   swarm.NodeSpec
		want string
	}{
		{swarm.NodeSpec{Role: "x", Availability: "active"}, `invalid Role: "x"`},
		{swarm.NodeSpec{Availability: "active"}, `invalid Role: ""`},
		{swarm.NodeSpec{Role: "worker", Availability: "x"}, `invalid Availability: "x"`},
		{swarm.NodeSpec{Role: "worker"}, `invalid Availability: ""`},
	}
	for _, tt := range errs {
		_, err := NodeSpecToGRPC(tt.in)
		wantInvalid(t, err, tt.want)
	}
}
