package lifecycle

import (
	"errors"
	"syscall"
	"testing"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/daemon/container"
	"github.com/berth-project/berth/daemon/runtime"
)

var (
	policyNone          = apicontainer.RestartPolicy{}
	policyNo            = apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyDisabled}
	policyAlways        = apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyAlways}
	policyUnlessStopped = apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyUnlessStopped}
	policyOnFailure     = apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyOnFailure, MaximumRetryCount: 3}
)

// TestPlanRestore: a removal flag found on disk means the previous
// daemon died while removing, so the removal is finished whatever run
// state the record also shows (a dead "Up" container included); a
// stopped container is started only by always, or unless-stopped when
// it was not stopped by hand.
func TestPlanRestore(t *testing.T) {
	started := time.Now().Add(-time.Minute)
	exited := container.State{StartedAt: started, FinishedAt: time.Now(), ExitCode: 1}
	tests := []struct {
		name   string
		st     container.State
		policy apicontainer.RestartPolicy
		manual bool
		want   restoreAction
	}{
		{"created", container.State{}, policyNone, false, restoreIdle},
		{"exited", exited, policyNone, false, restoreIdle},
		{"exited, policy no", exited, policyNo, false, restoreIdle},
		{"exited, on-failure", exited, policyOnFailure, false, restoreIdle},
		{"exited, always", exited, policyAlways, false, restoreStart},
		{"stopped by hand, always", exited, policyAlways, true, restoreStart},
		{"exited, unless-stopped", exited, policyUnlessStopped, false, restoreStart},
		{"stopped by hand, unless-stopped", exited, policyUnlessStopped, true, restoreIdle},
		{"created, always", container.State{}, policyAlways, false, restoreStart},
		{"running", container.State{Running: true, Pid: 42, StartedAt: started}, policyNone, false, restoreReattach},
		{"running, always", container.State{Running: true, Pid: 42, StartedAt: started}, policyAlways, false, restoreReattach},
		{"paused", container.State{Running: true, Paused: true, Pid: 42, StartedAt: started}, policyNone, false, restoreReattach},
		{"restarting", container.State{Running: true, Restarting: true, StartedAt: started}, policyAlways, false, restoreReattach},
		{"removing a stopped container", container.State{RemovalInProgress: true, StartedAt: started}, policyNone, false, restoreRemove},
		{"removing a stopped container, always", container.State{RemovalInProgress: true, StartedAt: started}, policyAlways, false, restoreRemove},
		{"removing a running container", container.State{RemovalInProgress: true, Running: true, Pid: 42, StartedAt: started}, policyNone, false, restoreRemove},
		{"removing with -v", container.State{RemovalInProgress: true, RemoveVolumes: true, Running: true, Pid: 42}, policyNone, false, restoreRemove},
		{"removing a paused container", container.State{RemovalInProgress: true, Running: true, Paused: true}, policyNone, false, restoreRemove},
		{"dead", container.State{Dead: true}, policyAlways, false, restoreRemove},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planRestore(tt.st, tt.policy, tt.manual); got != tt.want {
				t.Errorf("planRestore(%+v, %+v, manual=%v) = %s, want %s", tt.st, tt.policy, tt.manual, got, tt.want)
			}
		})
	}
}

// TestRestartsAtBoot: the policy check for a container lost while the
// daemon was down, the same as for a stopped one.
func TestRestartsAtBoot(t *testing.T) {
	tests := []struct {
		policy apicontainer.RestartPolicy
		manual bool
		want   bool
	}{
		{policyNone, false, false},
		{policyNo, false, false},
		{policyOnFailure, false, false},
		{policyAlways, false, true},
		{policyAlways, true, true},
		{policyUnlessStopped, false, true},
		{policyUnlessStopped, true, false},
	}
	for _, tt := range tests {
		if got := restartsAtBoot(tt.policy, tt.manual); got != tt.want {
			t.Errorf("restartsAtBoot(%q, manual=%v) = %v, want %v", tt.policy.Name, tt.manual, got, tt.want)
		}
	}
}

func TestPlanExit(t *testing.T) {
	exitedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := exitedAt.Add(time.Hour)
	status := runtime.ExitStatus{Code: 3, ExitedAt: exitedAt}
	oom := runtime.ExitStatus{Code: 137, OOMKilled: true, ExitedAt: exitedAt}
	waitErr := errors.New("shim gone")
	sigkill := 128 + int(syscall.SIGKILL)
	tests := []struct {
		name  string
		facts exitFacts
		want  exitPlan
	}{
		{"shutdown", exitFacts{Shutdown: true, Status: status, Now: now}, exitPlan{Action: exitLeave}},
		{"shutdown wins over restart and --rm", exitFacts{Shutdown: true, Status: status, Restart: true, AutoRemove: true, Now: now}, exitPlan{Action: exitLeave}},
		{"shutdown with a wait error", exitFacts{Shutdown: true, WaitErr: waitErr, Now: now}, exitPlan{Action: exitLeave}},
		{"exit", exitFacts{Status: status, Now: now}, exitPlan{Action: exitRecord, Code: 3, ExitedAt: exitedAt}},
		{"oom", exitFacts{Status: oom, Now: now}, exitPlan{Action: exitRecord, Code: 137, OOM: true, ExitedAt: exitedAt}},
		{"restart", exitFacts{Status: status, Restart: true, Now: now}, exitPlan{Action: exitRestart, Code: 3, ExitedAt: exitedAt}},
		{"restart before --rm", exitFacts{Status: status, Restart: true, AutoRemove: true, Now: now}, exitPlan{Action: exitRestart, Code: 3, ExitedAt: exitedAt}},
		{"--rm", exitFacts{Status: status, AutoRemove: true, Now: now}, exitPlan{Action: exitRemove, Code: 3, ExitedAt: exitedAt}},
		{"oom --rm", exitFacts{Status: oom, AutoRemove: true, Now: now}, exitPlan{Action: exitRemove, Code: 137, OOM: true, ExitedAt: exitedAt}},
		{"wait error: a SIGKILL now", exitFacts{Status: oom, WaitErr: waitErr, Now: now}, exitPlan{Action: exitRecord, Code: sigkill, ExitedAt: now}},
		{"wait error, restart", exitFacts{WaitErr: waitErr, Restart: true, Now: now}, exitPlan{Action: exitRestart, Code: sigkill, ExitedAt: now}},
		{"wait error, --rm", exitFacts{WaitErr: waitErr, AutoRemove: true, Now: now}, exitPlan{Action: exitRemove, Code: sigkill, ExitedAt: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planExit(tt.facts); got != tt.want {
				t.Errorf("planExit(%+v) = %+v, want %+v", tt.facts, got, tt.want)
			}
		})
	}
}
