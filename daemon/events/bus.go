// Package events is the engine's event bus: every part of berth that
// changes an object (a container starting, an image tagged, a network
// connected, and later a swarm task moving) publishes a Docker event
// message here, and whoever wants to follow the engine — the Engine API's
// /events, the cluster executor, the visualizer — subscribes with a Filter
// instead of polling. The last events are kept in a ring so that
// `docker events --since` can replay them.
package events

import (
	"context"
	"strings"
	"sync"
	"time"

	apievents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/filters"
)

// DefaultRingSize is how many past events a Bus keeps for replay.
const DefaultRingSize = 1024

// subscriberBuffer is how many events a subscriber may fall behind before
// it loses them: a slow subscriber never blocks the engine.
const subscriberBuffer = 256

// Filter selects events, with Docker's rules for `docker events --filter`:
// values of one key are alternatives (OR), different keys must all match
// (AND). The zero Filter matches everything.
type Filter struct {
	Types   map[string]bool            // type=container|image|volume|network|…
	Actions map[string]bool            // event=start|die|…
	Objects map[string]map[string]bool // container=, image=, volume=, network=: ID, short ID or name
	Labels  map[string]bool            // label=key or label=key=value
	Scopes  map[string]bool            // scope=local|swarm
}

// objectKeys are the filter keys that name an object of their own type.
var objectKeys = []string{"container", "image", "volume", "network", "node", "service", "config", "secret", "plugin", "daemon"}

// FilterFrom builds a Filter from a validated filters argument.
func FilterFrom(a filters.Args) Filter {
	f := Filter{Types: a["type"], Actions: a["event"], Labels: a["label"], Scopes: a["scope"]}
	for _, k := range objectKeys {
		if v := a[k]; len(v) > 0 {
			if f.Objects == nil {
				f.Objects = map[string]map[string]bool{}
			}
			f.Objects[k] = v
		}
	}
	return f
}

// Match reports whether the filter selects m.
func (f Filter) Match(m apievents.Message) bool {
	if len(f.Types) > 0 && !f.Types[string(m.Type)] {
		return false
	}
	if len(f.Scopes) > 0 && !f.Scopes[m.Scope] {
		return false
	}
	if len(f.Actions) > 0 && !f.Actions[string(m.Action)] && !f.Actions[actionBase(m.Action)] {
		return false
	}
	for typ, vals := range f.Objects {
		if len(vals) == 0 {
			continue
		}
		if string(m.Type) != typ {
			return false
		}
		id := m.Actor.ID
		if !vals[id] && !vals[m.Actor.Attributes["name"]] && !(len(id) >= 12 && vals[id[:12]]) {
			return false
		}
	}
	for kv := range f.Labels {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := m.Actor.Attributes[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// actionBase is an action without its detail ("exec_start: sh" → "exec_start").
func actionBase(a apievents.Action) string {
	s, _, _ := strings.Cut(string(a), ":")
	return s
}

// Bus fans published events out to subscribers and keeps the last ones.
// Its zero value is not usable; make one with New.
type Bus struct {
	mu     sync.Mutex
	ring   []apievents.Message // circular once full; next is the oldest
	next   int
	size   int
	subs   map[*subscriber]struct{}
	closed bool
	now    func() time.Time
}

type subscriber struct {
	ch     chan apievents.Message
	filter Filter
}

// New makes a bus that keeps ringSize past events (DefaultRingSize if 0).
func New(ringSize int) *Bus {
	if ringSize <= 0 {
		ringSize = DefaultRingSize
	}
	return &Bus{size: ringSize, subs: map[*subscriber]struct{}{}, now: time.Now}
}

// Publish stamps m with the current time (when it has none) and the local
// scope (when unset), keeps it, and hands it to every subscriber whose
// filter matches. A subscriber that is full loses it.
func (b *Bus) Publish(m apievents.Message) {
	if m.TimeNano == 0 {
		now := b.now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.ring) < b.size {
		b.ring = append(b.ring, m)
	} else {
		b.ring[b.next] = m
		b.next = (b.next + 1) % b.size
	}
	for s := range b.subs {
		if !s.filter.Match(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
		}
	}
}

// Emit publishes an event about the object id of type typ.
func (b *Bus) Emit(typ apievents.Type, action apievents.Action, id string, attrs map[string]string) {
	b.Publish(apievents.Message{Type: typ, Action: action, Actor: apievents.Actor{ID: id, Attributes: attrs}})
}

// past returns the kept events, oldest first. Called with b.mu held.
func (b *Bus) past() []apievents.Message {
	out := make([]apievents.Message, 0, len(b.ring))
	out = append(out, b.ring[b.next:]...)
	return append(out, b.ring[:b.next]...)
}

// Subscribe returns the kept events in [since, until] that f matches (none
// when since is zero) and, if live, a channel of the events published from
// now on that f matches. The channel is closed by cancel, when ctx ends,
// or when the bus closes; cancel may be called more than once.
func (b *Bus) Subscribe(ctx context.Context, since, until time.Time, f Filter, live bool) (past []apievents.Message, future <-chan apievents.Message, cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !since.IsZero() {
		for _, m := range b.past() {
			t := time.Unix(0, m.TimeNano)
			if t.Before(since) || (!until.IsZero() && t.After(until)) || !f.Match(m) {
				continue
			}
			past = append(past, m)
		}
	}
	if !live || b.closed {
		return past, nil, func() {}
	}
	s := &subscriber{ch: make(chan apievents.Message, subscriberBuffer), filter: f}
	b.subs[s] = struct{}{}
	stop := context.AfterFunc(ctx, func() { b.unsubscribe(s) })
	return past, s.ch, func() {
		stop()
		b.unsubscribe(s)
	}
}

func (b *Bus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Close ends every subscription; later events are dropped.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		close(s.ch)
		delete(b.subs, s)
	}
}
