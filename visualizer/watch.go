package visualizer

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Options tune a Watcher; zero values take the defaults.
type Options struct {
	// Debounce is how long a burst of events is gathered before one
	// rebuild (default 50ms).
	Debounce time.Duration
	// Resync is how often the model is rebuilt without an event, in case
	// one was missed or the engine sends none for a change (default 5s).
	Resync time.Duration
	// StatsEvery is how often the local tasks' usage is sampled
	// (default 3s; negative: never).
	StatsEvery time.Duration
	// Retry is the wait before following /events again after the stream
	// broke (default 1s).
	Retry time.Duration
	// Settle is how often the model is rebuilt while a task is on its
	// way to running (default 200ms): the container's events come before
	// SwarmKit records the task running, and no event says when it does.
	// Only for tasks whose state changed in the last SettleFor (default
	// 10s): a task stuck pending is left to the resync.
	Settle, SettleFor time.Duration
	Logger            *slog.Logger
}

// Watcher keeps the model current: it follows the engine's /events and
// rebuilds on each relevant one, resyncs now and then, samples usage,
// and hands every changed model to its subscribers.
type Watcher struct {
	api  API
	opts Options
	log  *slog.Logger

	kick chan struct{} // a rebuild is wanted

	mu      sync.Mutex
	model   Model
	encoded []byte
	usage   map[string]Usage
	subs    map[chan []byte]struct{}
}

// NewWatcher returns a Watcher on api; Run starts it.
func NewWatcher(api API, opts Options) *Watcher {
	if opts.Debounce == 0 {
		opts.Debounce = 50 * time.Millisecond
	}
	if opts.Resync == 0 {
		opts.Resync = 5 * time.Second
	}
	if opts.StatsEvery == 0 {
		opts.StatsEvery = 3 * time.Second
	}
	if opts.Retry == 0 {
		opts.Retry = time.Second
	}
	if opts.Settle == 0 {
		opts.Settle = 200 * time.Millisecond
	}
	if opts.SettleFor == 0 {
		opts.SettleFor = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := Model{Error: "connecting to the daemon", Nodes: []Node{}, Services: []Service{}}
	enc, _ := json.Marshal(m)
	return &Watcher{api: api, opts: opts, log: log, kick: make(chan struct{}, 1),
		model: m, encoded: enc, usage: map[string]Usage{}, subs: map[chan []byte]struct{}{}}
}

// Model returns the current model and its JSON.
func (w *Watcher) Model() (Model, []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.model, w.encoded
}

// Subscribe returns a channel that receives the model's JSON now and on
// every change (only the latest: a slow reader skips the ones between),
// and the function that ends the subscription.
func (w *Watcher) Subscribe() (<-chan []byte, func()) {
	ch := make(chan []byte, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	ch <- w.encoded
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

// Run follows the engine until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { defer wg.Done(); w.follow(ctx) }()
	go func() { defer wg.Done(); w.sampleLoop(ctx) }()

	ok := w.rebuild(ctx)
	resync := time.NewTicker(w.opts.Resync)
	defer resync.Stop()
	for {
		// While the daemon cannot be read, try again every Retry; while
		// tasks are starting, look again every Settle.
		var retry <-chan time.Time
		if !ok {
			retry = time.After(w.opts.Retry)
		} else if m, _ := w.Model(); settling(m, time.Now().Add(-w.opts.SettleFor)) {
			retry = time.After(w.opts.Settle)
		}
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
		case <-retry:
		case <-w.kick:
			// Gather the rest of the burst.
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.opts.Debounce):
			}
			select {
			case <-w.kick:
			default:
			}
		}
		ok = w.rebuild(ctx)
	}
}

// Refresh asks for a rebuild soon.
func (w *Watcher) Refresh() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// follow reads /events, asking for a rebuild on each relevant one, and
// follows again after the stream breaks (the daemon restarting).
func (w *Watcher) follow(ctx context.Context) {
	for ctx.Err() == nil {
		sub, cancel := context.WithCancel(ctx)
		res := w.api.Events(sub, client.EventsListOptions{})
		w.Refresh() // whatever happened while not following
	read:
		for {
			select {
			case <-ctx.Done():
				cancel()
				return
			case m, ok := <-res.Messages:
				if !ok {
					break read
				}
				if relevant(m) {
					w.Refresh()
				}
			case err := <-res.Err:
				w.log.Debug("visualizer: events stream ended", "err", err)
				break read
			}
		}
		cancel()
		w.Refresh()
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.opts.Retry):
		}
	}
}

// relevant is whether an event can change what the page shows.
func relevant(m events.Message) bool {
	switch m.Type {
	case events.ServiceEventType, events.NodeEventType, events.DaemonEventType:
		return true
	case events.ContainerEventType:
		switch m.Action {
		case events.ActionCreate, events.ActionStart, events.ActionDie, events.ActionDestroy, events.ActionStop,
			events.ActionKill, events.ActionOOM, events.ActionPause, events.ActionUnPause, events.ActionRename,
			events.ActionRestart, events.ActionUpdate:
			return true
		}
	}
	return false
}

// settling is whether a task of m meant to run is on its way there and
// changed state after since.
func settling(m Model, since time.Time) bool {
	for _, n := range m.Nodes {
		for _, t := range n.Tasks {
			if t.Desired != "running" || t.State == "running" || !t.Since.After(since) {
				continue
			}
			switch t.State {
			case "new", "pending", "assigned", "accepted", "preparing", "ready", "starting":
				return true
			}
		}
	}
	return false
}

// rebuild reads the model and, if it changed, hands it on; false when
// the daemon could not be read.
func (w *Watcher) rebuild(ctx context.Context) bool {
	w.mu.Lock()
	usage := make(map[string]Usage, len(w.usage))
	for k, v := range w.usage {
		usage[k] = v
	}
	prev := w.model
	w.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	m, err := Build(rctx, w.api, usage)
	cancel()
	if ctx.Err() != nil {
		return true
	}
	if err != nil {
		w.log.Debug("visualizer: read the daemon", "err", err)
		m = prev
		m.Error = err.Error()
		m.Stale = len(prev.Nodes) > 0
	}
	w.publish(m)
	return err == nil
}

func (w *Watcher) publish(m Model) {
	enc, err := json.Marshal(m)
	if err != nil {
		w.log.Error("visualizer: encode the model", "err", err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Equal(enc, w.encoded) {
		return
	}
	w.model, w.encoded = m, enc
	for ch := range w.subs {
		select {
		case <-ch:
		default:
		}
		ch <- enc
	}
}

// sampleLoop samples the local running tasks' usage every StatsEvery and
// asks for a rebuild when it has new figures.
func (w *Watcher) sampleLoop(ctx context.Context) {
	if w.opts.StatsEvery < 0 {
		return
	}
	t := time.NewTicker(w.opts.StatsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, _ := w.Model()
		ids := m.RunningLocal()
		got := make(map[string]Usage, len(ids))
		var mu sync.Mutex
		var wg sync.WaitGroup
		limit := make(chan struct{}, 8)
		for _, id := range ids {
			wg.Add(1)
			limit <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-limit }()
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				u, err := sample(sctx, w.api, id)
				if err != nil {
					w.log.Debug("visualizer: sample usage", "err", err)
					return
				}
				mu.Lock()
				got[id] = u
				mu.Unlock()
			}()
		}
		wg.Wait()
		w.mu.Lock()
		w.usage = got
		w.mu.Unlock()
		if len(got) > 0 || len(ids) > 0 {
			w.Refresh()
		}
	}
}
