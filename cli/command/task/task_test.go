package task

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/cli/command/internal/apitest"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestCurrentState(t *testing.T) {
	tests := []struct {
		state swarmtypes.TaskState
		ago   time.Duration
		want  string
	}{
		{"running", 5 * time.Second, "Running 5 seconds ago"},
		{"running", 300 * time.Millisecond, "Running less than a second ago"},
		{"failed", 2 * time.Hour, "Failed 2 hours ago"},
		{"shutdown", 70 * time.Second, "Shutdown about a minute ago"},
		{"preparing", 3 * 24 * time.Hour, "Preparing 3 days ago"},
	}
	for _, tt := range tests {
		got := CurrentState(swarmtypes.TaskStatus{State: tt.state, Timestamp: now.Add(-tt.ago)}, now)
		if got != tt.want {
			t.Errorf("CurrentState(%s, %v) = %q, want %q", tt.state, tt.ago, got, tt.want)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"web.2", "web.10", true},
		{"web.10", "web.2", false},
		{"a", "b", true},
		{"web.1", "web.1", false},
		{"web", "web.1", true},
		{"n01", "n1", false},
		{"n1", "n01", true},
		{"service-name-1.1", "service-name-10.1", true},
	}
	for _, tt := range tests {
		if got := NaturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("NaturalLess(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestStripDigest(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1.25@sha256:0123456789012345678901234567890123456789012345678901234567890123": "nginx:1.25",
		"docker.io/library/redis:7": "redis:7",
		"nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123": "nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123",
		"not a ref": "not a ref",
	} {
		if got := StripDigest(in); got != want {
			t.Errorf("StripDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

// routes resolve service s1 to "web" and node n1 to "node-1".
func resolver(t *testing.T) *Resolver {
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /services/s1": apitest.JSON(swarmtypes.Service{ID: "s1", Spec: swarmtypes.ServiceSpec{Annotations: swarmtypes.Annotations{Name: "web"}}}),
		"GET /nodes/n1":    apitest.JSON(swarmtypes.Node{ID: "n1", Description: swarmtypes.NodeDescription{Hostname: "node-1"}}),
	})
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(api, false)
}

func sampleTasks() []swarmtypes.Task {
	spec := swarmtypes.TaskSpec{ContainerSpec: &swarmtypes.ContainerSpec{Image: "nginx:alpine@sha256:0123456789012345678901234567890123456789012345678901234567890123"}}
	mk := func(id string, slot int, desired, state swarmtypes.TaskState, created time.Duration, errMsg string) swarmtypes.Task {
		tk := swarmtypes.Task{ID: id, ServiceID: "s1", NodeID: "n1", Slot: slot, Spec: spec, DesiredState: desired,
			Status: swarmtypes.TaskStatus{State: state, Timestamp: now.Add(-created), Err: errMsg}}
		tk.CreatedAt = now.Add(-created)
		return tk
	}
	running := mk("aaaaaaaaaaaaaaaaaaaaaaaaa", 1, "running", "running", 5*time.Second, "")
	running.Status.PortStatus.Ports = []swarmtypes.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080}}
	return []swarmtypes.Task{
		mk("ccccccccccccccccccccccccc", 1, "shutdown", "failed", 2*time.Hour, "task: non-zero exit (1): the process failed badly"),
		mk("ddddddddddddddddddddddddd", 10, "running", "running", 3*time.Minute, ""),
		running,
		mk("bbbbbbbbbbbbbbbbbbbbbbbbb", 2, "running", "preparing", 30*time.Second, ""),
	}
}

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	if err := Print(context.Background(), &b, resolver(t), sampleTasks(), PrintOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	want := `ID             NAME        IMAGE          NODE      DESIRED STATE   CURRENT STATE              ERROR                              PORTS
aaaaaaaaaaaa   web.1       nginx:alpine   node-1    Running         Running 5 seconds ago                                         *:8080->80/tcp
cccccccccccc    \_ web.1   nginx:alpine   node-1    Shutdown        Failed 2 hours ago         "task: non-zero exit (1): the …"   
bbbbbbbbbbbb   web.2       nginx:alpine   node-1    Running         Preparing 30 seconds ago                                      
dddddddddddd   web.10      nginx:alpine   node-1    Running         Running 3 minutes ago                                         
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPrintQuietAndFormat(t *testing.T) {
	r := resolver(t)
	var b strings.Builder
	if err := Print(context.Background(), &b, r, sampleTasks(), PrintOptions{Quiet: true, NoTrunc: true, Now: now}); err != nil {
		t.Fatal(err)
	}
	if want := "aaaaaaaaaaaaaaaaaaaaaaaaa\nccccccccccccccccccccccccc\nbbbbbbbbbbbbbbbbbbbbbbbbb\nddddddddddddddddddddddddd\n"; b.String() != want {
		t.Errorf("quiet = %q", b.String())
	}
	b.Reset()
	// A template without "table" has no history indent.
	if err := Print(context.Background(), &b, r, sampleTasks()[:1], PrintOptions{Format: "{{.Name}} {{.Node}} {{.Error}}", NoTrunc: true, Now: now}); err != nil {
		t.Fatal(err)
	}
	if want := "web.1 node-1 \"task: non-zero exit (1): the process failed badly\"\n"; b.String() != want {
		t.Errorf("format = %q", b.String())
	}
}

func TestResolverNoResolve(t *testing.T) {
	r := NewResolver(nil, true)
	if r.Node(context.Background(), "n1") != "n1" || r.Service(context.Background(), "s1") != "s1" {
		t.Error("no-resolve must answer IDs")
	}
	var _ client.APIClient
}
