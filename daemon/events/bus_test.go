package events

import (
	"context"
	"fmt"
	"testing"
	"time"

	apievents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/filters"
)

func msg(typ, action, id, name string, labels map[string]string) apievents.Message {
	attrs := map[string]string{"name": name}
	for k, v := range labels {
		attrs[k] = v
	}
	return apievents.Message{Type: apievents.Type(typ), Action: apievents.Action(action), Actor: apievents.Actor{ID: id, Attributes: attrs}}
}

func TestFilterMatch(t *testing.T) {
	id := "0123456789abcdef0123"
	start := msg("container", "start", id, "web", map[string]string{"tier": "front"})
	execStart := msg("container", "exec_start: sh -c x", id, "web", nil)
	tag := msg("image", "tag", "sha256:aa", "busybox:latest", nil)
	start.Scope = "local"
	svc := msg("service", "create", "svcid", "web", nil)
	svc.Scope = "swarm"
	tests := []struct {
		name   string
		filter string
		m      apievents.Message
		want   bool
	}{
		{"no filter", ``, start, true},
		{"type", `{"type":["container"]}`, start, true},
		{"type other", `{"type":["image"]}`, start, false},
		{"types or", `{"type":["image","container"]}`, start, true},
		{"event", `{"event":["start"]}`, start, true},
		{"event other", `{"event":["die"]}`, start, false},
		{"event base of detailed action", `{"event":["exec_start"]}`, execStart, true},
		{"container by name", `{"container":["web"]}`, start, true},
		{"container by short id", `{"container":["0123456789ab"]}`, start, true},
		{"container by id", `{"container":["` + id + `"]}`, start, true},
		{"container other", `{"container":["db"]}`, start, false},
		{"container filter excludes images", `{"container":["web"]}`, tag, false},
		{"image by name", `{"image":["busybox:latest"]}`, tag, true},
		{"label key", `{"label":["tier"]}`, start, true},
		{"label key=value", `{"label":["tier=front"]}`, start, true},
		{"label wrong value", `{"label":["tier=back"]}`, start, false},
		{"label missing", `{"label":["x"]}`, tag, false},
		{"and of keys", `{"type":["container"],"event":["die"]}`, start, false},
		{"scope swarm", `{"scope":["swarm"]}`, svc, true},
		{"scope swarm excludes local", `{"scope":["swarm"]}`, start, false},
		{"scope local", `{"scope":["local"]}`, start, true},
		{"service by name", `{"service":["web"]}`, svc, true},
		{"service filter excludes containers", `{"service":["web"]}`, start, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := filters.Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := FilterFrom(a).Match(tt.m); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRingKeepsTheLastEvents(t *testing.T) {
	b := New(3)
	base := time.Unix(1000, 0)
	for i := 0; i < 5; i++ {
		m := msg("container", "start", fmt.Sprint(i), "", nil)
		m.TimeNano = base.Add(time.Duration(i) * time.Second).UnixNano()
		b.Publish(m)
	}
	past, _, cancel := b.Subscribe(context.Background(), base, time.Time{}, Filter{}, false)
	cancel()
	var ids []string
	for _, m := range past {
		ids = append(ids, m.Actor.ID)
	}
	if fmt.Sprint(ids) != "[2 3 4]" {
		t.Errorf("replayed %v, want the last three, oldest first", ids)
	}
	// since/until bound the replay.
	past, _, _ = b.Subscribe(context.Background(), base.Add(3*time.Second), base.Add(3*time.Second), Filter{}, false)
	if len(past) != 1 || past[0].Actor.ID != "3" {
		t.Errorf("since=until=3s replayed %v", past)
	}
	// No since, no replay.
	if past, _, _ := b.Subscribe(context.Background(), time.Time{}, time.Time{}, Filter{}, false); len(past) != 0 {
		t.Errorf("replay without since: %v", past)
	}
}

func TestLiveSubscription(t *testing.T) {
	b := New(0)
	ctx, cancelCtx := context.WithCancel(context.Background())
	_, ch, cancel := b.Subscribe(ctx, time.Time{}, time.Time{}, Filter{Types: map[string]bool{"network": true}}, true)
	defer cancel()
	b.Emit("container", "start", "c1", nil)
	b.Emit("network", "connect", "n1", nil)
	select {
	case m := <-ch:
		if m.Actor.ID != "n1" || m.Scope != "local" || m.TimeNano == 0 {
			t.Errorf("got %+v", m)
		}
	case <-time.After(time.Second):
		t.Fatal("no event")
	}
	// A full subscriber loses events instead of blocking Publish.
	for i := 0; i < subscriberBuffer+10; i++ {
		b.Emit("network", "connect", "n", nil)
	}
	// Cancelling the context closes the channel.
	cancelCtx()
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				cancel() // a second cancel is harmless
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after the context ended")
		}
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	b := New(0)
	_, ch, cancel := b.Subscribe(context.Background(), time.Time{}, time.Time{}, Filter{}, true)
	b.Close()
	if _, ok := <-ch; ok {
		t.Error("channel open after Close")
	}
	cancel()
	b.Emit("container", "start", "x", nil) // dropped, no panic
	if _, ch, _ := b.Subscribe(context.Background(), time.Time{}, time.Time{}, Filter{}, true); ch != nil {
		t.Error("a closed bus gave a live channel")
	}
}

func BenchmarkPublish(b *testing.B) {
	bus := New(0)
	for i := 0; i < 10; i++ {
		_, ch, cancel := bus.Subscribe(context.Background(), time.Time{}, time.Time{}, Filter{Types: map[string]bool{"container": true}}, true)
		defer cancel()
		go func() {
			for range ch {
			}
		}()
	}
	m := msg("container", "start", "id", "name", nil)
	for i := 0; i < b.N; i++ {
		bus.Publish(m)
	}
}
