package cluster

import (
	"reflect"
	"testing"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	apievents "github.com/moby/moby/api/types/events"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestSwarmEvents(t *testing.T) {
	now := time.Unix(2000, 0)
	created, updated := time.Unix(1000, 5), time.Unix(1500, 7)
	meta := swarmapi.Meta{CreatedAt: ts(created), UpdatedAt: ts(updated)}

	svc := func(image string, replicas uint64, upd *swarmapi.UpdateStatus) *swarmapi.Service {
		return &swarmapi.Service{ID: "svc1", Meta: meta, UpdateStatus: upd, Spec: swarmapi.ServiceSpec{
			Annotations: swarmapi.Annotations{Name: "web"},
			Task:        swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Container{Container: &swarmapi.ContainerSpec{Image: image}}},
			Mode:        &swarmapi.ServiceSpec_Replicated{Replicated: &swarmapi.ReplicatedService{Replicas: replicas}},
		}}
	}
	node := func(avail swarmapi.NodeSpec_Availability, role swarmapi.NodeRole, leader bool) *swarmapi.Node {
		return &swarmapi.Node{ID: "node1", Meta: meta, Role: role,
			Spec:          swarmapi.NodeSpec{Availability: avail},
			Description:   &swarmapi.NodeDescription{Hostname: "host1"},
			Status:        swarmapi.NodeStatus{State: swarmapi.NodeStatus_READY},
			ManagerStatus: &swarmapi.ManagerStatus{Leader: leader, Reachability: swarmapi.RaftMemberStatus_REACHABLE},
		}
	}
	tests := []struct {
		name   string
		action swarmapi.WatchActionKind
		obj    *swarmapi.Object
		old    *swarmapi.Object
		want   apievents.Message
	}{
		{
			name:   "service create",
			action: swarmapi.WatchActionKindCreate,
			obj:    &swarmapi.Object{Object: &swarmapi.Object_Service{Service: svc("busybox", 2, nil)}},
			want:   message("service", "create", "svc1", created, map[string]string{"name": "web"}),
		},
		{
			name:   "service scaled and image changed",
			action: swarmapi.WatchActionKindUpdate,
			obj:    &swarmapi.Object{Object: &swarmapi.Object_Service{Service: svc("nginx", 4, &swarmapi.UpdateStatus{State: swarmapi.UpdateStatus_UPDATING})}},
			old:    &swarmapi.Object{Object: &swarmapi.Object_Service{Service: svc("busybox", 2, nil)}},
			want: message("service", "update", "svc1", updated, map[string]string{
				"name": "web", "image.old": "busybox", "image.new": "nginx",
				"replicas.old": "2", "replicas.new": "4", "updatestate.new": "updating",
			}),
		},
		{
			name:   "service remove",
			action: swarmapi.WatchActionKindRemove,
			obj:    &swarmapi.Object{Object: &swarmapi.Object_Service{Service: svc("busybox", 2, nil)}},
			want:   message("service", "remove", "svc1", now, map[string]string{"name": "web"}),
		},
		{
			name:   "node drained and demoted, named by its hostname",
			action: swarmapi.WatchActionKindUpdate,
			obj:    &swarmapi.Object{Object: &swarmapi.Object_Node{Node: node(swarmapi.NodeAvailabilityDrain, swarmapi.NodeRoleWorker, false)}},
			old:    &swarmapi.Object{Object: &swarmapi.Object_Node{Node: node(swarmapi.NodeAvailabilityActive, swarmapi.NodeRoleManager, true)}},
			want: message("node", "update", "node1", updated, map[string]string{
				"name": "host1", "availability.old": "active", "availability.new": "drain",
				"role.old": "manager", "role.new": "worker", "leader.old": "true", "leader.new": "false",
			}),
		},
		{
			name:   "network create",
			action: swarmapi.WatchActionKindCreate,
			obj: &swarmapi.Object{Object: &swarmapi.Object_Network{Network: &swarmapi.Network{ID: "net1", Meta: meta,
				Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "front"}}}}},
			want: message("network", "create", "net1", created, map[string]string{"name": "front"}),
		},
		{
			name:   "secret remove",
			action: swarmapi.WatchActionKindRemove,
			obj: &swarmapi.Object{Object: &swarmapi.Object_Secret{Secret: &swarmapi.Secret{ID: "sec1", Meta: meta,
				Spec: swarmapi.SecretSpec{Annotations: swarmapi.Annotations{Name: "pw"}}}}},
			want: message("secret", "remove", "sec1", now, map[string]string{"name": "pw"}),
		},
		{
			name:   "config update",
			action: swarmapi.WatchActionKindUpdate,
			obj: &swarmapi.Object{Object: &swarmapi.Object_Config{Config: &swarmapi.Config{ID: "cfg1", Meta: meta,
				Spec: swarmapi.ConfigSpec{Annotations: swarmapi.Annotations{Name: "conf"}}}}},
			want: message("config", "update", "cfg1", updated, map[string]string{"name": "conf"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := swarmEvents(&swarmapi.WatchMessage{Events: []*swarmapi.WatchMessage_Event{
				{Action: tt.action, Object: tt.obj, OldObject: tt.old},
			}}, now)
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			if !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got  %+v\nwant %+v", got[0], tt.want)
			}
		})
	}
}

func TestSwarmEventsSkipsOtherObjects(t *testing.T) {
	got := swarmEvents(&swarmapi.WatchMessage{Events: []*swarmapi.WatchMessage_Event{
		{Action: swarmapi.WatchActionKindCreate, Object: &swarmapi.Object{Object: &swarmapi.Object_Task{Task: &swarmapi.Task{ID: "t"}}}},
		{Action: swarmapi.WatchActionKindCreate},
	}}, time.Now())
	if len(got) != 0 {
		t.Errorf("got %v, want no events", got)
	}
}

func ts(t time.Time) *gogotypes.Timestamp {
	p, _ := gogotypes.TimestampProto(t)
	return p
}

func message(typ, action, id string, at time.Time, attrs map[string]string) apievents.Message {
	return apievents.Message{Type: apievents.Type(typ), Action: apievents.Action(action), Scope: "swarm",
		Actor: apievents.Actor{ID: id, Attributes: attrs}, Time: at.Unix(), TimeNano: at.UnixNano()}
}
