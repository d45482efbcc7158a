package lifecycle

import (
	"syscall"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
)

// restoreAction is what Restore does with a container found on disk.
type restoreAction int

const (
	// restoreIdle: a stopped container that stays stopped.
	restoreIdle restoreAction = iota
	// restoreStart: a stopped container whose restart policy starts it
	// when the daemon starts.
	restoreStart
	// restoreReattach: it was running; re-attach to its shim.
	restoreReattach
	// restoreRemove: a removal was under way when the daemon died (the
	// flag on disk does not mean one is running now); finish it, whatever
	// the recorded run state.
	restoreRemove
)

func (a restoreAction) String() string {
	switch a {
	case restoreIdle:
		return "idle"
	case restoreStart:
		return "start"
	case restoreReattach:
		return "reattach"
	case restoreRemove:
		return "remove"
	}
	return "unknown"
}

// planRestore decides what Restore does with a container in state st,
// with restart policy p, stopped by hand or not.
func planRestore(st container.State, p apicontainer.RestartPolicy, manuallyStopped bool) restoreAction {
	switch {
	case st.RemovalInProgress || st.Dead:
		return restoreRemove
	case st.Running || st.Paused || st.Restarting:
		return restoreReattach
	case restartsAtBoot(p, manuallyStopped):
		return restoreStart
	}
	return restoreIdle
}

// restartsAtBoot: a stopped container whose policy is always (or
// unless-stopped and it was not stopped by hand) is started when the
// daemon starts, as dockerd does. A container lost while the daemon was
// down is judged the same way.
func restartsAtBoot(p apicontainer.RestartPolicy, manuallyStopped bool) bool {
	return p.IsAlways() || (p.IsUnlessStopped() && !manuallyStopped)
}

// exitAction is what the exit monitor does once a task has exited.
type exitAction int

const (
	// exitLeave: the daemon is shutting down; the shim keeps the
	// container and its exit status for the next daemon.
	exitLeave exitAction = iota
	// exitRecord: record the exit; the container stays, stopped.
	exitRecord
	// exitRestart: mark the container restarting and start it again
	// after the restart manager's back-off.
	exitRestart
	// exitRemove: record the exit, then remove the container (--rm).
	exitRemove
)

func (a exitAction) String() string {
	switch a {
	case exitLeave:
		return "leave"
	case exitRecord:
		return "record"
	case exitRestart:
		return "restart"
	case exitRemove:
		return "remove"
	}
	return "unknown"
}

// exitFacts is what the exit monitor knows when a task has exited.
type exitFacts struct {
	// Shutdown: the daemon is going away.
	Shutdown bool
	// Status is the task's exit status; WaitErr is set when it could not
	// be read (the exit is then recorded as a SIGKILL at Now).
	Status  runtime.ExitStatus
	WaitErr error
	Now     time.Time
	// Restart is the restart manager's verdict (false without a policy).
	Restart bool
	// AutoRemove is --rm.
	AutoRemove bool
}

// exitPlan is what to do after an exit, and the exit to record.
type exitPlan struct {
	Action   exitAction
	Code     int
	OOM      bool
	ExitedAt time.Time
}

// planExit decides what the exit monitor does after a task exited.
func planExit(f exitFacts) exitPlan {
	if f.Shutdown {
		return exitPlan{Action: exitLeave}
	}
	p := exitPlan{Code: f.Status.Code, OOM: f.Status.OOMKilled, ExitedAt: f.Status.ExitedAt}
	if f.WaitErr != nil {
		p = exitPlan{Code: 128 + int(syscall.SIGKILL), ExitedAt: f.Now}
	}
	switch {
	case f.Restart:
		p.Action = exitRestart
	case f.AutoRemove:
		p.Action = exitRemove
	default:
		p.Action = exitRecord
	}
	return p
}
