package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command/internal/apitest"
)

// fakeAPI knows networks "front" and "back", secret "pw" and config
// "cfg".
func fakeAPI(t *testing.T, extra map[string]http.HandlerFunc) (*apitest.Server, client.APIClient) {
	t.Helper()
	netw := func(id, name string) http.HandlerFunc {
		var n network.Inspect
		n.ID, n.Name = id, name
		return apitest.JSON(n)
	}
	routes := map[string]http.HandlerFunc{
		"GET /networks/front":   netw("id-front", "front"),
		"GET /networks/back":    netw("id-back", "back"),
		"GET /networks/id-back": netw("id-back", "back"),
		"GET /secrets":          apitest.JSON([]swarmtypes.Secret{{ID: "sec-id", Spec: swarmtypes.SecretSpec{Annotations: swarmtypes.Annotations{Name: "pw"}}}}),
		"GET /configs":          apitest.JSON([]swarmtypes.Config{{ID: "cfg-id", Spec: swarmtypes.ConfigSpec{Annotations: swarmtypes.Annotations{Name: "cfg"}}}}),
	}
	for k, v := range extra {
		routes[k] = v
	}
	s, c, _, _ := apitest.New(t, "", routes)
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	return s, api
}

// createFlags parses service create's flags.
func createFlags(t *testing.T, args ...string) (*options, *pflag.FlagSet) {
	t.Helper()
	o := newOptions()
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	o.addCreateFlags(fs)
	o.addFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.image = "nginx"
	return o, fs
}

// checkJSON fails t when got is not want, showing both (what they are)
// as indented JSON.
func checkJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%s:\n%s\nwant:\n%s", what, g, w)
	}
}

func u64(n uint64) *uint64 { return &n }

func dur(d time.Duration) *time.Duration { return &d }

func TestCreateSpec(t *testing.T) {
	_, api := fakeAPI(t, nil)
	o, fs := createFlags(t,
		"--name", "web", "--replicas", "3", "-p", "8080:80", "--publish", "published=53,target=53,protocol=udp,mode=host",
		"-e", "A=1", "--label", "tier=front", "--container-label", "c=1",
		"--mount", "type=bind,source=/src,target=/dst,readonly", "--network", "front", "--network", "name=back,alias=b",
		"--constraint", "node.role==worker", "--placement-pref", "spread=node.labels.zone", "--replicas-max-per-node", "2",
		"--limit-cpu", "1.5", "--limit-memory", "512m", "--limit-pids", "100", "--reserve-cpu", "0.25", "--reserve-memory", "128m",
		"--restart-condition", "on-failure", "--restart-max-attempts", "3",
		"--update-parallelism", "2", "--update-delay", "10s", "--update-order", "start-first",
		"--rollback-failure-action", "continue",
		"--hostname", "h", "--entrypoint", "sh -c", "-w", "/app", "-u", "1000", "--health-cmd", "curl -f localhost", "--health-interval", "30s",
		"--secret", "pw", "--config", "source=cfg,target=/etc/cfg", "--stop-grace-period", "20s", "--stop-signal", "SIGTERM",
		"--endpoint-mode", "DNSRR", "--dns", "1.1.1.1", "--dns-search", "example.com", "--dns-option", "ndots:2", "--host", "db:10.0.0.5",
		"--init", "--read-only", "--tty",
	)
	o.args = []string{"echo", "hi"}
	spec, err := o.spec(context.Background(), api, fs)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: &swarmtypes.ContainerSpec{
				Image: "nginx", Args: []string{"echo", "hi"}, Command: []string{"sh", "-c"}, Env: []string{"A=1"}, Hostname: "h",
				Labels: map[string]string{"c": "1"}, Dir: "/app", User: "1000", StopSignal: "SIGTERM", TTY: true, ReadOnly: true,
				Mounts: []mount.Mount{{Type: "bind", Source: "/src", Target: "/dst", ReadOnly: true}}, Init: &yes,
				DNSConfig:       &swarmtypes.DNSConfig{Nameservers: []netip.Addr{netip.MustParseAddr("1.1.1.1")}, Search: []string{"example.com"}, Options: []string{"ndots:2"}},
				Hosts:           []string{"10.0.0.5 db"},
				StopGracePeriod: dur(20 * time.Second),
				Healthcheck:     &container.HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost"}, Interval: 30 * time.Second},
				Secrets: []*swarmtypes.SecretReference{{SecretName: "pw", SecretID: "sec-id", File: &swarmtypes.SecretReferenceFileTarget{
					Name: "pw", UID: "0", GID: "0", Mode: 0o444}}},
				Configs: []*swarmtypes.ConfigReference{{ConfigName: "cfg", ConfigID: "cfg-id", File: &swarmtypes.ConfigReferenceFileTarget{
					Name: "/etc/cfg", UID: "0", GID: "0", Mode: 0o444}}},
			},
			Networks: []swarmtypes.NetworkAttachmentConfig{{Target: "id-back", Aliases: []string{"b"}}, {Target: "id-front"}},
			Resources: &swarmtypes.ResourceRequirements{
				Limits:       &swarmtypes.Limit{NanoCPUs: 1500000000, MemoryBytes: 512 << 20, Pids: 100},
				Reservations: &swarmtypes.Resources{NanoCPUs: 250000000, MemoryBytes: 128 << 20},
			},
			RestartPolicy: &swarmtypes.RestartPolicy{Condition: "on-failure", Delay: dur(5 * time.Second), MaxAttempts: u64(3)},
			Placement: &swarmtypes.Placement{Constraints: []string{"node.role==worker"}, MaxReplicas: 2,
				Preferences: []swarmtypes.PlacementPreference{{Spread: &swarmtypes.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}},
		},
		Mode:           swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: u64(3)}},
		UpdateConfig:   &swarmtypes.UpdateConfig{Parallelism: 2, Delay: 10 * time.Second, Monitor: 5 * time.Second, FailureAction: "pause", Order: "start-first"},
		RollbackConfig: &swarmtypes.UpdateConfig{Parallelism: 1, Monitor: 5 * time.Second, FailureAction: "continue", Order: "stop-first"},
		EndpointSpec: &swarmtypes.EndpointSpec{Mode: "dnsrr", Ports: []swarmtypes.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
			{Protocol: "udp", TargetPort: 53, PublishedPort: 53, PublishMode: "host"},
		}},
	}
	checkJSON(t, "spec", spec, want)
}

func TestCreateSpecDefaults(t *testing.T) {
	_, api := fakeAPI(t, nil)
	o, fs := createFlags(t)
	spec, err := o.spec(context.Background(), api, fs)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Mode.Replicated == nil || spec.Mode.Replicated.Replicas != nil {
		t.Errorf("mode = %+v (replicas left to the daemon)", spec.Mode)
	}
	if spec.UpdateConfig != nil || spec.RollbackConfig != nil || spec.TaskTemplate.RestartPolicy != nil || spec.TaskTemplate.ContainerSpec.StopGracePeriod != nil {
		t.Errorf("policies set without flags: %+v", spec)
	}
	if spec.EndpointSpec.Mode != "vip" {
		t.Errorf("endpoint mode %q", spec.EndpointSpec.Mode)
	}
	if hc := spec.TaskTemplate.ContainerSpec.Healthcheck; hc != nil {
		t.Errorf("healthcheck %+v", hc)
	}
}

func TestCreateModes(t *testing.T) {
	_, api := fakeAPI(t, nil)
	tests := []struct {
		args []string
		want swarmtypes.ServiceMode
		err  string
	}{
		{args: []string{"--mode", "global"}, want: swarmtypes.ServiceMode{Global: &swarmtypes.GlobalService{}}},
		{args: []string{"--mode", "replicated-job", "--replicas", "4"}, want: swarmtypes.ServiceMode{ReplicatedJob: &swarmtypes.ReplicatedJob{MaxConcurrent: u64(4), TotalCompletions: u64(4)}}},
		{args: []string{"--mode", "global-job"}, want: swarmtypes.ServiceMode{GlobalJob: &swarmtypes.GlobalJob{}}},
		{args: []string{"--mode", "global", "--replicas", "2"}, err: "replicas can only be used with replicated or replicated-job mode"},
		{args: []string{"--mode", "global", "--replicas-max-per-node", "2"}, err: "replicas-max-per-node can only be used with replicated or replicated-job mode"},
		{args: []string{"--mode", "global-job", "--replicas", "2"}, err: "replicas can only be used with replicated or replicated-job mode"},
		{args: []string{"--mode", "daemonset"}, err: "Unknown mode: daemonset, only replicated and global supported"},
		{args: []string{"--mode", "replicated-job", "--update-delay", "1s"}, err: "update and rollback configuration is not supported for jobs"},
		{args: []string{"--no-healthcheck", "--health-cmd", "true"}, err: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--secret", "nope"}, err: "secret not found: nope"},
		{args: []string{"--secret", "pw", "--secret", "source=other,target=pw"}, err: "duplicate secret target for other not allowed"},
		{args: []string{"--config", "nope"}, err: "config not found: nope"},
		{args: []string{"--network", "missing"}, err: "page not found"},
	}
	for _, tt := range tests {
		o, fs := createFlags(t, tt.args...)
		spec, err := o.spec(context.Background(), api, fs)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: error = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(spec.Mode, tt.want) {
			t.Errorf("%v: mode = %+v, %v", tt.args, spec.Mode, err)
		}
	}
	o, fs := createFlags(t, "--no-healthcheck")
	spec, err := o.spec(context.Background(), api, fs)
	if err != nil || !reflect.DeepEqual(spec.TaskTemplate.ContainerSpec.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("--no-healthcheck: %+v %v", spec.TaskTemplate.ContainerSpec.Healthcheck, err)
	}
}

// TestCreateFlagErrors checks that bad values fail as flags, in docker's
// words.
func TestCreateFlagErrors(t *testing.T) {
	tests := map[string]string{
		"--replicas=x":                 `invalid argument "x" for "--replicas" flag: strconv.ParseUint: parsing "x": invalid syntax`,
		"--limit-memory=lots":          `invalid argument "lots" for "--limit-memory" flag: invalid size: 'lots'`,
		"--limit-cpu=one":              `invalid argument "one" for "--limit-cpu" flag: failed to parse one as a rational number`,
		"--restart-delay=5":            `invalid argument "5" for "--restart-delay" flag: time: missing unit in duration "5"`,
		"--health-interval=-1s":        `invalid argument "-1s" for "--health-interval" flag: duration cannot be negative`,
		"-p=1.2.3.4:80:80":             `invalid argument "1.2.3.4:80:80" for "-p, --publish" flag: hostip is not supported`,
		"--mount=type=bind":            `invalid argument "type=bind" for "--mount" flag: target is required`,
		"--env==x":                     `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`,
		"--label==v":                   `invalid argument "=v" for "-l, --label" flag: invalid label '=v': empty name`,
		"--dns=dns.google":             `invalid argument "dns.google" for "--dns" flag: IP address is not correctly formatted: dns.google`,
		"--host=nocolon":               `invalid argument "nocolon" for "--host" flag: bad format for add-host: "nocolon"`,
		"--update-max-failure-ratio=x": `invalid argument "x" for "--update-max-failure-ratio" flag: strconv.ParseFloat: parsing "x": invalid syntax`,
		"--placement-pref=pack=x":      `invalid argument "pack=x" for "--placement-pref" flag: unsupported placement preference pack (only spread is supported)`,
		"--entrypoint='x":              `invalid argument "'x" for "--entrypoint" flag: EOF found when expecting closing quote`,
	}
	for arg, want := range tests {
		o := newOptions()
		fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		o.addCreateFlags(fs)
		o.addFlags(fs, true)
		if err := fs.Parse([]string{arg}); err == nil || err.Error() != want {
			t.Errorf("%s: error = %v\nwant %s", arg, err, want)
		}
	}
}
