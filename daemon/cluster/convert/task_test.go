package convert

import (
	"net/netip"
	"testing"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestTaskFromGRPC(t *testing.T) {
	created := time.Date(2024, 3, 4, 5, 6, 7, 8, time.UTC)
	stamp := created.Add(time.Second)
	in := &swarmapi.Task{
		ID:          "t1",
		Meta:        swarmapi.Meta{Version: swarmapi.Version{Index: 11}, CreatedAt: ts(t, created), UpdatedAt: ts(t, stamp)},
		Annotations: swarmapi.Annotations{Name: "web.1.t1"},
		Spec: swarmapi.TaskSpec{
			Runtime: &swarmapi.TaskSpec_Container{Container: &swarmapi.ContainerSpec{
				Image:     "nginx:latest",
				PidsLimit: 100,
				Init:      &gogotypes.BoolValue{Value: true},
			}},
			Restart:  &swarmapi.RestartPolicy{Condition: swarmapi.RestartOnFailure, Delay: gogotypes.DurationProto(5 * time.Second)},
			Networks: []*swarmapi.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"web"}}},
		},
		ServiceID:    "s1",
		Slot:         1,
		NodeID:       "n1",
		DesiredState: swarmapi.TaskStateRunning,
		Status: swarmapi.TaskStatus{
			Timestamp: ts(t, stamp),
			State:     swarmapi.TaskStateRunning,
			Message:   "started",
			Err:       "",
			RuntimeStatus: &swarmapi.TaskStatus_Container{Container: &swarmapi.ContainerStatus{
				ContainerID: "c1", PID: 1234, ExitCode: 0,
			}},
			PortStatus: &swarmapi.PortStatus{Ports: []*swarmapi.PortConfig{
				{Protocol: swarmapi.ProtocolUDP, TargetPort: 53, PublishedPort: 5353, PublishMode: swarmapi.PublishModeHost},
			}},
		},
		Networks: []*swarmapi.NetworkAttachment{{
			Network: &swarmapi.Network{
				ID:          "net1",
				Spec:        swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "front"}, DriverConfig: &swarmapi.Driver{Name: "overlay"}, Attachable: true},
				DriverState: &swarmapi.Driver{Name: "overlay", Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097"}},
				IPAM: &swarmapi.IPAMOptions{
					Driver:  &swarmapi.Driver{Name: "default"},
					Configs: []*swarmapi.IPAMConfig{{Subnet: "10.0.1.0/24", Gateway: "10.0.1.1"}},
				},
			},
			Addresses: []string{"10.0.1.5/24", "10.0.1.6", "garbage"},
		}},
		AssignedGenericResources: []*swarmapi.GenericResource{
			{Resource: &swarmapi.GenericResource_NamedResourceSpec{NamedResourceSpec: &swarmapi.NamedGenericResource{Kind: "GPU", Value: "g0"}}},
		},
		JobIteration: &swarmapi.Version{Index: 3},
		Volumes:      []*swarmapi.VolumeAttachment{{ID: "v1", Source: "data", Target: "/data"}},
	}
	want := swarm.Task{
		ID:          "t1",
		Meta:        swarm.Meta{Version: swarm.Version{Index: 11}, CreatedAt: created, UpdatedAt: stamp},
		Annotations: swarm.Annotations{Name: "web.1.t1", Labels: map[string]string{}},
		Spec: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "nginx:latest", Init: ptr(true), Isolation: container.IsolationDefault},
			Resources:     &swarm.ResourceRequirements{Limits: &swarm.Limit{Pids: 100}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, Delay: ptr(5 * time.Second), MaxAttempts: ptr[uint64](0)},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"web"}}},
		},
		ServiceID: "s1",
		Slot:      1,
		NodeID:    "n1",
		Status: swarm.TaskStatus{
			Timestamp:       stamp,
			State:           swarm.TaskStateRunning,
			Message:         "started",
			ContainerStatus: &swarm.ContainerStatus{ContainerID: "c1", PID: 1234},
			PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{
				{Protocol: network.UDP, TargetPort: 53, PublishedPort: 5353, PublishMode: swarm.PortConfigPublishModeHost},
			}},
		},
		DesiredState: swarm.TaskStateRunning,
		NetworksAttachments: []swarm.NetworkAttachment{{
			Network: swarm.Network{
				ID: "net1",
				Spec: swarm.NetworkSpec{
					Annotations:         swarm.Annotations{Name: "front", Labels: map[string]string{}},
					DriverConfiguration: &swarm.Driver{Name: "overlay"},
					Attachable:          true,
					Scope:               "swarm",
				},
				DriverState: swarm.Driver{Name: "overlay", Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097"}},
				IPAMOptions: &swarm.IPAMOptions{
					Driver:  swarm.Driver{Name: "default"},
					Configs: []swarm.IPAMConfig{{Subnet: netip.MustParsePrefix("10.0.1.0/24"), Gateway: netip.MustParseAddr("10.0.1.1")}},
				},
			},
			Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.1.5/24"), netip.MustParsePrefix("10.0.1.6/32")},
		}},
		GenericResources: []swarm.GenericResource{{NamedResourceSpec: &swarm.NamedGenericResource{Kind: "GPU", Value: "g0"}}},
		JobIteration:     &swarm.Version{Index: 3},
		Volumes:          []swarm.VolumeAttachment{{ID: "v1", Source: "data", Target: "/data"}},
	}
	got, err := TaskFromGRPC(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("TaskFromGRPC mismatch (-want +got):\n%s", d)
	}

	if got, err := TaskFromGRPC(nil); err != nil || diff(swarm.Task{}, got) != "" {
		t.Errorf("TaskFromGRPC(nil) = %+v, %v", got, err)
	}
}

func TestTaskStates(t *testing.T) {
	tests := []struct {
		in   swarmapi.TaskState
		want swarm.TaskState
	}{
		{swarmapi.TaskStateNew, "new"},
		{swarmapi.TaskStatePending, "pending"},
		{swarmapi.TaskStateAssigned, "assigned"},
		{swarmapi.TaskStateAccepted, "accepted"},
		{swarmapi.TaskStatePreparing, "preparing"},
		{swarmapi.TaskStateReady, "ready"},
		{swarmapi.TaskStateStarting, "starting"},
		{swarmapi.TaskStateRunning, "running"},
		{swarmapi.TaskStateCompleted, "complete"},
		{swarmapi.TaskStateShutdown, "shutdown"},
		{swarmapi.TaskStateFailed, "failed"},
		{swarmapi.TaskStateRejected, "rejected"},
		{swarmapi.TaskStateRemove, "remove"},
		{swarmapi.TaskStateOrphaned, "orphaned"},
	}
	for _, tt := range tests {
		got, err := TaskFromGRPC(&swarmapi.Task{
			Status:       swarmapi.TaskStatus{State: tt.in, Err: "boom"},
			DesiredState: tt.in,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.State != tt.want || got.DesiredState != tt.want || got.Status.Err != "boom" {
			t.Errorf("state %v: got %q / %q, want %q", tt.in, got.Status.State, got.DesiredState, tt.want)
		}
	}
}

func TestTaskSpecFromGRPCRuntimes(t *testing.T) {
	// A network-attachment task says so in Runtime.
	got, err := TaskSpecFromGRPC(swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Attachment{
		Attachment: &swarmapi.NetworkAttachmentSpec{ContainerID: "c1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := swarm.TaskSpec{Runtime: swarm.RuntimeNetworkAttachment, NetworkAttachmentSpec: &swarm.NetworkAttachmentSpec{ContainerID: "c1"}}
	if d := diff(want, got); d != "" {
		t.Errorf("attachment (-want +got):\n%s", d)
	}

	// A plugin payload that does not decode is an error.
	_, err = TaskSpecFromGRPC(swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Generic{Generic: &swarmapi.GenericRuntimeSpec{
		Kind:    "plugin",
		Payload: &gogotypes.Any{TypeUrl: string(swarm.RuntimeURLPlugin), Value: []byte{0x0a, 0x05, 'a'}},
	}}})
	if err == nil || err.Error() != "error unmarshalling plugin spec: unexpected EOF" {
		t.Errorf("bad plugin payload: err = %v", err)
	}
	if _, err := TaskFromGRPC(&swarmapi.Task{Spec: swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Generic{Generic: &swarmapi.GenericRuntimeSpec{
		Kind: "plugin", Payload: &gogotypes.Any{Value: []byte{0xff}},
	}}}}); err == nil {
		t.Error("TaskFromGRPC with a bad plugin payload: no error")
	}
}
