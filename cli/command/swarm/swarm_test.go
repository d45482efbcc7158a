package swarm

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/internal/apitest"
)

func TestParseNodeAddr(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "", want: "0.0.0.0:2377"},
		{in: "10.0.0.1", want: "10.0.0.1:2377"},
		{in: "10.0.0.1:4000", want: "10.0.0.1:4000"},
		{in: ":4000", want: "0.0.0.0:4000"},
		{in: "eth0", want: "eth0:2377"},
		{in: "tcp://10.0.0.1:4000", want: "10.0.0.1:4000"},
		{in: "[::1]:", want: "[::1]:2377"},
		{in: "udp://10.0.0.1", err: "invalid proto, expected tcp: udp://10.0.0.1"},
		{in: "10.0.0.1:abc", err: `parse "tcp://10.0.0.1:abc": invalid port ":abc" after host`},
		{in: "10.0.0.1:0x", err: `parse "tcp://10.0.0.1:0x": invalid port ":0x" after host`},
	}
	for _, tt := range tests {
		got, err := parseNodeAddr(tt.in, defaultListenAddr)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseNodeAddr(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseNodeAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSpecMerge(t *testing.T) {
	cmd := &cobra.Command{}
	var o specOptions
	cmd.Flags().BoolVar(&o.autolock, "autolock", false, "")
	addSpecFlags(cmd.Flags(), &o)
	if err := cmd.Flags().Parse([]string{"--task-history-limit=10", "--cert-expiry=48h", "--autolock"}); err != nil {
		t.Fatal(err)
	}
	spec := swarmtypes.Spec{}
	spec.Dispatcher.HeartbeatPeriod = 7 * time.Second
	o.merge(&spec, cmd.Flags())
	if spec.Orchestration.TaskHistoryRetentionLimit == nil || *spec.Orchestration.TaskHistoryRetentionLimit != 10 {
		t.Errorf("task history = %v", spec.Orchestration.TaskHistoryRetentionLimit)
	}
	if spec.CAConfig.NodeCertExpiry != 48*time.Hour || !spec.EncryptionConfig.AutoLockManagers {
		t.Errorf("spec = %+v", spec)
	}
	// Flags not given keep what the spec had.
	if spec.Dispatcher.HeartbeatPeriod != 7*time.Second || spec.Raft.KeepOldSnapshots != nil || spec.Raft.SnapshotInterval != 0 {
		t.Errorf("unchanged fields changed: %+v", spec)
	}
}

func TestParseAvailability(t *testing.T) {
	if a, err := parseAvailability("Drain"); err != nil || a != swarmtypes.NodeAvailabilityDrain {
		t.Errorf("Drain = %q, %v", a, err)
	}
	if _, err := parseAvailability("sleep"); err == nil || err.Error() != `invalid availability "sleep", only active, pause and drain are supported` {
		t.Errorf("sleep: %v", err)
	}
}

// swarmRoutes is a manager node "n1" of a swarm with tokens WT and MT.
func swarmRoutes(extra map[string]http.HandlerFunc) map[string]http.HandlerFunc {
	r := map[string]http.HandlerFunc{
		"POST /swarm/init":     apitest.JSON("n1"),
		"GET /nodes/n1":        apitest.JSON(swarmtypes.Node{ID: "n1", ManagerStatus: &swarmtypes.ManagerStatus{Addr: "10.0.0.1:2377"}}),
		"GET /swarm":           apitest.JSON(swarmtypes.Swarm{JoinTokens: swarmtypes.JoinTokens{Worker: "WT", Manager: "MT"}}),
		"GET /swarm/unlockkey": apitest.JSON(swarmtypes.UnlockKeyResponse{UnlockKey: "SWMKEY-1-abc"}),
		"GET /info":            apitest.JSON(system.Info{Swarm: swarmtypes.Info{NodeID: "n1", LocalNodeState: "active", ControlAvailable: true}}),
		"POST /swarm/update":   apitest.JSON(nil),
	}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

func run(t *testing.T, c *command.Cli, args ...string) error {
	t.Helper()
	return apitest.Run(c, NewSwarmCommand(c), args...)
}

func TestInitOutput(t *testing.T) {
	s, c, out, _ := apitest.New(t, "", swarmRoutes(nil))
	if err := run(t, c, "swarm", "init", "--autolock", "--listen-addr", ":4000", "--availability", "drain", "--default-addr-pool", "10.20.0.0/16"); err != nil {
		t.Fatal(err)
	}
	want := "Swarm initialized: current node (n1) is now a manager.\n\n" +
		"To add a worker to this swarm, run the following command:\n\n    berth swarm join --token WT 10.0.0.1:2377\n\n" +
		"To add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions.\n" +
		"To unlock a swarm manager after it restarts, run the `berth swarm unlock`\ncommand and provide the following key:\n\n    SWMKEY-1-abc\n\n" +
		"Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
	req, _ := s.Find("POST /swarm/init")
	var ir swarmtypes.InitRequest
	if err := json.Unmarshal(req.Body, &ir); err != nil {
		t.Fatal(err)
	}
	if ir.ListenAddr != "0.0.0.0:4000" || !ir.AutoLockManagers || ir.Availability != "drain" || ir.SubnetSize != 24 ||
		len(ir.DefaultAddrPool) != 1 || ir.DefaultAddrPool[0].String() != "10.20.0.0/16" {
		t.Errorf("init request = %+v", ir)
	}
}

func TestJoinToken(t *testing.T) {
	_, c, out, _ := apitest.New(t, "", swarmRoutes(nil))
	if err := run(t, c, "swarm", "join-token", "manager"); err != nil {
		t.Fatal(err)
	}
	if want := "To add a manager to this swarm, run the following command:\n\n    berth swarm join --token MT 10.0.0.1:2377\n\n"; out.String() != want {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if err := run(t, c, "swarm", "join-token", "-q", "--rotate", "worker"); err != nil || out.String() != "WT\n" {
		t.Errorf("-q --rotate: %q, %v", out.String(), err)
	}
	if err := run(t, c, "swarm", "join-token", "boss"); err == nil || err.Error() != "unknown role boss" {
		t.Errorf("boss: %v", err)
	}
}

func TestUnlock(t *testing.T) {
	locked := apitest.JSON(system.Info{Swarm: swarmtypes.Info{LocalNodeState: "locked"}})
	s, c, _, _ := apitest.New(t, "SWMKEY-1-xyz\n", swarmRoutes(map[string]http.HandlerFunc{
		"GET /info": locked, "POST /swarm/unlock": apitest.JSON(nil),
	}))
	if err := run(t, c, "swarm", "unlock"); err != nil {
		t.Fatal(err)
	}
	req, _ := s.Find("POST /swarm/unlock")
	if !strings.Contains(string(req.Body), `"UnlockKey":"SWMKEY-1-xyz"`) {
		t.Errorf("unlock body %s", req.Body)
	}
	_, c, _, _ = apitest.New(t, "", swarmRoutes(nil))
	if err := run(t, c, "swarm", "unlock"); err == nil || err.Error() != "Error: swarm is not locked" {
		t.Errorf("active node: %v", err)
	}
}

func TestUnlockKeyRotateNeedsAutolock(t *testing.T) {
	_, c, _, _ := apitest.New(t, "", swarmRoutes(nil))
	if err := run(t, c, "swarm", "unlock-key", "--rotate"); err == nil || err.Error() != "cannot rotate because autolock is not turned on" {
		t.Errorf("err = %v", err)
	}
}

func TestUpdate(t *testing.T) {
	s, c, out, _ := apitest.New(t, "", swarmRoutes(nil))
	if err := run(t, c, "swarm", "update", "--snapshot-interval", "500"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Swarm updated.\n" {
		t.Errorf("output %q", out.String())
	}
	req, _ := s.Find("POST /swarm/update")
	if !strings.Contains(string(req.Body), `"SnapshotInterval":500`) || !strings.Contains(req.Query, "rotateWorkerToken=false") {
		t.Errorf("update request %s ? %s", req.Body, req.Query)
	}
}
