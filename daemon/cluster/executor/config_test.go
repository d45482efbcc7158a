package executor

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func task(spec *swarmapi.ContainerSpec, res *swarmapi.ResourceRequirements) *swarmapi.Task {
	return &swarmapi.Task{
		ID: "tid0123456789abcdefghijkl", ServiceID: "sid", NodeID: "nid", Slot: 2,
		ServiceAnnotations: swarmapi.Annotations{Name: "web"},
		Spec: swarmapi.TaskSpec{
			Runtime:   &swarmapi.TaskSpec_Container{Container: spec},
			Resources: res,
		},
	}
}

func TestTaskContainer(t *testing.T) {
	tests := []struct {
		name  string
		spec  *swarmapi.ContainerSpec
		res   *swarmapi.ResourceRequirements
		nets  []AttachedNetwork
		check func(t *testing.T, c *containerConfig)
	}{
		{
			name: "name labels and command",
			spec: &swarmapi.ContainerSpec{Image: "busybox", Args: []string{"sleep", "1"}, Labels: map[string]string{"a": "b"}},
			check: func(t *testing.T, c *containerConfig) {
				if c.name != "web.2.tid0123456789abcdefghijkl" {
					t.Errorf("name %q", c.name)
				}
				want := map[string]string{
					"a": "b", LabelNodeID: "nid", LabelServiceID: "sid", LabelServiceName: "web",
					LabelTask: "", LabelTaskID: "tid0123456789abcdefghijkl", LabelTaskName: "web.2.tid0123456789abcdefghijkl",
				}
				if !reflect.DeepEqual(c.config.Labels, want) {
					t.Errorf("labels %v", c.config.Labels)
				}
				if c.config.Entrypoint != nil || !reflect.DeepEqual([]string(c.config.Cmd), []string{"sleep", "1"}) {
					t.Errorf("entrypoint %v cmd %v", c.config.Entrypoint, c.config.Cmd)
				}
				if c.host.RestartPolicy.Name != container.RestartPolicyDisabled {
					t.Errorf("restart policy %q: SwarmKit restarts tasks", c.host.RestartPolicy.Name)
				}
				if c.stopGrace != 10*time.Second {
					t.Errorf("stop grace %s", c.stopGrace)
				}
				if c.host.NetworkMode != "" {
					t.Errorf("no networks: default bridge, got %q", c.host.NetworkMode)
				}
			},
		},
		{
			name: "command replaces the entrypoint",
			spec: &swarmapi.ContainerSpec{Image: "busybox", Command: []string{"/bin/sh", "-c"}, Args: []string{"echo hi"}},
			check: func(t *testing.T, c *containerConfig) {
				if !reflect.DeepEqual([]string(c.config.Entrypoint), []string{"/bin/sh", "-c"}) || !reflect.DeepEqual([]string(c.config.Cmd), []string{"echo hi"}) {
					t.Errorf("entrypoint %v cmd %v", c.config.Entrypoint, c.config.Cmd)
				}
			},
		},
		{
			name: "limits and grace",
			spec: &swarmapi.ContainerSpec{Image: "busybox", StopGracePeriod: gogotypes.DurationProto(3 * time.Second), PidsLimit: 50},
			res: &swarmapi.ResourceRequirements{
				Limits:       &swarmapi.Resources{NanoCPUs: 1e8, MemoryBytes: 50 << 20},
				Reservations: &swarmapi.Resources{MemoryBytes: 20 << 20},
			},
			check: func(t *testing.T, c *containerConfig) {
				if c.host.NanoCPUs != 1e8 || c.host.Memory != 50<<20 || c.host.MemoryReservation != 20<<20 {
					t.Errorf("resources %+v", c.host.Resources)
				}
				if c.host.PidsLimit == nil || *c.host.PidsLimit != 50 {
					t.Errorf("pids %v", c.host.PidsLimit)
				}
				if c.stopGrace != 3*time.Second {
					t.Errorf("stop grace %s", c.stopGrace)
				}
			},
		},
		{
			name: "hosts mounts dns",
			spec: &swarmapi.ContainerSpec{
				Image:     "busybox",
				Hosts:     []string{"10.0.0.1 db db.local"},
				DNSConfig: &swarmapi.ContainerSpec_DNSConfig{Nameservers: []string{"1.1.1.1"}, Search: []string{"x"}},
				Mounts: []swarmapi.Mount{
					{Type: swarmapi.MountTypeVolume, Source: "data", Target: "/data"},
					{Type: swarmapi.MountTypeBind, Source: "/tmp", Target: "/host", ReadOnly: true},
					{Type: swarmapi.MountTypeTmpfs, Target: "/scratch", TmpfsOptions: &swarmapi.Mount_TmpfsOptions{SizeBytes: 1 << 20}},
				},
			},
			check: func(t *testing.T, c *containerConfig) {
				if !reflect.DeepEqual(c.host.ExtraHosts, []string{"db:10.0.0.1", "db.local:10.0.0.1"}) {
					t.Errorf("extra hosts %v", c.host.ExtraHosts)
				}
				if len(c.host.DNS) != 1 || c.host.DNS[0] != netip.MustParseAddr("1.1.1.1") || !reflect.DeepEqual(c.host.DNSSearch, []string{"x"}) {
					t.Errorf("dns %v %v", c.host.DNS, c.host.DNSSearch)
				}
				want := []mount.Mount{
					{Type: mount.TypeVolume, Source: "data", Target: "/data"},
					{Type: mount.TypeBind, Source: "/tmp", Target: "/host", ReadOnly: true},
					{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
				}
				if !reflect.DeepEqual(c.host.Mounts, want) {
					t.Errorf("mounts %+v", c.host.Mounts)
				}
			},
		},
		{
			name: "networks",
			spec: &swarmapi.ContainerSpec{Image: "busybox"},
			nets: []AttachedNetwork{
				{Name: "n1", Endpoint: &network.EndpointSettings{Aliases: []string{"web"}}},
				{Name: "n2", Endpoint: &network.EndpointSettings{}},
			},
			check: func(t *testing.T, c *containerConfig) {
				if c.host.NetworkMode != "n1" || len(c.networking.EndpointsConfig) != 2 {
					t.Errorf("mode %q endpoints %v", c.host.NetworkMode, c.networking.EndpointsConfig)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := taskContainer(task(tt.spec, tt.res), tt.spec, tt.nets)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestTaskContainerErrors(t *testing.T) {
	for _, spec := range []*swarmapi.ContainerSpec{
		{Image: "busybox", Hosts: []string{"justonefield"}},
		{Image: "busybox", DNSConfig: &swarmapi.ContainerSpec_DNSConfig{Nameservers: []string{"not-an-ip"}}},
		{Image: "busybox", Mounts: []swarmapi.Mount{{Type: swarmapi.MountTypeNamedPipe, Target: "/x"}}},
	} {
		if _, err := taskContainer(task(spec, nil), spec, nil); err == nil {
			t.Errorf("%+v: no error", spec)
		}
	}
	if _, err := taskContainer(task(nil, nil), nil, nil); err == nil {
		t.Error("nil spec: no error")
	}
}

func TestExitError(t *testing.T) {
	e := &exitError{code: 1}
	if e.Error() != "task: non-zero exit (1)" || e.ExitCode() != 1 {
		t.Errorf("%v %d", e, e.ExitCode())
	}
}

func TestTranslateDockerSocket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		api    string
		owned  bool
		source string
		want   string
	}{
		{"no docker daemon: berth's socket", "/run/berth/berth.sock", false, "/var/run/docker.sock", "/run/berth/berth.sock"},
		{"a docker daemon owns it", "/run/berth/berth.sock", true, "/var/run/docker.sock", "/var/run/docker.sock"},
		{"other binds untouched", "/run/berth/berth.sock", false, "/var/run/other.sock", "/var/run/other.sock"},
		{"no API socket known", "", false, "/var/run/docker.sock", "/var/run/docker.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mounts := []mount.Mount{{Type: mount.TypeBind, Source: tc.source, Target: "/var/run/docker.sock"}}
			engineSocketMounts(mounts, tc.api, func(string) bool { return tc.owned })
			if mounts[0].Source != tc.want {
				t.Errorf("source %s, want %s", mounts[0].Source, tc.want)
			}
		})
	}
}
