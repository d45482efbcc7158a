package service

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/spf13/pflag"
)

func updateFlags(t *testing.T, args ...string) (*options, *pflag.FlagSet) {
	t.Helper()
	o := newOptions()
	fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
	o.addUpdateFlags(fs)
	o.addFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, fs
}

// baseSpec is an existing service as the daemon returns it.
func baseSpec() swarmtypes.ServiceSpec {
	return swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: "web", Labels: map[string]string{"a": "1", "b": "2"}},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: &swarmtypes.ContainerSpec{
				Image:       "nginx:1.25",
				Env:         []string{"A=1", "B=2", "C=3"},
				Mounts:      []mount.Mount{{Type: "bind", Source: "/a", Target: "/x"}},
				Hosts:       []string{"10.0.0.5 db cache"},
				Secrets:     []*swarmtypes.SecretReference{{SecretName: "old", SecretID: "old-id", File: &swarmtypes.SecretReferenceFileTarget{Name: "old"}}},
				DNSConfig:   &swarmtypes.DNSConfig{Nameservers: []netip.Addr{netip.MustParseAddr("8.8.8.8")}},
				Healthcheck: &container.HealthConfig{Test: []string{"NONE"}},
			},
			Networks:  []swarmtypes.NetworkAttachmentConfig{{Target: "id-front"}},
			Placement: &swarmtypes.Placement{Constraints: []string{"node.role==worker"}},
		},
		Mode: swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: u64(2)}},
		EndpointSpec: &swarmtypes.EndpointSpec{Mode: "vip", Ports: []swarmtypes.PortConfig{
			{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"},
		}},
	}
}

func TestUpdateApply(t *testing.T) {
	_, api := fakeAPI(t, nil)
	tests := []struct {
		name   string
		args   []string
		change func(s *swarmtypes.ServiceSpec)
	}{
		{"nothing", nil, func(*swarmtypes.ServiceSpec) {}},
		{"env", []string{"--env-rm", "B", "--env-add", "A=9", "--env-add", "D=4"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Env = []string{"A=9", "C=3", "D=4"}
		}},
		{"labels", []string{"--label-rm", "a", "--label-add", "c=3", "--container-label-add", "x=y"}, func(s *swarmtypes.ServiceSpec) {
			s.Labels = map[string]string{"b": "2", "c": "3"}
			s.TaskTemplate.ContainerSpec.Labels = map[string]string{"x": "y"}
		}},
		{"image args entrypoint force", []string{"--image", "nginx:1.27", "--args", "nginx -g 'daemon off;'", "--entrypoint", "/docker-entrypoint.sh", "--force"}, func(s *swarmtypes.ServiceSpec) {
			cs := s.TaskTemplate.ContainerSpec
			cs.Image, cs.Args, cs.Command = "nginx:1.27", []string{"nginx", "-g", "daemon off;"}, []string{"/docker-entrypoint.sh"}
			s.TaskTemplate.ForceUpdate = 1
		}},
		{"publish", []string{"--publish-add", "9090:90", "--publish-rm", "80"}, func(s *swarmtypes.ServiceSpec) {
			s.EndpointSpec.Ports = []swarmtypes.PortConfig{{Protocol: "tcp", TargetPort: 90, PublishedPort: 9090, PublishMode: "ingress"}}
		}},
		{"publish long rm keeps other mode", []string{"--publish-rm", "target=80,mode=host"}, func(*swarmtypes.ServiceSpec) {}},
		{"mounts", []string{"--mount-add", "type=volume,source=v,target=/y", "--mount-rm", "/x"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: "volume", Source: "v", Target: "/y"}}
		}},
		{"mount replaced by target", []string{"--mount-add", "type=bind,source=/b,target=/x,readonly"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: "bind", Source: "/b", Target: "/x", ReadOnly: true}}
		}},
		{"constraints", []string{"--constraint-add", "node.labels.zone==a", "--constraint-rm", "node.role==worker", "--constraint-add", "engine.labels.x==1"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"engine.labels.x==1", "node.labels.zone==a"}
		}},
		{"placement prefs and max replicas", []string{"--placement-pref-add", "spread=node.labels.zone", "--replicas-max-per-node", "3"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.Placement.Preferences = []swarmtypes.PlacementPreference{{Spread: &swarmtypes.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}
			s.TaskTemplate.Placement.MaxReplicas = 3
		}},
		{"networks", []string{"--network-add", "name=back,alias=b", "--network-rm", "front"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.Networks = []swarmtypes.NetworkAttachmentConfig{{Target: "id-back", Aliases: []string{"b"}}}
		}},
		{"replicas", []string{"--replicas", "5"}, func(s *swarmtypes.ServiceSpec) { s.Mode.Replicated.Replicas = u64(5) }},
		{"update config from defaults", []string{"--update-parallelism", "0", "--update-failure-action", "rollback"}, func(s *swarmtypes.ServiceSpec) {
			s.UpdateConfig = &swarmtypes.UpdateConfig{Parallelism: 0, Monitor: 5 * time.Second, FailureAction: "rollback", Order: "stop-first"}
		}},
		{"rollback config", []string{"--rollback-monitor", "10s", "--rollback-max-failure-ratio", "0.5"}, func(s *swarmtypes.ServiceSpec) {
			s.RollbackConfig = &swarmtypes.UpdateConfig{Parallelism: 1, Monitor: 10 * time.Second, FailureAction: "pause", MaxFailureRatio: 0.5, Order: "stop-first"}
		}},
		{"restart policy from defaults", []string{"--restart-delay", "10s", "--restart-window", "1m"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.RestartPolicy = &swarmtypes.RestartPolicy{Condition: "any", Delay: dur(10 * time.Second), MaxAttempts: u64(0), Window: dur(time.Minute)}
		}},
		{"limits only", []string{"--limit-memory", "1g"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.Resources = &swarmtypes.ResourceRequirements{Limits: &swarmtypes.Limit{MemoryBytes: 1 << 30}, Reservations: &swarmtypes.Resources{}}
		}},
		{"reservations", []string{"--reserve-cpu", "2"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.Resources = &swarmtypes.ResourceRequirements{Limits: &swarmtypes.Limit{}, Reservations: &swarmtypes.Resources{NanoCPUs: 2e9}}
		}},
		{"healthcheck replaces NONE", []string{"--health-cmd", "true", "--health-retries", "3"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Retries: 3}
		}},
		{"dns", []string{"--dns-add", "1.1.1.1", "--dns-add", "8.8.8.8", "--dns-search-add", "b.example", "--dns-search-add", "a.example", "--dns-option-add", "ndots:1"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.DNSConfig = &swarmtypes.DNSConfig{
				Nameservers: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8")},
				Search:      []string{"a.example", "b.example"}, Options: []string{"ndots:1"},
			}
		}},
		{"dns rm", []string{"--dns-rm", "8.8.8.8"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.DNSConfig = &swarmtypes.DNSConfig{}
		}},
		{"hosts", []string{"--host-rm", "cache", "--host-add", "web:10.0.0.6"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Hosts = []string{"10.0.0.5 db", "10.0.0.6 web"}
		}},
		{"hosts rm by ip", []string{"--host-rm", "db:10.0.0.9"}, func(*swarmtypes.ServiceSpec) {}},
		{"secrets", []string{"--secret-rm", "old", "--secret-add", "source=pw,target=app_pw"}, func(s *swarmtypes.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Secrets = []*swarmtypes.SecretReference{{SecretName: "pw", SecretID: "sec-id",
				File: &swarmtypes.SecretReferenceFileTarget{Name: "app_pw", UID: "0", GID: "0", Mode: 0o444}}}
		}},
		{"container settings", []string{"-w", "/srv", "-u", "nobody", "--hostname", "h2", "--init", "--tty", "--read-only", "--stop-signal", "SIGINT", "--stop-grace-period", "1m", "--endpoint-mode", "dnsrr"}, func(s *swarmtypes.ServiceSpec) {
			cs := s.TaskTemplate.ContainerSpec
			yes := true
			cs.Dir, cs.User, cs.Hostname, cs.Init, cs.TTY, cs.ReadOnly, cs.StopSignal = "/srv", "nobody", "h2", &yes, true, true, "SIGINT"
			cs.StopGracePeriod = dur(time.Minute)
			s.EndpointSpec.Mode = "dnsrr"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, fs := updateFlags(t, tt.args...)
			got := baseSpec()
			if err := o.apply(context.Background(), api, fs, &got); err != nil {
				t.Fatal(err)
			}
			want := baseSpec()
			want.TaskTemplate.ContainerSpec.Secrets = []*swarmtypes.SecretReference{{SecretName: "old", SecretID: "old-id", File: &swarmtypes.SecretReferenceFileTarget{Name: "old"}}}
			want.TaskTemplate.ContainerSpec.Configs = []*swarmtypes.ConfigReference{}
			tt.change(&want)
			checkJSON(t, "spec", got, want)
		})
	}
}

func TestUpdateApplyErrors(t *testing.T) {
	_, api := fakeAPI(t, nil)
	tests := []struct {
		args []string
		spec func(*swarmtypes.ServiceSpec)
		err  string
	}{
		{args: []string{"--replicas", "3"}, spec: func(s *swarmtypes.ServiceSpec) { s.Mode = swarmtypes.ServiceMode{Global: &swarmtypes.GlobalService{}} },
			err: "replicas can only be used with replicated mode"},
		{args: []string{"--network-add", "front"}, err: "service is already attached to network front"},
		{args: []string{"--mount-add", "target=/y", "--mount-add", "source=v,target=/y"}, err: "duplicate mount target"},
		{args: []string{"--no-healthcheck", "--health-retries", "1"}, err: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--secret-add", "nope"}, err: "secret not found: nope"},
		{args: []string{"--network-rm", "gone"}, err: "page not found"},
	}
	for _, tt := range tests {
		o, fs := updateFlags(t, tt.args...)
		spec := baseSpec()
		if tt.spec != nil {
			tt.spec(&spec)
		}
		if err := o.apply(context.Background(), api, fs, &spec); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v: error = %v, want %q", tt.args, err, tt.err)
		}
	}
}

func TestUpdateNoHealthcheck(t *testing.T) {
	o, fs := updateFlags(t, "--no-healthcheck")
	spec := baseSpec()
	spec.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "true"}, Retries: 2}
	if err := o.apply(context.Background(), nil, fs, &spec); err != nil {
		t.Fatal(err)
	}
	if hc := spec.TaskTemplate.ContainerSpec.Healthcheck; !reflect.DeepEqual(hc, &container.HealthConfig{Test: []string{"NONE"}}) {
		t.Errorf("healthcheck = %+v", hc)
	}
}

func TestUpdateConfigs(t *testing.T) {
	_, api := fakeAPI(t, nil)
	runtime := func(id, name string) *swarmtypes.ConfigReference {
		return &swarmtypes.ConfigReference{ConfigID: id, ConfigName: name, Runtime: &swarmtypes.ConfigReferenceRuntimeTarget{}}
	}
	file := func(id, name string) *swarmtypes.ConfigReference {
		return &swarmtypes.ConfigReference{ConfigID: id, ConfigName: name, File: &swarmtypes.ConfigReferenceFileTarget{Name: name}}
	}
	tests := []struct {
		name     string
		args     []string
		credSpec string
		want     []*swarmtypes.ConfigReference
	}{
		{name: "runtime without credential spec goes", want: []*swarmtypes.ConfigReference{file("f1", "keep"), file("f2", "drop")}},
		{name: "runtime named by the credential spec stays", credSpec: "cred", args: []string{"--config-rm", "drop", "--config-rm", "cred"},
			want: []*swarmtypes.ConfigReference{runtime("r1", "cred"), file("f1", "keep")}},
		{name: "runtime by ID, add", credSpec: "r1", args: []string{"--config-add", "source=cfg,target=/c"},
			want: []*swarmtypes.ConfigReference{runtime("r1", "cred"), file("f1", "keep"), file("f2", "drop"),
				{ConfigID: "cfg-id", ConfigName: "cfg", File: &swarmtypes.ConfigReferenceFileTarget{Name: "/c", UID: "0", GID: "0", Mode: 0o444}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := updateFlags(t, tt.args...)
			cs := &swarmtypes.ContainerSpec{Configs: []*swarmtypes.ConfigReference{runtime("r1", "cred"), file("f1", "keep"), file("f2", "drop")}}
			if tt.credSpec != "" {
				cs.Privileges = &swarmtypes.Privileges{CredentialSpec: &swarmtypes.CredentialSpec{Config: tt.credSpec}}
			}
			got, err := o.updateConfigs(context.Background(), api, cs)
			if err != nil {
				t.Fatal(err)
			}
			checkJSON(t, "configs", got, tt.want)
		})
	}
}
