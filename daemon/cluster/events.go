package cluster

import (
	"context"
	"strconv"
	"strings"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	apievents "github.com/moby/moby/api/types/events"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"google.golang.org/grpc"
)

// Publisher receives the swarm's events (the daemon's event bus).
type Publisher interface {
	Publish(apievents.Message)
}

// watchedKinds are the SwarmKit objects whose changes become events of
// scope "swarm", as dockerd publishes them.
var watchedKinds = []string{"node", "service", "network", "secret", "config"}

// watchRetry is the wait before watching the store again after the
// watch failed (the manager not running yet, a leader change).
const watchRetry = time.Second

// watchEvents follows the changes of the manager's store through the
// Watch API on conn (the local control socket) and publishes each as an
// event, until ctx ends.
func (c *Cluster) watchEvents(ctx context.Context, conn *grpc.ClientConn) {
	if c.cfg.Events == nil {
		return
	}
	client := swarmapi.NewWatchClient(conn)
	all := swarmapi.WatchActionKindCreate | swarmapi.WatchActionKindUpdate | swarmapi.WatchActionKindRemove
	req := &swarmapi.WatchRequest{IncludeOldObject: true}
	for _, k := range watchedKinds {
		req.Entries = append(req.Entries, &swarmapi.WatchRequest_WatchEntry{Kind: k, Action: all})
	}
	for ctx.Err() == nil {
		stream, err := client.Watch(ctx, req)
		if err == nil {
			err = c.relayEvents(stream)
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Debug("watch swarm events", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(watchRetry):
		}
	}
}

// relayEvents publishes the events of one watch stream until it breaks.
func (c *Cluster) relayEvents(stream swarmapi.Watch_WatchClient) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		for _, m := range swarmEvents(msg, time.Now()) {
			c.cfg.Events.Publish(m)
		}
	}
}

// swarmEvents converts a watch message into Docker's events: Type
// "node", "service", "network", "secret" or "config", Action "create",
// "update" or "remove", Scope "swarm", the object's name and, for
// updates of nodes and services, what changed (availability.old and
// availability.new, replicas.old and replicas.new, …). They are stamped
// with the object's creation or update time, a removal with now.
func swarmEvents(msg *swarmapi.WatchMessage, now time.Time) []apievents.Message {
	var out []apievents.Message
	for _, ev := range msg.Events {
		if ev.Object == nil {
			continue
		}
		action, ok := eventActions[ev.Action]
		if !ok {
			continue
		}
		var (
			typ   apievents.Type
			id    string
			meta  swarmapi.Meta
			attrs map[string]string
		)
		switch o := ev.Object.GetObject().(type) {
		case *swarmapi.Object_Node:
			typ, id, meta = apievents.NodeEventType, o.Node.ID, o.Node.Meta
			attrs = nodeAttributes(o.Node, ev.OldObject.GetNode(), ev.Action)
		case *swarmapi.Object_Service:
			typ, id, meta = apievents.ServiceEventType, o.Service.ID, o.Service.Meta
			attrs = serviceAttributes(o.Service, ev.OldObject.GetService(), ev.Action)
		case *swarmapi.Object_Network:
			typ, id, meta = apievents.NetworkEventType, o.Network.ID, o.Network.Meta
			attrs = map[string]string{"name": o.Network.Spec.Annotations.Name}
		case *swarmapi.Object_Secret:
			typ, id, meta = apievents.SecretEventType, o.Secret.ID, o.Secret.Meta
			attrs = map[string]string{"name": o.Secret.Spec.Annotations.Name}
		case *swarmapi.Object_Config:
			typ, id, meta = apievents.ConfigEventType, o.Config.ID, o.Config.Meta
			attrs = map[string]string{"name": o.Config.Spec.Annotations.Name}
		default:
			continue
		}
		t := eventTime(meta, ev.Action, now)
		out = append(out, apievents.Message{
			Type: typ, Action: action, Scope: "swarm",
			Actor: apievents.Actor{ID: id, Attributes: attrs},
			Time:  t.Unix(), TimeNano: t.UnixNano(),
		})
	}
	return out
}

var eventActions = map[swarmapi.WatchActionKind]apievents.Action{
	swarmapi.WatchActionKindCreate: apievents.ActionCreate,
	swarmapi.WatchActionKindUpdate: apievents.ActionUpdate,
	swarmapi.WatchActionKindRemove: apievents.ActionRemove,
}

// eventTime is when the store says the change happened; a removal
// carries no time of its own.
func eventTime(meta swarmapi.Meta, action swarmapi.WatchActionKind, now time.Time) time.Time {
	ts := meta.UpdatedAt
	switch action {
	case swarmapi.WatchActionKindCreate:
		ts = meta.CreatedAt
	case swarmapi.WatchActionKindRemove:
		return now
	}
	if ts == nil {
		return now
	}
	t, err := gogotypes.TimestampFromProto(ts)
	if err != nil {
		return now
	}
	return t
}

// lower is a SwarmKit enum as Docker's events spell it ("DRAIN" → "drain").
func lower(s interface{ String() string }) string {
	return strings.ToLower(s.String())
}

// changed records an attribute's old and new values when they differ.
func changed(attrs map[string]string, key, old, cur string) {
	if old != cur {
		attrs[key+".old"], attrs[key+".new"] = old, cur
	}
}

func nodeAttributes(n, old *swarmapi.Node, action swarmapi.WatchActionKind) map[string]string {
	name := n.Spec.Annotations.Name
	if name == "" && n.Description != nil {
		name = n.Description.Hostname
	}
	attrs := map[string]string{"name": name}
	if action != swarmapi.WatchActionKindUpdate || old == nil {
		return attrs
	}
	changed(attrs, "availability", lower(old.Spec.Availability), lower(n.Spec.Availability))
	changed(attrs, "role", lower(old.Role), lower(n.Role))
	changed(attrs, "state", lower(old.Status.State), lower(n.Status.State))
	if n.ManagerStatus != nil && old.ManagerStatus != nil {
		changed(attrs, "leader", strconv.FormatBool(old.ManagerStatus.Leader), strconv.FormatBool(n.ManagerStatus.Leader))
		changed(attrs, "reachability", lower(old.ManagerStatus.Reachability), lower(n.ManagerStatus.Reachability))
	}
	return attrs
}

func serviceAttributes(s, old *swarmapi.Service, action swarmapi.WatchActionKind) map[string]string {
	attrs := map[string]string{"name": s.Spec.Annotations.Name}
	if action != swarmapi.WatchActionKindUpdate || old == nil {
		return attrs
	}
	if cur, prev := s.Spec.Task.GetContainer(), old.Spec.Task.GetContainer(); cur != nil && prev != nil {
		changed(attrs, "image", prev.Image, cur.Image)
	}
	if cur, prev := s.Spec.GetReplicated(), old.Spec.GetReplicated(); cur != nil && prev != nil {
		changed(attrs, "replicas", strconv.FormatUint(prev.Replicas, 10), strconv.FormatUint(cur.Replicas, 10))
	}
	if s.UpdateStatus != nil {
		if old.UpdateStatus == nil {
			attrs["updatestate.new"] = lower(s.UpdateStatus.State)
		} else {
			changed(attrs, "updatestate", lower(old.UpdateStatus.State), lower(s.UpdateStatus.State))
		}
	}
	return attrs
}
