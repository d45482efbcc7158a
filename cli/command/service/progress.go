package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

// The task states in their order of progress; a state after running is
// terminal.
var stateRank = map[swarmtypes.TaskState]int64{
	swarmtypes.TaskStateNew: 1, swarmtypes.TaskStateAllocated: 2, swarmtypes.TaskStatePending: 3,
	swarmtypes.TaskStateAssigned: 4, swarmtypes.TaskStateAccepted: 5, swarmtypes.TaskStatePreparing: 6,
	swarmtypes.TaskStateReady: 7, swarmtypes.TaskStateStarting: 8, swarmtypes.TaskStateRunning: 9,
	swarmtypes.TaskStateComplete: 10, swarmtypes.TaskStateShutdown: 11, swarmtypes.TaskStateFailed: 12,
	swarmtypes.TaskStateRejected: 13,
}

const (
	// stateWidth pads a task's state in its progress line (the longest
	// state shown, "allocated" or "preparing").
	stateWidth = 9
	// maxBars is how many tasks get a line of their own.
	maxBars = 20
	// serviceSteps and jobSteps are the bar's length in states.
	serviceSteps = 9
	jobSteps     = 10
	// pollInterval is how often the service and its tasks are read.
	pollInterval = 200 * time.Millisecond
)

func terminal(s swarmtypes.TaskState) bool {
	return stateRank[s] > stateRank[swarmtypes.TaskStateRunning]
}

// display is the convergence progress block (command.LineBlock).
type display struct{ *command.LineBlock }

func newDisplay(out io.Writer) *display {
	return &display{command.NewLineBlock(out, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", true)}
}

// bar is docker's progress bar for current of total, or "" when there is
// no total or the terminal is too narrow.
func (d *display) bar(current, total int64) string {
	if total <= 0 || d.Width <= 110 {
		return ""
	}
	return command.ProgressBar(current, total)
}

// set shows text (and the bar for current/total) on id's line.
func (d *display) set(id, text string, current, total int64) {
	d.Set(id, id+": "+text+" "+d.bar(current, total))
}

func (d *display) message(text string) { d.Message(text) }

func (d *display) flush() { d.Flush() }

// waiter follows a service until it converges, as docker's service create,
// update, scale and rollback do without -d.
type waiter struct {
	api     client.APIClient
	out     *display
	prog    string // "berth", for the hint printed on ^C
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	signals <-chan os.Signal
}

// waitOnService follows serviceID until it converges (or fails), drawing
// progress on out unless quiet.
func waitOnService(ctx context.Context, api client.APIClient, out io.Writer, prog, serviceID string, quiet bool) error {
	if quiet {
		out = io.Discard
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	w := &waiter{api: api, out: newDisplay(out), prog: prog, now: time.Now, sleep: sleepCtx, signals: sig}
	err := w.run(ctx, serviceID)
	w.out.flush()
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// updater draws the tasks of one kind of service and says whether they
// have all converged.
type updater interface {
	update(svc swarmtypes.Service, tasks []swarmtypes.Task, active map[string]bool, rollback bool) (bool, error)
}

func (w *waiter) run(ctx context.Context, serviceID string) error {
	var (
		upd         updater
		converged   bool
		convergedAt time.Time
		rollback    bool
		final       string
		monitor     = defaultMonitor
	)
	for {
		res, err := w.api.ServiceInspect(ctx, serviceID, client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		svc := res.Service
		if c := svc.Spec.UpdateConfig; c != nil && c.Monitor != 0 {
			monitor = c.Monitor
		}
		if upd == nil {
			if upd, err = w.newUpdater(svc); err != nil {
				return err
			}
		}
		if us := svc.UpdateStatus; us != nil {
			switch us.State {
			case swarmtypes.UpdateStateUpdating:
				rollback = false
			case swarmtypes.UpdateStateCompleted:
				if !converged {
					return nil
				}
			case swarmtypes.UpdateStatePaused:
				return fmt.Errorf("service update paused: %s", us.Message)
			case swarmtypes.UpdateStateRollbackStarted:
				if !rollback && us.Message != "" {
					w.out.set("rollback", us.Message, 0, 0)
				}
				rollback = true
			case swarmtypes.UpdateStateRollbackPaused:
				return fmt.Errorf("service rollback paused: %s", us.Message)
			case swarmtypes.UpdateStateRollbackCompleted:
				if !converged {
					final = us.Message
				}
				rollback = true
			}
		}
		if converged && w.now().Sub(convergedAt) >= monitor {
			w.out.set("verify", fmt.Sprintf("Service %s converged", serviceID), 0, 0)
			if final != "" {
				w.out.set("rollback", final, 0, 0)
			}
			return nil
		}
		tasks, err := w.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID).Add("_up-to-date", "true")})
		if err != nil {
			return err
		}
		active, err := activeNodes(ctx, w.api)
		if err != nil {
			return err
		}
		if converged, err = upd.update(svc, tasks.Items, active, rollback); err != nil {
			return err
		}
		if converged {
			if svc.JobStatus != nil {
				w.out.message("job complete")
				return nil
			}
			if convergedAt.IsZero() {
				convergedAt = w.now()
			}
			if wait := monitor - w.now().Sub(convergedAt); wait >= 0 {
				w.out.set("verify", fmt.Sprintf("Waiting %d seconds to verify that tasks are stable...", wait/time.Second+1), 0, 0)
			}
		} else {
			if !convergedAt.IsZero() {
				w.out.set("verify", "Detected task failure", 0, 0)
			}
			convergedAt = time.Time{}
		}
		select {
		case <-w.signals:
			if !converged {
				w.out.message("Operation continuing in background.")
				w.out.message(fmt.Sprintf("Use `%s service ps %s` to check progress.", w.prog, serviceID))
			}
			return nil
		default:
		}
		if err := w.sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

func (w *waiter) newUpdater(svc swarmtypes.Service) (updater, error) {
	m := svc.Spec.Mode
	switch {
	case m.Replicated != nil && m.Replicated.Replicas != nil:
		return &replicatedUpdater{convergence: convergence{out: w.out}}, nil
	case m.Global != nil:
		return &globalUpdater{convergence{out: w.out}}, nil
	case m.ReplicatedJob != nil:
		j := &replicatedJobUpdater{out: w.out}
		if m.ReplicatedJob.MaxConcurrent != nil {
			j.concurrent = int(*m.ReplicatedJob.MaxConcurrent)
		}
		if m.ReplicatedJob.TotalCompletions != nil {
			j.total = int(*m.ReplicatedJob.TotalCompletions)
		}
		if svc.JobStatus != nil {
			j.iteration = svc.JobStatus.JobIteration.Index
		}
		return j, nil
	case m.GlobalJob != nil:
		return &globalJobUpdater{out: w.out}, nil
	}
	return nil, errors.New("unrecognized service mode")
}

// overall writes the "overall progress" line.
func overall(out *display, done, total int, rollback bool) {
	if rollback {
		out.set("overall progress", fmt.Sprintf("rolling back update: %d out of %d tasks", done, total), 0, 0)
		return
	}
	out.set("overall progress", fmt.Sprintf("%d out of %d tasks", done, total), 0, 0)
}

// truncError fits a task error on its progress line.
func truncError(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 75 {
		s = s[:74] + "…"
	}
	return s
}

// taskLine writes a task's progress line: its error, or its state with a
// bar (only for a task still on its way).
func taskLine(out *display, id string, t swarmtypes.Task, steps int64, always bool) {
	if t.Status.Err != "" {
		out.set(id, truncError(t.Status.Err), 0, 0)
		return
	}
	if always || (!terminal(t.DesiredState) && !terminal(t.Status.State)) {
		out.set(id, fmt.Sprintf("%-*s", stateWidth, t.Status.State), stateRank[t.Status.State], steps)
	}
}

// better reports whether t should stand for its slot (or node) rather
// than have: the one meant to run, the most advanced.
func better(have, t swarmtypes.Task) bool {
	if stateRank[have.DesiredState] < stateRank[t.DesiredState] {
		return false
	}
	if stateRank[have.DesiredState] == stateRank[t.DesiredState] && stateRank[have.Status.State] <= stateRank[t.Status.State] {
		return false
	}
	return true
}

// behind reports whether t, of a job, is less advanced than have: a job's
// slot (or node) shows its slowest task.
func behind(have, t swarmtypes.Task) bool {
	return stateRank[have.Status.State] > stateRank[t.Status.State]
}

// pick is, of the tasks keep accepts, the one standing for each key (a
// slot, a node): the first seen unless a later one wins over it.
func pick[K comparable](tasks []swarmtypes.Task, key func(swarmtypes.Task) K, keep func(swarmtypes.Task) bool, wins func(have, t swarmtypes.Task) bool) map[K]swarmtypes.Task {
	m := map[K]swarmtypes.Task{}
	for _, t := range tasks {
		if !keep(t) {
			continue
		}
		if have, ok := m[key(t)]; ok && !wins(have, t) {
			continue
		}
		m[key(t)] = t
	}
	return m
}

func slotOf(t swarmtypes.Task) int    { return t.Slot }
func nodeOf(t swarmtypes.Task) string { return t.NodeID }

func known(t swarmtypes.Task) bool {
	return stateRank[t.DesiredState] != 0 && stateRank[t.Status.State] != 0
}

// convergence is what the replicated and global updaters share: the
// display, and whether the service converged (then only a task that stops
// running shows progress again).
type convergence struct {
	out         *display
	initialized bool
	done        bool
}

// recheck forgets a convergence one of tasks no longer runs for.
func recheck[K comparable](c *convergence, tasks map[K]swarmtypes.Task) {
	if !c.done {
		return
	}
	for _, t := range tasks {
		if t.Status.State != swarmtypes.TaskStateRunning {
			c.done = false
			return
		}
	}
}

// finish shows the overall progress (until converged) and reports whether
// all want tasks run.
func (c *convergence) finish(running, want int, rollback bool) bool {
	if !c.done {
		overall(c.out, running, want, rollback)
		if running == want {
			c.done = true
		}
	}
	return running == want
}

// runningTask reports whether t runs and is meant to.
func runningTask(t swarmtypes.Task) bool {
	return !terminal(t.DesiredState) && t.Status.State == swarmtypes.TaskStateRunning
}

type replicatedUpdater struct {
	convergence
	slots map[int]int
}

func (u *replicatedUpdater) update(svc swarmtypes.Service, tasks []swarmtypes.Task, active map[string]bool, rollback bool) (bool, error) {
	if svc.Spec.Mode.Replicated == nil || svc.Spec.Mode.Replicated.Replicas == nil {
		return false, errors.New("no replica count")
	}
	replicas := *svc.Spec.Mode.Replicated.Replicas
	if !u.initialized {
		u.slots = map[int]int{}
		overall(u.out, 0, int(replicas), rollback)
		if replicas <= maxBars {
			for i := uint64(1); i <= replicas; i++ {
				u.out.set(fmt.Sprintf("%d/%d", i, replicas), " ", 0, 0)
			}
		}
		u.initialized = true
	}
	bySlot := pick(tasks, slotOf, func(t swarmtypes.Task) bool { return known(t) && (t.NodeID == "" || active[t.NodeID]) }, better)
	recheck(&u.convergence, bySlot)
	var running uint64
	for _, slot := range slices.Sorted(maps.Keys(bySlot)) {
		t := bySlot[slot]
		mapped := u.slots[t.Slot]
		if mapped == 0 {
			mapped = len(u.slots) + 1
			u.slots[t.Slot] = mapped
		}
		if runningTask(t) {
			running++
		}
		if !u.done && replicas <= maxBars && uint64(mapped) <= replicas {
			taskLine(u.out, fmt.Sprintf("%d/%d", mapped, replicas), t, serviceSteps, false)
		}
	}
	return u.finish(int(running), int(replicas), rollback), nil
}

type globalUpdater struct{ convergence }

func (u *globalUpdater) update(_ swarmtypes.Service, tasks []swarmtypes.Task, active map[string]bool, rollback bool) (bool, error) {
	byNode := pick(tasks, nodeOf, known, better)
	nodes := len(byNode)
	if !u.initialized {
		if nodes == 0 {
			u.out.set("overall progress", "waiting for new tasks", 0, 0)
			return false, nil
		}
		overall(u.out, 0, nodes, rollback)
		u.initialized = true
	}
	recheck(&u.convergence, byNode)
	running := 0
	for _, id := range slices.Sorted(maps.Keys(byNode)) {
		t := byNode[id]
		if !active[t.NodeID] {
			continue
		}
		if runningTask(t) {
			running++
		}
		if !u.done && nodes <= maxBars {
			taskLine(u.out, formatter.ShortID(t.NodeID), t, serviceSteps, false)
		}
	}
	return u.finish(running, nodes, rollback), nil
}

type replicatedJobUpdater struct {
	out               *display
	iteration         uint64
	concurrent, total int
	initialized       bool
}

func (u *replicatedJobUpdater) overall(active, completed int) {
	digits := len(strconv.Itoa(u.total))
	u.out.set("job progress", fmt.Sprintf("%*d out of %d complete", digits, completed, u.total), int64(completed), int64(u.total))
	desired := min(u.total-completed, u.concurrent)
	u.out.set("active tasks", fmt.Sprintf("%[1]*[2]d out of %[1]*[3]d tasks", len(strconv.Itoa(u.concurrent)), active, desired), 0, 0)
}

func (u *replicatedJobUpdater) update(_ swarmtypes.Service, tasks []swarmtypes.Task, _ map[string]bool, _ bool) (bool, error) {
	if !u.initialized {
		u.overall(0, 0)
		if u.total <= maxBars {
			for i := 1; i <= u.total; i++ {
				u.out.set(fmt.Sprintf("%d/%d", i, u.total), " ", 0, 0)
			}
		}
		u.initialized = true
	}
	bySlot := pick(tasks, slotOf, func(t swarmtypes.Task) bool {
		return t.JobIteration != nil && t.JobIteration.Index == u.iteration && known(t)
	}, behind)
	active, complete := 0, 0
	for _, slot := range slices.Sorted(maps.Keys(bySlot)) {
		t := bySlot[slot]
		if u.total <= maxBars {
			taskLine(u.out, fmt.Sprintf("%d/%d", t.Slot+1, u.total), t, jobSteps, true)
		}
		if stateRank[t.Status.State] < stateRank[swarmtypes.TaskStateComplete] {
			active++
		}
		if t.Status.State == swarmtypes.TaskStateComplete {
			complete++
		}
	}
	u.overall(active, complete)
	return complete == u.total, nil
}

type globalJobUpdater struct {
	out         *display
	initialized bool
	total       int
	nodes       map[string]bool
}

func (u *globalJobUpdater) overall(complete int) {
	digits := len(strconv.Itoa(u.total))
	u.out.set("job progress", fmt.Sprintf("%*d out of %d complete", digits, complete, u.total), int64(complete), int64(u.total))
}

func (u *globalJobUpdater) update(svc swarmtypes.Service, tasks []swarmtypes.Task, active map[string]bool, _ bool) (bool, error) {
	var iteration uint64
	if svc.JobStatus != nil {
		iteration = svc.JobStatus.JobIteration.Index
	}
	current := func(t swarmtypes.Task) bool { return t.JobIteration != nil && t.JobIteration.Index == iteration }
	if !u.initialized {
		if len(tasks) == 0 && len(active) != 0 {
			u.out.set("job progress", "waiting for tasks", 0, 0)
			return false, nil
		}
		u.nodes = map[string]bool{}
		for _, t := range tasks {
			if current(t) {
				u.nodes[t.NodeID] = true
			}
		}
		u.total = len(u.nodes)
		u.overall(0)
		u.initialized = true
	}
	byNode := pick(tasks, nodeOf, func(t swarmtypes.Task) bool { return current(t) && u.nodes[t.NodeID] }, behind)
	complete := 0
	for _, id := range slices.Sorted(maps.Keys(byNode)) {
		t := byNode[id]
		if u.total <= maxBars {
			taskLine(u.out, t.NodeID, t, jobSteps, true)
		}
		if t.Status.State == swarmtypes.TaskStateComplete {
			complete++
		}
	}
	u.overall(complete)
	return complete == u.total, nil
}
