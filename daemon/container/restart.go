package container

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
)

// Backoff bounds, as Docker's restart manager.
const (
	backoffStart    = 100 * time.Millisecond
	backoffMax      = time.Minute
	backoffResetRun = 10 * time.Second
)

// ErrRestartCanceled is sent when a pending restart is cancelled.
var ErrRestartCanceled = errors.New("restart canceled")

// RestartManager decides whether an exited container restarts and when.
type RestartManager struct {
	mu       sync.Mutex
	policy   apicontainer.RestartPolicy
	count    int
	delay    time.Duration
	cancel   chan struct{}
	canceled bool
	// scale shrinks delays in tests.
	scale float64
}

// NewRestartManager starts a supervisor for policy; restartCount is what
// the container has already used (for on-failure:N).
func NewRestartManager(policy apicontainer.RestartPolicy, restartCount int) *RestartManager {
	return &RestartManager{policy: policy, count: restartCount, cancel: make(chan struct{}), scale: 1}
}

// ShouldRestart decides after an exit. When it returns true, the channel
// fires (nil) once the back-off delay has passed, or carries
// ErrRestartCanceled if Cancel is called first.
func (m *RestartManager) ShouldRestart(exitCode int, manuallyStopped bool, ran time.Duration) (bool, <-chan error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.canceled {
		return false, nil, ErrRestartCanceled
	}
	if ran >= backoffResetRun {
		m.delay = 0
	}
	restart := false
	switch {
	case manuallyStopped:
	case m.policy.IsAlways(), m.policy.IsUnlessStopped():
		restart = true
	case m.policy.IsOnFailure():
		restart = exitCode != 0 && (m.policy.MaximumRetryCount == 0 || m.count < m.policy.MaximumRetryCount)
	}
	if !restart {
		return false, nil, nil
	}
	if m.delay == 0 {
		m.delay = backoffStart
	} else {
		m.delay *= 2
		if m.delay > backoffMax {
			m.delay = backoffMax
		}
	}
	m.count++
	delay := time.Duration(float64(m.delay) * m.scale)
	ch := make(chan error, 1)
	cancel := m.cancel
	go func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			ch <- nil
		case <-cancel:
			ch <- ErrRestartCanceled
		}
	}()
	return true, ch, nil
}

// Delay is the back-off chosen by the last ShouldRestart.
func (m *RestartManager) Delay() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.delay
}

// Cancel stops any pending and future restart.
func (m *RestartManager) Cancel() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.canceled {
		m.canceled = true
		close(m.cancel)
	}
}

// ParseRestartPolicy parses --restart.
func ParseRestartPolicy(s string) (apicontainer.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyMode(name)}
	switch name {
	case "", "no":
		p.Name = apicontainer.RestartPolicyDisabled
		if hasCount {
			return p, errdefs.ErrInvalidArgument.WithMessage("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
		}
	case "always", "unless-stopped":
		if hasCount {
			return p, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy format: maximum retry count can only be used with 'on-failure'"))
		}
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy format: maximum retry count must be an integer: %s", count))
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name))
	}
	return p, nil
}
