package convert

import (
	"testing"

	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/internal/filters"
)

// args parses a filters query parameter or fails the test.
func args(t *testing.T, raw string) filters.Args {
	t.Helper()
	f, err := filters.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNodeFilters(t *testing.T) {
	got, err := NodeFilters(args(t, `{"id":["abc"],"name":["box"],"label":["a=b","c"],"node.label":["zone=x"],"role":["Manager","worker"],"membership":["accepted"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &swarmapi.ListNodesRequest_Filters{
		IDPrefixes:   []string{"abc"},
		NamePrefixes: []string{"box"},
		Labels:       map[string]string{"a": "b", "c": ""},
		NodeLabels:   map[string]string{"zone": "x"},
		Roles:        []swarmapi.NodeRole{swarmapi.NodeRoleManager, swarmapi.NodeRoleWorker},
		Memberships:  []swarmapi.NodeSpec_Membership{swarmapi.NodeMembershipAccepted},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("NodeFilters (-want +got):\n%s", d)
	}
	if got, err := NodeFilters(filters.Args{}); err != nil || diff(&swarmapi.ListNodesRequest_Filters{}, got) != "" {
		t.Errorf("no filters = %+v, %v", got, err)
	}

	errs := []struct{ raw, want string }{
		{`{"status":["ready"]}`, "invalid filter 'status'"},
		{`{"role":["boss"]}`, "Invalid role filter: 'boss'"},
		{`{"membership":["maybe"]}`, "Invalid membership filter: 'maybe'"},
	}
	for _, tt := range errs {
		_, err := NodeFilters(args(t, tt.raw))
		wantInvalid(t, err, tt.want)
	}
}

func TestServiceFilters(t *testing.T) {
	got, err := ServiceFilters(args(t, `{"id":["x"],"name":["web"],"label":["k=v"],"mode":["global"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &swarmapi.ListServicesRequest_Filters{
		IDPrefixes:   []string{"x"},
		NamePrefixes: []string{"web"},
		Labels:       map[string]string{"k": "v"},
		Runtimes:     []string{"container"},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ServiceFilters (-want +got):\n%s", d)
	}
	got, err = ServiceFilters(args(t, `{"runtime":["plugin"]}`))
	if err != nil || len(got.Runtimes) != 1 || got.Runtimes[0] != "plugin" {
		t.Errorf("runtime filter = %+v, %v", got, err)
	}
	_, err = ServiceFilters(args(t, `{"node":["n1"]}`))
	wantInvalid(t, err, "invalid filter 'node'")
}

func TestMatchServiceMode(t *testing.T) {
	svc := func(m any) *swarmapi.Service {
		s := &swarmapi.Service{}
		switch m := m.(type) {
		case *swarmapi.ServiceSpec_Replicated:
			s.Spec.Mode = m
		case *swarmapi.ServiceSpec_Global:
			s.Spec.Mode = m
		case *swarmapi.ServiceSpec_ReplicatedJob:
			s.Spec.Mode = m
		case *swarmapi.ServiceSpec_GlobalJob:
			s.Spec.Mode = m
		}
		return s
	}
	replicated := svc(&swarmapi.ServiceSpec_Replicated{Replicated: &swarmapi.ReplicatedService{}})
	global := svc(&swarmapi.ServiceSpec_Global{Global: &swarmapi.GlobalService{}})
	replJob := svc(&swarmapi.ServiceSpec_ReplicatedJob{ReplicatedJob: &swarmapi.ReplicatedJob{}})
	globalJob := svc(&swarmapi.ServiceSpec_GlobalJob{GlobalJob: &swarmapi.GlobalJob{}})
	tests := []struct {
		raw  string
		s    *swarmapi.Service
		want bool
	}{
		{`{}`, replicated, true},
		{`{"mode":["replicated"]}`, replicated, true},
		{`{"mode":["replicated"]}`, global, false},
		{`{"mode":["global"]}`, global, true},
		{`{"mode":["global"]}`, globalJob, false},
		{`{"mode":["replicated-job","global-job"]}`, replJob, true},
		{`{"mode":["replicated-job","global-job"]}`, globalJob, true},
		{`{"mode":["bogus"]}`, replicated, false},
		{`{"mode":["replicated"]}`, nil, false},
	}
	for _, tt := range tests {
		if got := MatchServiceMode(args(t, tt.raw), tt.s); got != tt.want {
			t.Errorf("MatchServiceMode(%s, %s) = %v, want %v", tt.raw, ServiceMode(specOf(tt.s)), got, tt.want)
		}
	}
	if ServiceMode(nil) != "" || ServiceMode(&swarmapi.ServiceSpec{}) != "" {
		t.Error("ServiceMode of no mode is not empty")
	}
}

func specOf(s *swarmapi.Service) *swarmapi.ServiceSpec {
	if s == nil {
		return nil
	}
	return &s.Spec
}

func TestTaskFilters(t *testing.T) {
	got, refs, err := TaskFilters(args(t, `{"id":["t"],"name":["web.1"],"label":["a"],"desired-state":["Running","shutdown","accepted"],"service":["web","abc123"],"node":["self"],"_up-to-date":["true"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &swarmapi.ListTasksRequest_Filters{
		IDPrefixes:    []string{"t"},
		NamePrefixes:  []string{"web.1"},
		Labels:        map[string]string{"a": ""},
		DesiredStates: []swarmapi.TaskState{swarmapi.TaskStateRunning, swarmapi.TaskStateAccepted, swarmapi.TaskStateShutdown},
		Runtimes:      []string{"container", ""},
		UpToDate:      true,
	}
	if d := diff(want, got); d != "" {
		t.Errorf("TaskFilters (-want +got):\n%s", d)
	}
	if d := diff(TaskFilterRefs{Services: []string{"abc123", "web"}, Nodes: []string{"self"}}, refs); d != "" {
		t.Errorf("refs (-want +got):\n%s", d)
	}

	got, refs, err = TaskFilters(args(t, `{"runtime":["plugin"]}`))
	if err != nil || len(got.Runtimes) != 1 || got.Runtimes[0] != "plugin" || got.UpToDate || refs.Services != nil || refs.Nodes != nil {
		t.Errorf("runtime filter = %+v, %+v, %v", got, refs, err)
	}

	errs := []struct{ raw, want string }{
		{`{"status":["x"]}`, "invalid filter 'status'"},
		{`{"desired-state":["sleeping"]}`, "Invalid desired-state filter: 'sleeping'"},
	}
	for _, tt := range errs {
		_, _, err := TaskFilters(args(t, tt.raw))
		wantInvalid(t, err, tt.want)
	}
}

func TestSecretAndConfigFilters(t *testing.T) {
	s, err := SecretFilters(args(t, `{"id":["i"],"name":["n"],"names":["exact"],"label":["l=v"]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantS := &swarmapi.ListSecretsRequest_Filters{
		Names: []string{"exact"}, IDPrefixes: []string{"i"}, NamePrefixes: []string{"n"}, Labels: map[string]string{"l": "v"},
	}
	if d := diff(wantS, s); d != "" {
		t.Errorf("SecretFilters (-want +got):\n%s", d)
	}
	c, err := ConfigFilters(args(t, `{"id":["i"],"name":["n"],"label":["l"]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantC := &swarmapi.ListConfigsRequest_Filters{IDPrefixes: []string{"i"}, NamePrefixes: []string{"n"}, Labels: map[string]string{"l": ""}}
	if d := diff(wantC, c); d != "" {
		t.Errorf("ConfigFilters (-want +got):\n%s", d)
	}

	_, err = SecretFilters(args(t, `{"driver":["x"]}`))
	wantInvalid(t, err, "invalid filter 'driver'")
	_, err = ConfigFilters(args(t, `{"names":["x"]}`))
	wantInvalid(t, err, "invalid filter 'names'")
}
