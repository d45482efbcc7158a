package daemon

import (
	"context"
	"time"

	apievents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/events"
)

// SubscribeEvents implements backend.Backend over the engine's event bus.
func (d *Daemon) SubscribeEvents(ctx context.Context, since, until time.Time, f backend.Filters, live bool) ([]apievents.Message, <-chan apievents.Message, func()) {
	return d.events.Subscribe(ctx, since, until, events.FilterFrom(f), live)
}

// emit publishes an event about an object.
func (d *Daemon) emit(typ apievents.Type, action apievents.Action, id string, attrs map[string]string) {
	d.events.Emit(typ, action, id, attrs)
}
