package container

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

func newContainer(t *testing.T, name string) *Container {
	return &Container{ID: GenerateID(), Name: "/" + name, Created: time.Now(), Config: &apicontainer.Config{Image: "busybox"},
		HostConfig: &apicontainer.HostConfig{}, Root: t.TempDir(), MountPoints: map[string]*MountPoint{}}
}

// fired reports the response on ch, or false if none comes within d.
func fired(ch <-chan apicontainer.WaitResponse, d time.Duration) (apicontainer.WaitResponse, bool) {
	select {
	case r, ok := <-ch:
		return r, ok
	case <-time.After(d):
		return apicontainer.WaitResponse{}, false
	}
}

func TestWaitConditions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		cond      apicontainer.WaitCondition
		running   bool
		transit   func(c *Container) // what happens after Wait is called
		wantFired bool
		wantCode  int64
		wantErr   string
	}{
		{"not-running on a created container", apicontainer.WaitConditionNotRunning, false, nil, true, 0, ""},
		{"default is not-running", "", false, nil, true, 0, ""},
		{"not-running waits for the exit", apicontainer.WaitConditionNotRunning, true,
			func(c *Container) { c.SetStopped(3, false, time.Now(), "") }, true, 3, ""},
		{"not-running blocks while running", apicontainer.WaitConditionNotRunning, true, nil, false, 0, ""},
		{"next-exit blocks on a stopped container", apicontainer.WaitConditionNextExit, false, nil, false, 0, ""},
		{"next-exit sees the exit", apicontainer.WaitConditionNextExit, true,
			func(c *Container) { c.SetStopped(1, false, time.Now(), "") }, true, 1, ""},
		{"next-exit sees an exit before a restart", apicontainer.WaitConditionNextExit, true,
			func(c *Container) { c.SetRestarting(2, time.Now()) }, true, 2, ""},
		{"not-running sees an exit before a restart", apicontainer.WaitConditionNotRunning, true,
			func(c *Container) { c.SetRestarting(2, time.Now()) }, true, 2, ""},
		{"a start failure carries its error", apicontainer.WaitConditionNextExit, false,
			func(c *Container) { c.SetStopped(127, false, time.Now(), "exec: \"nope\": not found") }, true, 127, "exec: \"nope\": not found"},
		{"removed ignores an exit", apicontainer.WaitConditionRemoved, true,
			func(c *Container) { c.SetStopped(0, false, time.Now(), "") }, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContainer(t, "w")
			if tt.running {
				c.SetRunning(42, time.Now())
			}
			ch := c.Wait(ctx, tt.cond)
			if tt.transit != nil {
				c.Lock()
				tt.transit(c)
				c.Unlock()
			}
			r, ok := fired(ch, 100*time.Millisecond)
			if ok != tt.wantFired {
				t.Fatalf("fired = %v", ok)
			}
			if !ok {
				return
			}
			if r.StatusCode != tt.wantCode {
				t.Errorf("code = %d", r.StatusCode)
			}
			if (r.Error == nil) != (tt.wantErr == "") || (r.Error != nil && r.Error.Message != tt.wantErr) {
				t.Errorf("error = %+v", r.Error)
			}
		})
	}
}

func TestWaitRemovedAndCancel(t *testing.T) {
	c := newContainer(t, "r")
	c.SetRunning(1, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := c.Wait(ctx, apicontainer.WaitConditionNotRunning)
	removed := c.Wait(context.Background(), apicontainer.WaitConditionRemoved)
	cancel()
	if _, ok := fired(cancelled, time.Second); ok {
		t.Error("a cancelled wait got a response")
	}
	time.Sleep(10 * time.Millisecond)
	c.Lock()
	if n := len(c.waiters); n != 1 {
		t.Errorf("%d waiters left after a cancel, want 1", n)
	}
	c.SetStopped(0, false, time.Now(), "")
	c.SetDead()
	c.Unlock()
	if _, ok := fired(removed, 50*time.Millisecond); ok {
		t.Fatal("removed fired before removal")
	}
	c.NotifyRemoved()
	if _, ok := fired(removed, time.Second); !ok {
		t.Fatal("removed did not fire")
	}
	if _, ok := fired(c.Wait(context.Background(), apicontainer.WaitConditionRemoved), time.Second); !ok {
		t.Fatal("removed on a removed container did not answer at once")
	}
}

func TestRemovalInProgress(t *testing.T) {
	c := newContainer(t, "rm")
	if err := c.SetRemovalInProgress(false); err != nil {
		t.Fatal(err)
	}
	err := c.SetRemovalInProgress(false)
	if !errdefs.IsConflict(err) || err.Error() != "removal of container "+c.ID[:12]+" is already in progress" {
		t.Errorf("second removal: %v", err)
	}
	if c.StateString() != "removing" || c.StatusString() != "Removal In Progress" {
		t.Errorf("state %q status %q", c.StateString(), c.StatusString())
	}
	c.SetDead()
	if c.StateString() != "dead" || c.StatusString() != "Dead" {
		t.Errorf("state %q status %q", c.StateString(), c.StatusString())
	}
}

// TestRemovalStateSurvivesReload: the removal flag and its -v choice are
// on disk, so a daemon that died mid-removal knows to finish it.
func TestRemovalStateSurvivesReload(t *testing.T) {
	for _, removeVolumes := range []bool{false, true} {
		c := newContainer(t, "rm")
		if err := c.SetRemovalInProgress(removeVolumes); err != nil {
			t.Fatal(err)
		}
		if err := c.ToDisk(); err != nil {
			t.Fatal(err)
		}
		got, err := load(c.Root)
		if err != nil {
			t.Fatal(err)
		}
		if !got.State.RemovalInProgress || got.State.RemoveVolumes != removeVolumes {
			t.Errorf("removeVolumes=%v: reloaded state %+v", removeVolumes, got.State)
		}
		c.ResetRemovalInProgress()
		if c.State.RemovalInProgress || c.State.RemoveVolumes {
			t.Errorf("after reset: %+v", c.State)
		}
	}
}

// TestToDiskAfterGone: once a removal marked the container gone, a late
// ToDisk (the exit monitor's) must not recreate its files.
func TestToDiskAfterGone(t *testing.T) {
	c := newContainer(t, "gone")
	if err := c.ToDisk(); err != nil {
		t.Fatal(err)
	}
	c.SetGone()
	if !c.State.Dead || c.State.RemovalInProgress {
		t.Errorf("state after SetGone: %+v", c.State)
	}
	for _, f := range []string{"config.v2.json", "hostconfig.json"} {
		if err := os.Remove(filepath.Join(c.Root, f)); err != nil {
			t.Fatal(err)
		}
	}
	c.SetStopped(137, false, time.Now(), "")
	if err := c.ToDisk(); err != nil {
		t.Fatalf("ToDisk of a gone container: %v", err)
	}
	entries, err := os.ReadDir(c.Root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("ToDisk after SetGone wrote %v", entries)
	}
}

func TestStateAndStatusStrings(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		state     State
		wantState string
		status    string
	}{
		{"created", State{}, "created", "Created"},
		{"running", State{Running: true, StartedAt: now.Add(-5 * time.Second)}, "running", "Up 5 seconds"},
		{"running long", State{Running: true, StartedAt: now.Add(-2 * time.Minute)}, "running", "Up 2 minutes"},
		{"paused", State{Running: true, Paused: true, StartedAt: now.Add(-2 * time.Minute)}, "paused", "Up 2 minutes (Paused)"},
		{"restarting", State{Running: true, Restarting: true, ExitCode: 1, StartedAt: now.Add(-time.Minute), FinishedAt: now.Add(-2 * time.Second)}, "restarting", "Restarting (1) 2 seconds ago"},
		{"exited", State{ExitCode: 0, StartedAt: now.Add(-time.Minute), FinishedAt: now.Add(-3 * time.Second)}, "exited", "Exited (0) 3 seconds ago"},
		{"exited by a kill", State{ExitCode: 137, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-3 * time.Hour)}, "exited", "Exited (137) 3 hours ago"},
		{"healthy", State{Running: true, StartedAt: now.Add(-time.Minute), Health: &apicontainer.Health{Status: apicontainer.Healthy}}, "running", "Up About a minute (healthy)"},
		{"health starting", State{Running: true, StartedAt: now.Add(-time.Second), Health: &apicontainer.Health{Status: apicontainer.Starting}}, "running", "Up 1 second (health: starting)"},
		{"removing", State{RemovalInProgress: true, StartedAt: now.Add(-time.Minute), FinishedAt: now}, "removing", "Removal In Progress"},
		{"dead", State{Dead: true, StartedAt: now.Add(-time.Minute), FinishedAt: now}, "dead", "Dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Container{State: tt.state}
			if got := c.StateString(); got != tt.wantState {
				t.Errorf("StateString = %q, want %q", got, tt.wantState)
			}
			if got := c.statusAt(now); got != tt.status {
				t.Errorf("StatusString = %q, want %q", got, tt.status)
			}
		})
	}
}

func TestStoreResolution(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := newContainer(t, "web")
	a.ID = "abc1" + strings.Repeat("0", 60)
	b := newContainer(t, "db")
	b.ID = "abc2" + strings.Repeat("0", 60)
	// A container whose name is another's ID prefix: the name wins.
	n := newContainer(t, "abc2")
	n.ID = "ffff" + strings.Repeat("1", 60)
	for _, c := range []*Container{a, b, n} {
		if err := s.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	dup := newContainer(t, "web")
	want := `Conflict. The container name "/web" is already in use by container "` + a.ID + `". You have to remove (or rename) that container to be able to reuse that name.`
	if err := s.Add(dup); !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("duplicate name: %v", err)
	}
	tests := []struct {
		ref     string
		want    *Container
		err     func(error) bool
		message string
	}{
		{a.ID, a, nil, ""},
		{"web", a, nil, ""},
		{"/db", b, nil, ""},
		{"abc1", a, nil, ""},
		{"abc2", n, nil, ""}, // exact name before ID prefix
		{"ffff", n, nil, ""},
		{"abc", nil, errdefs.IsInvalidArgument, "multiple IDs found with provided prefix: abc"},
		{"nope", nil, errdefs.IsNotFound, "No such container: nope"},
		{"", nil, errdefs.IsNotFound, "No such container: "},
	}
	for _, tt := range tests {
		got, err := s.Get(tt.ref)
		if tt.err != nil {
			if !tt.err(err) || err.Error() != tt.message {
				t.Errorf("Get(%q) error = %v", tt.ref, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Get(%q) = %v, %v", tt.ref, got, err)
		}
	}
	renames := []struct {
		name string
		err  func(error) bool
	}{
		{"db", errdefs.IsConflict},
		{"web", errdefs.IsInvalidArgument}, // its own name
		{"bad name", errdefs.IsInvalidArgument},
		{"/frontend", nil},
	}
	for _, r := range renames {
		err := s.Rename(a, r.name)
		if (r.err == nil) != (err == nil) || (r.err != nil && !r.err(err)) {
			t.Errorf("Rename(%q) = %v", r.name, err)
		}
	}
	if got, _ := s.Get("frontend"); got != a || a.Name != "/frontend" {
		t.Error("renamed container not found")
	}
	if _, err := s.Get("web"); !errdefs.IsNotFound(err) {
		t.Errorf("old name still resolves: %v", err)
	}
	if err := s.Add(newContainer(t, "web")); err != nil {
		t.Errorf("old name not freed: %v", err)
	}
	s.Delete(b.ID)
	if _, err := s.Get("db"); !errdefs.IsNotFound(err) {
		t.Errorf("deleted container resolves: %v", err)
	}
}

func TestListNewestFirst(t *testing.T) {
	s, _ := New(t.TempDir())
	base := time.Now()
	for i := 0; i < 5; i++ {
		c := newContainer(t, "c"+strconv.Itoa(i))
		c.Created = base.Add(time.Duration(i) * time.Second)
		_ = s.Add(c)
	}
	l := s.List()
	for i := 1; i < len(l); i++ {
		if l[i].Created.After(l[i-1].Created) {
			t.Fatalf("List not newest first at %d", i)
		}
	}
	if len(l) != 5 || l[0].Name != "/c4" {
		t.Errorf("List = %d, first %s", len(l), l[0].Name)
	}
}

func TestToDiskAndLoad(t *testing.T) {
	root := t.TempDir()
	c := newContainer(t, "disk")
	c.Root = filepath.Join(root, c.ID)
	_ = os.Mkdir(c.Root, 0o700)
	c.Path, c.Args = "sh", []string{"-c", "true"}
	c.HostConfig.RestartPolicy = apicontainer.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}
	c.MountPoints["/data"] = &MountPoint{Type: mount.TypeVolume, Name: "v", Source: "/x/_data", Destination: "/data", Driver: "local", RW: true}
	c.Lock()
	c.SetRunning(7, time.Now())
	c.State.Health = &apicontainer.Health{Status: apicontainer.Healthy}
	c.RestartCount = 2
	if err := c.ToDisk(); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	for _, f := range []string{"config.v2.json", "hostconfig.json"} {
		if fi, err := os.Stat(filepath.Join(c.Root, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(c.Root, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	// Corrupt and foreign entries are skipped, never fatal.
	_ = os.MkdirAll(filepath.Join(root, "corrupt"), 0o700)
	_ = os.WriteFile(filepath.Join(root, "corrupt", "config.v2.json"), []byte("{"), 0o600)
	_ = os.MkdirAll(filepath.Join(root, "empty"), 0o700)
	_ = os.WriteFile(filepath.Join(root, "stray-file"), nil, 0o600)
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.List()); n != 1 {
		t.Fatalf("loaded %d containers", n)
	}
	got, err := s.Get("disk")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Root != c.Root || !got.State.Running || got.State.Pid != 7 || got.RestartCount != 2 ||
		got.Path != "sh" || len(got.Args) != 2 || got.HostConfig.RestartPolicy.MaximumRetryCount != 3 ||
		got.MountPoints["/data"].Name != "v" || got.State.Health.Status != apicontainer.Healthy || !got.HasBeenStartedBefore {
		t.Errorf("loaded %+v", got)
	}
}

// TestRemoveRoot: the dir goes, and a removal that died while deleting
// (the renamed dir left behind) is finished by the next New.
func TestRemoveRoot(t *testing.T) {
	root := t.TempDir()
	c := newContainer(t, "rmroot")
	c.Root = filepath.Join(root, c.ID)
	if err := os.MkdirAll(filepath.Join(c.Root, "rootfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	c.Lock()
	err := c.ToDisk()
	c.SetGone()
	c.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveRoot(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left after RemoveRoot: %v", entries)
	}
	// What a daemon killed in the middle of RemoveRoot leaves.
	trash := filepath.Join(root, trashPrefix+GenerateID())
	if err := os.MkdirAll(filepath.Join(trash, "rootfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trash, "hostconfig.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("loaded %d containers from a removal's leftovers", n)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("New left %v", entries)
	}
}

func TestSummaryAndInspect(t *testing.T) {
	c := newContainer(t, "api")
	c.Path, c.Args = "sh", []string{"-c", "echo hi"}
	c.Config.Labels = map[string]string{"a": "b"}
	c.ImageID = "sha256:abc"
	c.HostConfig.NetworkMode = "bridge"
	c.MountPoints["/z"] = &MountPoint{Type: mount.TypeBind, Source: "/h", Destination: "/z", RW: true}
	c.MountPoints["/a"] = &MountPoint{Type: mount.TypeTmpfs, Destination: "/a"}
	s := c.Summary()
	if s.ID != c.ID || s.Names[0] != "/api" || s.Image != "busybox" || s.ImageID != "sha256:abc" ||
		s.Command != "sh -c echo hi" || s.State != "created" || s.Status != "Created" || s.Labels["a"] != "b" ||
		s.HostConfig.NetworkMode != "bridge" || len(s.Mounts) != 2 || s.Mounts[0].Destination != "/a" {
		t.Errorf("summary %+v", s)
	}
	r := c.InspectBase()
	if r.State.StartedAt != "0001-01-01T00:00:00Z" || r.State.Status != "created" || r.Image != "sha256:abc" ||
		r.Name != "/api" || r.Driver != "overlay2" || r.Path != "sh" || len(r.Args) != 2 ||
		r.HostnamePath != filepath.Join(c.Root, "hostname") {
		t.Errorf("inspect %+v", r)
	}
	started := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	c.SetRunning(9, started)
	if r := c.InspectBase(); r.State.StartedAt != "2026-11-22T12:00:00.123456789Z" || !r.State.Running || r.State.Pid != 9 {
		t.Errorf("inspect running %+v", r.State)
	}
}

func TestNamesAndIDs(t *testing.T) {
	for _, ok := range []string{"x", "web-1", "a.b_c", "/web", "A9"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "_x", "a b", "a/b", "//a", "é"} {
		err := ValidateName(bad)
		if !errdefs.IsInvalidArgument(err) || err.Error() != "Invalid container name ("+bad+"), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id := GenerateID()
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("bad ID %q", id)
		}
		if _, err := strconv.ParseUint(id[:12], 10, 64); err == nil {
			t.Fatalf("all-numeric short ID %q", id)
		}
		seen[id] = true
	}
	taken := map[string]bool{}
	for i := 0; i < 300; i++ {
		n := GenerateName(func(s string) bool { return taken[s] })
		if taken[n] || ValidateName(n) != nil || !strings.Contains(n, "_") {
			t.Fatalf("GenerateName gave %q", n)
		}
		taken[n] = true
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy string
		exits  []int
		manual bool
		want   []bool
	}{
		{"no", []int{1}, false, []bool{false}},
		{"", []int{1}, false, []bool{false}},
		{"always", []int{0, 1, 0}, false, []bool{true, true, true}},
		{"always", []int{0}, true, []bool{false}},
		{"unless-stopped", []int{1, 0}, false, []bool{true, true}},
		{"unless-stopped", []int{0}, true, []bool{false}},
		{"on-failure", []int{0}, false, []bool{false}},
		{"on-failure", []int{1, 1, 1, 1, 1}, false, []bool{true, true, true, true, true}},
		{"on-failure", []int{1}, true, []bool{false}},
		{"on-failure:3", []int{1, 1, 1, 1}, false, []bool{true, true, true, false}},
		{"on-failure:3", []int{1, 0, 1}, false, []bool{true, false, true}},
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
	// The count survives a daemon restart through RestartCount.
	p, _ := ParseRestartPolicy("on-failure:3")
	if ok, _, _ := NewRestartManager(p, 3).ShouldRestart(1, false, 0); ok {
		t.Error("on-failure:3 restarted a container that has used its 3 restarts")
	}
}

func TestRestartBackoff(t *testing.T) {
	m := NewRestartManager(apicontainer.RestartPolicy{Name: "always"}, 0)
	m.scale = 0.0001
	ran := []time.Duration{time.Second, time.Second, time.Second, time.Second, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15 * time.Second, time.Second}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 100, 200}
	for i, r := range ran {
		ok, ch, err := m.ShouldRestart(1, false, r)
		if !ok || err != nil {
			t.Fatalf("#%d: %v %v", i, ok, err)
		}
		<-ch
		if got := m.Delay(); got != want[i]*time.Millisecond {
			t.Errorf("#%d: delay %v, want %v", i, got, want[i]*time.Millisecond)
		}
	}
	// Cancel fires a pending restart with an error and refuses later ones.
	m.scale = 1
	_, ch, _ := m.ShouldRestart(1, false, 0)
	m.Cancel()
	select {
	case err := <-ch:
		if err == nil {
			t.Error("cancelled restart fired without an error")
		}
	case <-time.After(time.Second):
		t.Fatal("Cancel did not fire the pending restart")
	}
	if ok, _, _ := m.ShouldRestart(1, false, 0); ok {
		t.Error("restart after Cancel")
	}
	m.Cancel() // twice is fine
}

func TestParseRestartPolicy(t *testing.T) {
	tests := []struct {
		in    string
		name  apicontainer.RestartPolicyMode
		count int
		bad   bool
	}{
		{"", "no", 0, false},
		{"no", "no", 0, false},
		{"always", "always", 0, false},
		{"unless-stopped", "unless-stopped", 0, false},
		{"on-failure", "on-failure", 0, false},
		{"on-failure:3", "on-failure", 3, false},
		{"on-failure:x", "", 0, true},
		{"on-failure:-1", "", 0, true},
		{"always:3", "", 0, true},
		{"no:1", "", 0, true},
		{"sometimes", "", 0, true},
	}
	for _, tt := range tests {
		p, err := ParseRestartPolicy(tt.in)
		if tt.bad {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%q: %v", tt.in, err)
			}
			continue
		}
		if err != nil || p.Name != tt.name || p.MaximumRetryCount != tt.count {
			t.Errorf("%q = %+v, %v", tt.in, p, err)
		}
	}
}

func FuzzParseRestartPolicy(f *testing.F) {
	for _, s := range []string{"no", "always", "on-failure:3", "on-failure:", ":", "unless-stopped:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseRestartPolicy(s)
		if err == nil && p.MaximumRetryCount < 0 {
			t.Fatalf("%q: negative count", s)
		}
	})
}
