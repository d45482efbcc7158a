package node

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/cli/command/internal/apitest"
)

func sampleNodes() []swarmtypes.Node {
	mk := func(id, host string, state swarmtypes.NodeState, avail swarmtypes.NodeAvailability, ms *swarmtypes.ManagerStatus) swarmtypes.Node {
		n := swarmtypes.Node{ID: id, ManagerStatus: ms}
		n.Description.Hostname = host
		n.Description.Engine.EngineVersion = "28.2.2"
		n.Status.State = state
		n.Spec.Availability = avail
		return n
	}
	return []swarmtypes.Node{
		mk("3zr8q1xw0ok7c8m4h0zmvxbbs", "worker10", "ready", "active", nil),
		mk("9j68exjopxe7wfl6yuxml7a7j", "manager1", "ready", "active", &swarmtypes.ManagerStatus{Leader: true, Reachability: "reachable"}),
		mk("dkp8vy1dq1kxleu9g4u78tlag", "worker2", "down", "drain", nil),
		mk("dvfxp4zseq4s0rih1selh0d20", "manager2", "ready", "pause", &swarmtypes.ManagerStatus{Reachability: "unreachable"}),
	}
}

func TestListTable(t *testing.T) {
	info := system.Info{Swarm: swarmtypes.Info{NodeID: "9j68exjopxe7wfl6yuxml7a7j"}}
	var b strings.Builder
	if err := formatter.List(&b, "", DefaultListFormat, listHeaders, listRows(sampleNodes(), info)); err != nil {
		t.Fatal(err)
	}
	want := `ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION
9j68exjopxe7wfl6yuxml7a7j *   manager1   Ready     Active         Leader           28.2.2
dvfxp4zseq4s0rih1selh0d20     manager2   Ready     Pause          Unreachable      28.2.2
dkp8vy1dq1kxleu9g4u78tlag     worker2    Down      Drain                           28.2.2
3zr8q1xw0ok7c8m4h0zmvxbbs     worker10   Ready     Active                          28.2.2
`
	if b.String() != want {
		t.Errorf("node ls:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := formatter.List(&b, "{{json .}}", DefaultListFormat, listHeaders, listRows(sampleNodes()[1:2], info)); err != nil {
		t.Fatal(err)
	}
	if want := `{"Availability":"Active","EngineVersion":"28.2.2","Hostname":"manager1","ID":"9j68exjopxe7wfl6yuxml7a7j","ManagerStatus":"Leader","Self":true,"Status":"Ready","TLSStatus":"Unknown"}` + "\n"; b.String() != want {
		t.Errorf("json = %s", b.String())
	}
}

func TestTLSStatus(t *testing.T) {
	root := swarmtypes.TLSInfo{TrustRoot: "root", CertIssuerSubject: []byte("s"), CertIssuerPublicKey: []byte("k")}
	cl := &swarmtypes.ClusterInfo{TLSInfo: root}
	n := swarmtypes.Node{}
	if s := (listContext{n: n, info: system.Info{Swarm: swarmtypes.Info{Cluster: cl}}}).TLSStatus(); s != "Unknown" {
		t.Errorf("no node TLS: %s", s)
	}
	n.Description.TLSInfo = root
	if s := (listContext{n: n, info: system.Info{Swarm: swarmtypes.Info{Cluster: cl}}}).TLSStatus(); s != "Ready" {
		t.Errorf("same root: %s", s)
	}
	n.Description.TLSInfo.TrustRoot = "old"
	if s := (listContext{n: n, info: system.Info{Swarm: swarmtypes.Info{Cluster: cl}}}).TLSStatus(); s != "Needs Rotation" {
		t.Errorf("old root: %s", s)
	}
}

func TestPretty(t *testing.T) {
	n := sampleNodes()[1]
	n.CreatedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	n.Spec.Labels = map[string]string{"zone": "a", "ssd": ""}
	n.Status.Addr = "10.0.0.1"
	n.ManagerStatus.Addr = "10.0.0.1:2377"
	n.Description.Platform = swarmtypes.Platform{OS: "linux", Architecture: "x86_64"}
	n.Description.Resources = swarmtypes.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30}
	n.Description.Engine.Plugins = []swarmtypes.PluginDescription{{Type: "Volume", Name: "local"}, {Type: "Network", Name: "bridge"}, {Type: "Network", Name: "overlay"}}
	n.Description.Engine.Labels = map[string]string{"tier": "front"}
	want := "ID:\t\t\t9j68exjopxe7wfl6yuxml7a7j\n" +
		"Labels:\n - ssd\n - zone=a\n" +
		"Hostname:              \tmanager1\n" +
		"Joined at:             \t2025-06-01 12:00:00 +0000 utc\n" +
		"Status:\n State:\t\t\tReady\n Availability:         \tActive\n Address:\t\t10.0.0.1\n" +
		"Manager Status:\n Address:\t\t10.0.0.1:2377\n Raft Status:\t\tReachable\n Leader:\t\tYes\n" +
		"Platform:\n Operating System:\tlinux\n Architecture:\t\tx86_64\n" +
		"Resources:\n CPUs:\t\t\t4\n Memory:\t\t8GiB\n" +
		"Plugins:\n Network:\t\tbridge, overlay\n Volume:\t\tlocal\n" +
		"Engine Version:\t\t28.2.2\n" +
		"Engine Labels:\n - tier=front\n"
	if got := Pretty(n); got != want {
		t.Errorf("pretty:\n%q\nwant:\n%q", got, want)
	}
}

func TestUpdateFlags(t *testing.T) {
	tests := []struct {
		args   []string
		labels map[string]string
		want   swarmtypes.NodeSpec
		err    string
	}{
		{
			args:   []string{"--availability", "drain", "--label-add", "a=1", "--label-add", "b", "--label-rm", "old"},
			labels: map[string]string{"old": "x", "keep": "y"},
			want:   swarmtypes.NodeSpec{Annotations: swarmtypes.Annotations{Labels: map[string]string{"a": "1", "b": "", "keep": "y"}}, Role: "worker", Availability: "drain"},
		},
		{args: []string{"--role", "manager"}, want: swarmtypes.NodeSpec{Annotations: swarmtypes.Annotations{Labels: map[string]string{}}, Role: "manager", Availability: "active"}},
		{args: []string{"--label-rm", "nope"}, err: "key nope doesn't exist in node's labels"},
	}
	for _, tt := range tests {
		cmd := newUpdateCommand(command.New(nil, nil, nil))
		if err := cmd.Flags().Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		var o updateFlags
		o.role, _ = cmd.Flags().GetString("role")
		o.availability, _ = cmd.Flags().GetString("availability")
		o.labelAdd, _ = cmd.Flags().GetStringArray("label-add")
		o.labelRm, _ = cmd.Flags().GetStringArray("label-rm")
		spec := swarmtypes.NodeSpec{Annotations: swarmtypes.Annotations{Labels: tt.labels}, Role: "worker", Availability: "active"}
		err := o.apply(cmd.Flags(), &spec)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%v: err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if spec.Role != tt.want.Role || spec.Availability != tt.want.Availability || len(spec.Labels) != len(tt.want.Labels) {
			t.Errorf("%v: spec = %+v, want %+v", tt.args, spec, tt.want)
		}
		for k, v := range tt.want.Labels {
			if spec.Labels[k] != v {
				t.Errorf("%v: label %s = %q want %q", tt.args, k, spec.Labels[k], v)
			}
		}
	}
}

func run(c *command.Cli, args ...string) error { return apitest.Run(c, NewNodeCommand(c), args...) }

func TestPromoteDemote(t *testing.T) {
	worker := swarmtypes.Node{ID: "w1"}
	worker.Spec.Role = "worker"
	manager := swarmtypes.Node{ID: "m1"}
	manager.Spec.Role = "manager"
	s, c, out, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /nodes/w1":         apitest.JSON(worker),
		"GET /nodes/m1":         apitest.JSON(manager),
		"POST /nodes/w1/update": apitest.JSON(nil),
	})
	if err := run(c, "node", "promote", "w1", "m1"); err != nil {
		t.Fatal(err)
	}
	if want := "Node w1 promoted to a manager in the swarm.\nNode m1 is already a manager.\n"; out.String() != want {
		t.Errorf("promote output %q", out.String())
	}
	req, ok := s.Find("POST /nodes/w1/update")
	if !ok || !strings.Contains(string(req.Body), `"Role":"manager"`) {
		t.Errorf("update request %+v", req)
	}
	out.Reset()
	if err := run(c, "node", "demote", "w1"); err != nil || out.String() != "Node w1 is already a worker.\n" {
		t.Errorf("demote: %q %v", out.String(), err)
	}
}

func TestReferenceSelf(t *testing.T) {
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /info":  apitest.JSON(system.Info{}),
		"GET /nodes": apitest.Error(503, "This node is not a swarm manager."),
	})
	api, _ := c.Client()
	if _, err := Reference(context.Background(), api, "self"); err == nil || !strings.Contains(err.Error(), "This node is not a swarm manager.") {
		t.Errorf("self outside a swarm: %v", err)
	}
	if ref, err := Reference(context.Background(), api, "abc"); ref != "abc" || err != nil {
		t.Errorf("abc = %q, %v", ref, err)
	}
}
