package container

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
)

func newContainer(t *testing.T, name string) *Container {
	return &Container{ID: GenerateID(), Name: "/" + name, Created: time.Now(), Config: &apicontainer.Config{Image: "busybox"},
		HostConfig: &apicontainer.HostConfig{}, Root: t.TempDir(), MountPoints: map[string]*MountPoint{}}
}

func TestWaitConditions(t *testing.T) {
	c := newContainer(t, "w")
	ctx := context.Background()
	// Not running: not-running answers at once.
	select {
	case <-c.Wait(ctx, apicontainer.WaitConditionNotRunning):
	case <-time.After(time.Second):
		t.Fatal("not-running wait on a created container blocked")
	}
	c.Lock()
	c.SetRunning(42, time.Now())
	c.Unlock()
	notRunning := c.Wait(ctx, apicontainer.WaitConditionNotRunning)
	nextExit := c.Wait(ctx, apicontainer.WaitConditionNextExit)
	removed := c.Wait(ctx, apicontainer.WaitConditionRemoved)
	c.Lock()
	c.SetStopped(3, false, time.Now(), "")
	c.Unlock()
	for name, ch := range map[string]<-chan apicontainer.WaitResponse{"not-running": notRunning, "next-exit": nextExit} {
		select {
		case r := <-ch:
			if r.StatusCode != 3 {
				t.Errorf("%s: code %d", name, r.StatusCode)
			}
		case <-time.After(time.Second):
			t.Fatalf("%s did not fire", name)
		}
	}
	select {
	case <-removed:
		t.Fatal("removed fired before removal")
	default:
	}
	c.NotifyRemoved()
	select {
	case <-removed:
	case <-time.After(time.Second):
		t.Fatal("removed did not fire")
	}
}

func TestStoreResolution(t *testing.T) {
	s := &Store{byID: map[string]*Container{}, byName: map[string]string{}}
	a := newContainer(t, "web")
	a.ID = "abc1" + strings.Repeat("0", 60)
	b := newContainer(t, "db")
	b.ID = "abc2" + strings.Repeat("0", 60)
	for _, c := range []*Container{a, b} {
		if err := s.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	dup := newContainer(t, "web")
	if err := s.Add(dup); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `The container name "/web" is already in use by container "`+a.ID+`"`) {
		t.Errorf("duplicate name: %v", err)
	}
	tests := []struct {
		ref  string
		want *Container
		err  func(error) bool
	}{
		{a.ID, a, nil}, {"web", a, nil}, {"/db", b, nil}, {"abc2", b, nil},
		{"abc", nil, errdefs.IsInvalidArgument}, {"nope", nil, errdefs.IsNotFound},
	}
	for _, tt := range tests {
		got, err := s.Get(tt.ref)
		if tt.err != nil {
			if !tt.err(err) {
				t.Errorf("Get(%q) error = %v", tt.ref, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Get(%q) = %v", tt.ref, got)
		}
	}
	if err := s.Rename(a, "db"); !errdefs.IsConflict(err) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := s.Rename(a, "frontend"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("frontend"); got != a {
		t.Error("renamed container not found")
	}
}

func TestToDiskRoundTrip(t *testing.T) {
	c := newContainer(t, "disk")
	c.Lock()
	c.SetRunning(7, time.Now())
	c.RestartCount = 2
	if err := c.ToDisk(); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	got, err := load(c.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Name != "/disk" || !got.State.Running || got.State.Pid != 7 || got.RestartCount != 2 {
		t.Errorf("loaded %+v", got)
	}
}

func TestStatusString(t *testing.T) {
	c := newContainer(t, "s")
	if s := c.StatusString(); s != "Created" {
		t.Errorf("created: %q", s)
	}
	c.SetRunning(1, time.Now().Add(-5*time.Second))
	if s := c.StatusString(); s != "Up 5 seconds" {
		t.Errorf("running: %q", s)
	}
	c.SetPaused()
	if s := c.StatusString(); !strings.HasSuffix(s, "(Paused)") {
		t.Errorf("paused: %q", s)
	}
	c.SetStopped(137, false, time.Now().Add(-3*time.Second), "")
	if s := c.StatusString(); s != "Exited (137) 3 seconds ago" {
		t.Errorf("exited: %q", s)
	}
}

func TestRestartManager(t *testing.T) {
	tests := []struct {
		policy string
		exits  []int
		manual bool
		want   []bool
	}{
		{"no", []int{1}, false, []bool{false}},
		{"always", []int{0, 1, 0}, false, []bool{true, true, true}},
		{"always", []int{0}, true, []bool{false}},
		{"unless-stopped", []int{1}, false, []bool{true}},
		{"on-failure", []int{0}, false, []bool{false}},
		{"on-failure:3", []int{1, 1, 1, 1}, false, []bool{true, true, true, false}},
	}
	for _, tt := range tests {
		p, err := ParseRestartPolicy(tt.policy)
		if err != nil {
			t.Fatal(err)
		}
		m := NewRestartManager(p, 0)
		m.scale = 0.001
		for i, code := range tt.exits {
			ok, ch, err := m.ShouldRestart(code, tt.manual, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want[i] {
				t.Errorf("%s exit #%d (%d): restart = %v", tt.policy, i, code, ok)
			}
			if ok {
				if err := <-ch; err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Back-off doubles from 100ms and resets after a long run.
	m := NewRestartManager(apicontainer.RestartPolicy{Name: "always"}, 0)
	m.scale = 0.0001
	var delays []time.Duration
	for i := 0; i < 4; i++ {
		_, ch, _ := m.ShouldRestart(1, false, time.Second)
		<-ch
		delays = append(delays, m.Delay())
	}
	if delays[0] != 100*time.Millisecond || delays[3] != 800*time.Millisecond {
		t.Errorf("back-off = %v", delays)
	}
	_, ch, _ := m.ShouldRestart(1, false, time.Minute)
	<-ch
	if m.Delay() != 100*time.Millisecond {
		t.Errorf("back-off after a long run = %v", m.Delay())
	}
	m.Cancel()
	if ok, _, _ := m.ShouldRestart(1, false, 0); ok {
		t.Error("restart after Cancel")
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x"} {
		if _, err := ParseRestartPolicy(bad); err == nil {
			t.Errorf("ParseRestartPolicy(%q) accepted", bad)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"x", "web-1", "a.b_c"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a b", "a/b"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
