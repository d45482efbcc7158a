package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/server"
)

// eventBus keeps the last events in a ring and fans new ones out to
// subscribers. A slow subscriber loses events rather than blocking the
// engine.
type eventBus struct {
	mu     sync.Mutex
	ring   []events.Message
	subs   map[chan events.Message]server.Filters
	closed bool
}

const eventRingSize = 1024

func newEventBus() *eventBus {
	return &eventBus{subs: map[chan events.Message]server.Filters{}}
}

func (b *eventBus) publish(m events.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.ring) == eventRingSize {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:eventRingSize-1]
	}
	b.ring = append(b.ring, m)
	for ch, f := range b.subs {
		if !eventMatches(m, f) {
			continue
		}
		select {
		case ch <- m:
		default:
		}
	}
}

func (b *eventBus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		close(ch)
		delete(b.subs, ch)
	}
}

// eventMatches applies Docker's event filters: type, event/action,
// container, image, volume, network, label.
func eventMatches(m events.Message, f server.Filters) bool {
	if vals := f["type"]; len(vals) > 0 && !vals[string(m.Type)] {
		return false
	}
	if vals := f["event"]; len(vals) > 0 && !vals[string(m.Action)] {
		return false
	}
	for _, key := range []string{"container", "image", "volume", "network"} {
		vals := f[key]
		if len(vals) == 0 {
			continue
		}
		if string(m.Type) != key {
			return false
		}
		if !vals[m.Actor.ID] && !vals[m.Actor.Attributes["name"]] && !(len(m.Actor.ID) >= 12 && vals[m.Actor.ID[:12]]) {
			return false
		}
	}
	for kv := range f["label"] {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := m.Actor.Attributes[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// SubscribeEvents implements server.Backend.
func (d *Daemon) SubscribeEvents(ctx context.Context, since, until time.Time, f server.Filters, live bool) ([]events.Message, <-chan events.Message, func()) {
	b := d.events
	b.mu.Lock()
	defer b.mu.Unlock()
	var past []events.Message
	if !since.IsZero() {
		for _, m := range b.ring {
			t := time.Unix(0, m.TimeNano)
			if t.Before(since) || (!until.IsZero() && t.After(until)) || !eventMatches(m, f) {
				continue
			}
			past = append(past, m)
		}
	}
	if !live || b.closed {
		return past, nil, func() {}
	}
	ch := make(chan events.Message, 256)
	b.subs[ch] = f
	var once sync.Once
	return past, ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if _, ok := b.subs[ch]; ok {
				delete(b.subs, ch)
				close(ch)
			}
		})
	}
}

// emit publishes an event about an object.
func (d *Daemon) emit(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now()
	d.events.publish(events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	})
}
