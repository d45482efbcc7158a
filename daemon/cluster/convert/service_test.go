package convert

import (
	"errors"
	"net/netip"
	"regexp"
	"testing"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// richContainerSpec sets every container field the conversion carries.
func richContainerSpec() *swarm.ContainerSpec {
	return &swarm.ContainerSpec{
		Image:    "registry.example/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Labels:   map[string]string{"c": "d"},
		Command:  []string{"/bin/app"},
		Args:     []string{"--flag", "x"},
		Hostname: "{{.Task.Name}}",
		Env:      []string{"A=1", "B="},
		Dir:      "/work",
		User:     "app:app",
		Groups:   []string{"wheel", "video"},
		Privileges: &swarm.Privileges{
			CredentialSpec:  &swarm.CredentialSpec{Config: "cfg-id"},
			SELinuxContext:  &swarm.SELinuxContext{User: "u", Role: "r", Type: "t", Level: "s0"},
			Seccomp:         &swarm.SeccompOpts{Mode: swarm.SeccompModeCustom, Profile: []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`)},
			AppArmor:        &swarm.AppArmorOpts{Mode: swarm.AppArmorModeDisabled},
			NoNewPrivileges: true,
		},
		Init:       ptr(false),
		StopSignal: "SIGINT",
		TTY:        true,
		OpenStdin:  true,
		ReadOnly:   true,
		Mounts: []mount.Mount{
			{
				Type: mount.TypeBind, Source: "/srv", Target: "/srv", ReadOnly: true, Consistency: mount.ConsistencyCached,
				BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared, NonRecursive: true, CreateMountpoint: true, ReadOnlyNonRecursive: true},
			},
			{
				Type: mount.TypeVolume, Source: "data", Target: "/data",
				VolumeOptions: &mount.VolumeOptions{
					NoCopy: true, Labels: map[string]string{"v": "1"}, Subpath: "sub",
					DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}},
				},
			},
			{
				Type: mount.TypeTmpfs, Target: "/tmp",
				TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777, Options: [][]string{{"noexec"}, {"uid", "1000"}}},
			},
			{Type: mount.TypeNamedPipe, Source: `\\.\pipe\a`, Target: `\\.\pipe\b`},
			{Type: mount.TypeCluster, Source: "csi-vol", Target: "/csi", Consistency: mount.ConsistencyDelegated},
		},
		StopGracePeriod: ptr(20 * time.Second),
		Healthcheck: &container.HealthConfig{
			Test:          []string{"CMD-SHELL", "curl -f http://localhost/"},
			Interval:      30 * time.Second,
			Timeout:       5 * time.Second,
			StartPeriod:   time.Minute,
			StartInterval: 2 * time.Second,
			Retries:       3,
		},
		Hosts: []string{"10.0.0.9 db db.local"},
		DNSConfig: &swarm.DNSConfig{
			Nameservers: []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:4860:4860::8888")},
			Search:      []string{"example.com"},
			Options:     []string{"ndots:2"},
		},
		Secrets: []*swarm.SecretReference{{
			File:     &swarm.SecretReferenceFileTarget{Name: "pw", UID: "0", GID: "0", Mode: 0o400},
			SecretID: "sec1", SecretName: "password",
		}},
		Configs: []*swarm.ConfigReference{
			{File: &swarm.ConfigReferenceFileTarget{Name: "/etc/app.conf", UID: "1", GID: "2", Mode: 0o444}, ConfigID: "cfg1", ConfigName: "app"},
			{Runtime: &swarm.ConfigReferenceRuntimeTarget{}, ConfigID: "cfg-id", ConfigName: "credspec"},
		},
		Isolation:      container.IsolationProcess,
		Sysctls:        map[string]string{"net.core.somaxconn": "1024"},
		CapabilityAdd:  []string{"CAP_NET_ADMIN"},
		CapabilityDrop: []string{"CAP_MKNOD"},
		Ulimits:        []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}},
		OomScoreAdj:    -500,
	}
}

// richServiceSpec sets every service field the conversion carries.
func richServiceSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: richContainerSpec(),
			Resources: &swarm.ResourceRequirements{
				Limits: &swarm.Limit{NanoCPUs: 1.5e9, MemoryBytes: 512 << 20, Pids: 200},
				Reservations: &swarm.Resources{
					NanoCPUs: 5e8, MemoryBytes: 128 << 20,
					GenericResources: []swarm.GenericResource{
						{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "SSD", Value: 1}},
						{NamedResourceSpec: &swarm.NamedGenericResource{Kind: "GPU", Value: "UUID1"}},
					},
				},
				SwapBytes:        ptr[int64](1 << 30),
				MemorySwappiness: ptr[int64](10),
			},
			RestartPolicy: &swarm.RestartPolicy{
				Condition:   swarm.RestartPolicyConditionOnFailure,
				Delay:       ptr(3 * time.Second),
				MaxAttempts: ptr[uint64](4),
				Window:      ptr(time.Minute),
			},
			Placement: &swarm.Placement{
				Constraints: []string{"node.role==worker", "node.labels.zone!=b"},
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
				MaxReplicas: 2,
				Platforms:   []swarm.Platform{{Architecture: "amd64", OS: "linux"}, {Architecture: "arm64", OS: "linux"}},
			},
			Networks: []swarm.NetworkAttachmentConfig{
				{Target: "front", Aliases: []string{"web", "www"}, DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}},
				{Target: "back"},
			},
			LogDriver:   &swarm.Driver{Name: "json-file", Options: map[string]string{"max-file": "3"}},
			ForceUpdate: 2,
			Runtime:     swarm.RuntimeContainer,
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr[uint64](3)}},
		UpdateConfig: &swarm.UpdateConfig{
			Parallelism: 2, Delay: 10 * time.Second, FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: 15 * time.Second, MaxFailureRatio: 0.25, Order: swarm.UpdateOrderStartFirst,
		},
		RollbackConfig: &swarm.UpdateConfig{
			Parallelism: 1, FailureAction: swarm.UpdateFailureActionContinue, Order: swarm.UpdateOrderStopFirst,
		},
		EndpointSpec: &swarm.EndpointSpec{
			Mode: swarm.ResolutionModeDNSRR,
			Ports: []swarm.PortConfig{
				{Name: "http", Protocol: network.TCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeIngress},
				{Protocol: network.UDP, TargetPort: 53, PublishedPort: 53, PublishMode: swarm.PortConfigPublishModeHost},
				{Protocol: network.SCTP, TargetPort: 9, PublishMode: swarm.PortConfigPublishModeIngress},
			},
		},
	}
}

func TestServiceSpecRoundTrip(t *testing.T) {
	global := richServiceSpec()
	global.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	global.EndpointSpec.Mode = swarm.ResolutionModeVIP
	replJob := richServiceSpec()
	replJob.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: ptr[uint64](2), TotalCompletions: ptr[uint64](10)}}
	globalJob := richServiceSpec()
	globalJob.Mode = swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}
	minimal := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "min", Labels: map[string]string{}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "busybox", Isolation: container.IsolationDefault},
			Runtime:       swarm.RuntimeContainer,
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr[uint64](0)}},
	}
	plugin := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "plug", Labels: map[string]string{}},
		TaskTemplate: swarm.TaskSpec{
			PluginSpec: &swarm.RuntimeSpec{
				Name: "vieux/sshfs", Remote: "vieux/sshfs:latest", Disabled: true, Env: []string{"DEBUG=1"},
				Privileges: []*swarm.RuntimePrivilege{{Name: "network", Description: "net access", Value: []string{"host", "bridge"}}, {Name: "mount"}},
			},
			Placement: &swarm.Placement{Constraints: []string{"node.platform.os==linux"}},
			Runtime:   swarm.RuntimePlugin,
		},
		Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}},
	}
	tests := map[string]swarm.ServiceSpec{
		"replicated": richServiceSpec(), "global": global, "replicated-job": replJob,
		"global-job": globalJob, "minimal": minimal, "plugin": plugin,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := ServiceSpecToGRPC(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ServiceSpecFromGRPC(&g)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(in, *out); d != "" {
				t.Errorf("round trip mismatch (-in +out):\n%s", d)
			}
		})
	}
}

func TestServiceSpecToGRPCDetails(t *testing.T) {
	g, err := ServiceSpecToGRPC(richServiceSpec())
	if err != nil {
		t.Fatal(err)
	}
	c := g.Task.GetContainer()
	if c.PidsLimit != 200 {
		t.Errorf("PidsLimit = %d, want 200 (from Resources.Limits.Pids)", c.PidsLimit)
	}
	if got := c.Mounts[2].TmpfsOptions.Options; got != `[["noexec"],["uid","1000"]]` {
		t.Errorf("tmpfs options = %q, want dockerd's JSON form", got)
	}
	if c.Mounts[0].Consistency != swarmapi.MountConsistencyCached || c.Mounts[1].Consistency != swarmapi.MountConsistencyDefault {
		t.Errorf("consistency = %v, %v", c.Mounts[0].Consistency, c.Mounts[1].Consistency)
	}
	if c.Isolation != swarmapi.ContainerIsolationProcess {
		t.Errorf("isolation = %v", c.Isolation)
	}
	if g.Task.Resources.Limits.NanoCPUs != 1.5e9 || g.Task.Resources.SwapBytes.Value != 1<<30 {
		t.Errorf("resources = %+v", g.Task.Resources)
	}
	if g.Endpoint.Mode != swarmapi.ResolutionModeDNSRoundRobin || g.Endpoint.Ports[1].Protocol != swarmapi.ProtocolUDP ||
		g.Endpoint.Ports[1].PublishMode != swarmapi.PublishModeHost || g.Endpoint.Ports[2].Protocol != swarmapi.ProtocolSCTP {
		t.Errorf("endpoint = %+v", g.Endpoint)
	}
	if g.Update.FailureAction != swarmapi.UpdateConfig_ROLLBACK || g.Update.Order != swarmapi.UpdateConfig_START_FIRST ||
		g.Rollback.FailureAction != swarmapi.UpdateConfig_CONTINUE {
		t.Errorf("update = %+v, rollback = %+v", g.Update, g.Rollback)
	}
	if g.Task.Restart.Condition != swarmapi.RestartOnFailure || g.Task.Restart.MaxAttempts != 4 {
		t.Errorf("restart = %+v", g.Task.Restart)
	}
	if len(g.Networks) != 0 { //nolint:staticcheck // the deprecated field must stay empty
		t.Errorf("deprecated ServiceSpec.Networks set: %+v", g.Networks) //nolint:staticcheck
	}
}

func TestServiceSpecToGRPCDefaults(t *testing.T) {
	base := func() swarm.ServiceSpec {
		return swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: "s"},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox"}},
		}
	}
	mode := func(t *testing.T, m swarm.ServiceMode) swarmapi.ServiceSpec {
		t.Helper()
		s := base()
		s.Mode = m
		g, err := ServiceSpecToGRPC(s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	t.Run("random name", func(t *testing.T) {
		s := base()
		s.Name = ""
		g, err := ServiceSpecToGRPC(s)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[a-z]+_[a-z]+$`).MatchString(g.Annotations.Name) {
			t.Errorf("generated name %q is not adjective_surname", g.Annotations.Name)
		}
	})
	t.Run("replicated 1 when no mode", func(t *testing.T) {
		for _, m := range []swarm.ServiceMode{{}, {Replicated: &swarm.ReplicatedService{}}} {
			g := mode(t, m)
			if r := g.GetReplicated(); r == nil || r.Replicas != 1 {
				t.Errorf("mode %+v: got %+v, want replicated 1", m, g.Mode)
			}
		}
	})
	t.Run("replicated job defaults", func(t *testing.T) {
		tests := []struct {
			in              swarm.ReplicatedJob
			maxConc, totalC uint64
		}{
			{swarm.ReplicatedJob{}, 1, 1},
			{swarm.ReplicatedJob{MaxConcurrent: ptr[uint64](3)}, 3, 3},
			{swarm.ReplicatedJob{TotalCompletions: ptr[uint64](5)}, 1, 5},
		}
		for _, tt := range tests {
			g := mode(t, swarm.ServiceMode{ReplicatedJob: &tt.in})
			j := g.GetReplicatedJob()
			if j == nil || j.MaxConcurrent != tt.maxConc || j.TotalCompletions != tt.totalC {
				t.Errorf("%+v: got %+v, want %d/%d", tt.in, j, tt.maxConc, tt.totalC)
			}
		}
	})
	t.Run("plugin is global", func(t *testing.T) {
		s := swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: "p"},
			TaskTemplate: swarm.TaskSpec{Runtime: swarm.RuntimePlugin, PluginSpec: &swarm.RuntimeSpec{Name: "x"}},
		}
		g, err := ServiceSpecToGRPC(s)
		if err != nil {
			t.Fatal(err)
		}
		if g.GetGlobal() == nil {
			t.Errorf("plugin mode = %+v, want global", g.Mode)
		}
		gen := g.Task.GetGeneric()
		if gen == nil || gen.Kind != "plugin" || gen.Payload.TypeUrl != "types.docker.com/RuntimePlugin" {
			t.Errorf("plugin runtime = %+v", gen)
		}
	})
	t.Run("empty values are Docker's defaults", func(t *testing.T) {
		s := base()
		s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{}
		s.UpdateConfig = &swarm.UpdateConfig{}
		s.RollbackConfig = &swarm.UpdateConfig{}
		s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80}, {Protocol: "UDP", PublishMode: "HOST", TargetPort: 53}}}
		s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Source: "/a", Target: "/b"}}
		g, err := ServiceSpecToGRPC(s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ServiceSpecFromGRPC(&g)
		if err != nil {
			t.Fatal(err)
		}
		want := swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "s", Labels: map[string]string{}},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{
					Image:     "busybox",
					Isolation: container.IsolationDefault,
					Mounts:    []mount.Mount{{Type: mount.TypeBind, Source: "/a", Target: "/b"}},
				},
				RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, MaxAttempts: ptr[uint64](0)},
				Runtime:       swarm.RuntimeContainer,
			},
			Mode:           swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr[uint64](1)}},
			UpdateConfig:   &swarm.UpdateConfig{FailureAction: swarm.UpdateFailureActionPause, Order: swarm.UpdateOrderStopFirst},
			RollbackConfig: &swarm.UpdateConfig{FailureAction: swarm.UpdateFailureActionPause, Order: swarm.UpdateOrderStopFirst},
			EndpointSpec: &swarm.EndpointSpec{
				Mode: swarm.ResolutionModeVIP,
				Ports: []swarm.PortConfig{
					{Protocol: network.TCP, TargetPort: 80, PublishMode: swarm.PortConfigPublishModeIngress},
					{Protocol: network.UDP, TargetPort: 53, PublishMode: swarm.PortConfigPublishModeHost},
				},
			},
		}
		if d := diff(want, *out); d != "" {
			t.Errorf("defaults (-want +got):\n%s", d)
		}
	})
}

func TestServiceSpecToGRPCErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*swarm.ServiceSpec)
		want   string
	}{
		{"no container spec", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec = nil }, "mismatched Runtime and *Spec fields"},
		{"no plugin spec", func(s *swarm.ServiceSpec) { s.TaskTemplate.Runtime = swarm.RuntimePlugin }, "mismatched Runtime and *Spec fields"},
		{"attachment runtime", func(s *swarm.ServiceSpec) { s.TaskTemplate.Runtime = swarm.RuntimeNetworkAttachment }, "unsupported runtime"},
		{"unknown runtime", func(s *swarm.ServiceSpec) { s.TaskTemplate.Runtime = "vm" }, "unsupported runtime"},
		{"replicated plugin", func(s *swarm.ServiceSpec) {
			s.TaskTemplate = swarm.TaskSpec{Runtime: swarm.RuntimePlugin, PluginSpec: &swarm.RuntimeSpec{}}
		}, "plugins must not use replicated mode"},
		{"restart condition", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: "sometimes"}
		}, `invalid RestartCondition: "sometimes"`},
		{"update failure action", func(s *swarm.ServiceSpec) { s.UpdateConfig.FailureAction = "explode" }, "unrecognized update failure action explode"},
		{"rollback failure action", func(s *swarm.ServiceSpec) { s.RollbackConfig = &swarm.UpdateConfig{FailureAction: "rollback!"} }, "unrecognized update failure action rollback!"},
		{"update order", func(s *swarm.ServiceSpec) { s.UpdateConfig.Order = "random" }, "unrecognized update order random"},
		{"rollback order", func(s *swarm.ServiceSpec) { s.RollbackConfig = &swarm.UpdateConfig{Order: "START-FIRST"} }, "unrecognized update order START-FIRST"},
		{"resolution mode", func(s *swarm.ServiceSpec) { s.EndpointSpec.Mode = "round-robin" }, `invalid resolution mode: "round-robin"`},
		{"two modes", func(s *swarm.ServiceSpec) { s.Mode.Global = &swarm.GlobalService{} }, "must specify only one service mode"},
		{"two job modes", func(s *swarm.ServiceSpec) {
			s.Mode = swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}, ReplicatedJob: &swarm.ReplicatedJob{}}
		}, "must specify only one service mode"},
		{"mount type", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeImage, Source: "alpine", Target: "/img"}}
		}, `invalid MountType: "image"`},
		{"mount propagation", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].BindOptions.Propagation = "sideways"
		}, `invalid MountPropagation: "sideways"`},
		{"empty credential spec", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges.CredentialSpec = &swarm.CredentialSpec{}
		}, `invalid CredentialSpec: must either provide "file", "registry", or "config" for credential spec`},
		{"two credential specs", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges.CredentialSpec = &swarm.CredentialSpec{Config: "a", File: "b"}
		}, `invalid CredentialSpec: cannot specify both "config" and "file" credential specs`},
		{"three credential specs", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Privileges.CredentialSpec = &swarm.CredentialSpec{Config: "a", File: "b", Registry: "c"}
		}, `invalid CredentialSpec: cannot specify both "config", "file", and "registry" credential specs`},
		{"config without target", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigID: "x"}}
		}, "invalid Config: either File or Runtime should be set"},
		{"config with two targets", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{
				ConfigID: "x", File: &swarm.ConfigReferenceFileTarget{Name: "f"}, Runtime: &swarm.ConfigReferenceRuntimeTarget{},
			}}
		}, "invalid Config: cannot specify both File and Runtime"},
		{"swap without memory limit", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources.Limits.MemoryBytes = 0
		}, "memory swap provided, but no memory-limit was set"},
		{"swap without limits", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources = &swarm.ResourceRequirements{SwapBytes: ptr[int64](-1)}
		}, "memory swap provided, but no memory-limit was set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := richServiceSpec()
			tt.modify(&s)
			_, err := ServiceSpecToGRPC(s)
			wantInvalid(t, err, tt.want)
		})
	}

	_, err := ServiceSpecToGRPC(swarm.ServiceSpec{})
	if !errors.Is(err, ErrMismatchedRuntime) {
		t.Errorf("empty spec: err = %v, want ErrMismatchedRuntime", err)
	}
	_, err = ServiceSpecToGRPC(swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{Runtime: "x"}})
	if !errors.Is(err, ErrUnsupportedRuntime) {
		t.Errorf("runtime x: err = %v, want ErrUnsupportedRuntime", err)
	}
}

func TestServiceFromGRPC(t *testing.T) {
	created := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	cur, err := ServiceSpecToGRPC(richServiceSpec())
	if err != nil {
		t.Fatal(err)
	}
	prevSpec := richServiceSpec()
	prevSpec.TaskTemplate.ContainerSpec.Image = "registry.example/app:1.1"
	prev, err := ServiceSpecToGRPC(prevSpec)
	if err != nil {
		t.Fatal(err)
	}
	in := &swarmapi.Service{
		ID:           "svc1",
		Meta:         swarmapi.Meta{Version: swarmapi.Version{Index: 77}, CreatedAt: ts(t, created), UpdatedAt: ts(t, created.Add(time.Hour))},
		Spec:         cur,
		PreviousSpec: &prev,
		Endpoint: &swarmapi.Endpoint{
			Spec:  cur.Endpoint,
			Ports: []*swarmapi.PortConfig{{Name: "http", TargetPort: 80, PublishedPort: 8080}},
			VirtualIPs: []*swarmapi.Endpoint_VirtualIP{
				{NetworkID: "ingress", Addr: "10.0.0.5/24"},
				{NetworkID: "front", Addr: "10.0.1.7"},
			},
		},
		UpdateStatus: &swarmapi.UpdateStatus{
			State:     swarmapi.UpdateStatus_ROLLBACK_PAUSED,
			StartedAt: ts(t, created.Add(2*time.Hour)),
			Message:   "update paused due to failure or early termination of task x",
		},
		JobStatus: &swarmapi.JobStatus{JobIteration: swarmapi.Version{Index: 5}, LastExecution: ts(t, created.Add(3*time.Hour))},
	}
	started := created.Add(2 * time.Hour)
	want := swarm.Service{
		ID:           "svc1",
		Meta:         swarm.Meta{Version: swarm.Version{Index: 77}, CreatedAt: created, UpdatedAt: created.Add(time.Hour)},
		Spec:         richServiceSpec(),
		PreviousSpec: &prevSpec,
		Endpoint: swarm.Endpoint{
			Spec:  *richServiceSpec().EndpointSpec,
			Ports: []swarm.PortConfig{{Name: "http", Protocol: network.TCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeIngress}},
			VirtualIPs: []swarm.EndpointVirtualIP{
				{NetworkID: "ingress", Addr: netip.MustParsePrefix("10.0.0.5/24")},
				{NetworkID: "front", Addr: netip.MustParsePrefix("10.0.1.7/32")},
			},
		},
		UpdateStatus: &swarm.UpdateStatus{
			State:     swarm.UpdateStateRollbackPaused,
			StartedAt: &started,
			Message:   "update paused due to failure or early termination of task x",
		},
		JobStatus: &swarm.JobStatus{JobIteration: swarm.Version{Index: 5}, LastExecution: created.Add(3 * time.Hour)},
	}
	got, err := ServiceFromGRPC(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ServiceFromGRPC mismatch (-want +got):\n%s", d)
	}

	if got, err := ServiceFromGRPC(nil); err != nil || diff(swarm.Service{}, got) != "" {
		t.Errorf("ServiceFromGRPC(nil) = %+v, %v", got, err)
	}
}

func TestServiceUpdateStates(t *testing.T) {
	tests := []struct {
		in   swarmapi.UpdateStatus_UpdateState
		want swarm.UpdateState
	}{
		{swarmapi.UpdateStatus_UNKNOWN, ""},
		{swarmapi.UpdateStatus_UPDATING, "updating"},
		{swarmapi.UpdateStatus_PAUSED, "paused"},
		{swarmapi.UpdateStatus_COMPLETED, "completed"},
		{swarmapi.UpdateStatus_ROLLBACK_STARTED, "rollback_started"},
		{swarmapi.UpdateStatus_ROLLBACK_PAUSED, "rollback_paused"},
		{swarmapi.UpdateStatus_ROLLBACK_COMPLETED, "rollback_completed"},
	}
	spec, err := ServiceSpecToGRPC(richServiceSpec())
	if err != nil {
		t.Fatal(err)
	}
	done := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		got, err := ServiceFromGRPC(&swarmapi.Service{Spec: spec, UpdateStatus: &swarmapi.UpdateStatus{
			State:       tt.in,
			StartedAt:   &gogotypes.Timestamp{}, // the epoch: not shown
			CompletedAt: ts(t, done),
		}})
		if err != nil {
			t.Fatal(err)
		}
		u := got.UpdateStatus
		if u.State != tt.want || u.StartedAt != nil || u.CompletedAt == nil || !u.CompletedAt.Equal(done) {
			t.Errorf("%v: got %+v, want state %q, no start, completion %v", tt.in, u, tt.want, done)
		}
	}
}

func TestServiceSpecFromGRPC(t *testing.T) {
	if got, err := ServiceSpecFromGRPC(nil); got != nil || err != nil {
		t.Errorf("ServiceSpecFromGRPC(nil) = %+v, %v", got, err)
	}

	// The deprecated ServiceSpec.Networks shows as TaskTemplate.Networks.
	old := &swarmapi.ServiceSpec{
		Task:     swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Container{Container: &swarmapi.ContainerSpec{Image: "x"}}},
		Networks: []*swarmapi.NetworkAttachmentConfig{{Target: "legacy", Aliases: []string{"a"}}},
		Mode:     &swarmapi.ServiceSpec_Global{Global: &swarmapi.GlobalService{}},
	}
	got, err := ServiceSpecFromGRPC(old)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]swarm.NetworkAttachmentConfig{{Target: "legacy", Aliases: []string{"a"}}}, got.TaskTemplate.Networks); d != "" {
		t.Errorf("deprecated networks (-want +got):\n%s", d)
	}
	// ... but never over the task template's own.
	old.Task.Networks = []*swarmapi.NetworkAttachmentConfig{{Target: "new"}}
	if got, _ = ServiceSpecFromGRPC(old); len(got.TaskTemplate.Networks) != 1 || got.TaskTemplate.Networks[0].Target != "new" {
		t.Errorf("task networks = %+v, want only new", got.TaskTemplate.Networks)
	}

	errs := []struct {
		rt   swarmapi.TaskSpec
		want string
	}{
		{swarmapi.TaskSpec{}, "error creating service; unsupported runtime <nil>"},
		{swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Attachment{Attachment: &swarmapi.NetworkAttachmentSpec{}}}, "error creating service; unsupported runtime *api.TaskSpec_Attachment"},
		{swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Generic{Generic: &swarmapi.GenericRuntimeSpec{Kind: "vm", Payload: &gogotypes.Any{TypeUrl: "example.com/VM"}}}}, "unknown task runtime type: example.com/VM"},
		{swarmapi.TaskSpec{Runtime: &swarmapi.TaskSpec_Generic{Generic: &swarmapi.GenericRuntimeSpec{Kind: "vm"}}}, "unknown task runtime type: "},
	}
	for _, tt := range errs {
		_, err := ServiceSpecFromGRPC(&swarmapi.ServiceSpec{Task: tt.rt})
		if err == nil || err.Error() != tt.want {
			t.Errorf("runtime %T: err = %v, want %q", tt.rt.Runtime, err, tt.want)
		}
		if _, err := ServiceFromGRPC(&swarmapi.Service{Spec: swarmapi.ServiceSpec{Task: tt.rt}}); err == nil {
			t.Errorf("ServiceFromGRPC with runtime %T: no error", tt.rt.Runtime)
		}
	}
	good, _ := ServiceSpecToGRPC(richServiceSpec())
	if _, err := ServiceFromGRPC(&swarmapi.Service{Spec: good, PreviousSpec: &swarmapi.ServiceSpec{}}); err == nil {
		t.Error("ServiceFromGRPC with a bad previous spec: no error")
	}
}

func TestTmpfsOptions(t *testing.T) {
	tests := []struct {
		in   [][]string
		want string
	}{
		{nil, ""},
		{[][]string{}, ""},
		{[][]string{{"exec"}}, `[["exec"]]`},
		{[][]string{{"nr_inodes", "1k"}, {"noatime"}}, `[["nr_inodes","1k"],["noatime"]]`},
	}
	for _, tt := range tests {
		got := TmpfsOptionsToGRPC(tt.in)
		if got != tt.want {
			t.Errorf("TmpfsOptionsToGRPC(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back := TmpfsOptionsFromGRPC(got); len(tt.in) > 0 && diff(tt.in, back) != "" {
			t.Errorf("TmpfsOptionsFromGRPC(%q) = %v", got, back)
		}
	}
	for _, bad := range []string{"", "null", "size=1m", `{"a":1}`} {
		if got := TmpfsOptionsFromGRPC(bad); got != nil {
			t.Errorf("TmpfsOptionsFromGRPC(%q) = %v, want nil", bad, got)
		}
	}
}
