package service

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/cli/command/formatter"
)

func svc(id, name string, mode swarmtypes.ServiceMode, status *swarmtypes.ServiceStatus, image string, ports ...swarmtypes.PortConfig) swarmtypes.Service {
	s := swarmtypes.Service{ID: id, ServiceStatus: status}
	s.Spec.Name = name
	s.Spec.Mode = mode
	s.Spec.TaskTemplate.ContainerSpec = &swarmtypes.ContainerSpec{Image: image}
	s.Endpoint.Ports = ports
	return s
}

func TestListTable(t *testing.T) {
	digest := "@sha256:0123456789012345678901234567890123456789012345678901234567890123"
	maxed := svc("m5l3gyvq0rz3a2pbd6tagc2kg", "limited", swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: u64(4)}},
		&swarmtypes.ServiceStatus{RunningTasks: 4, DesiredTasks: 4}, "busybox:latest"+digest)
	maxed.Spec.TaskTemplate.Placement = &swarmtypes.Placement{MaxReplicas: 2}
	services := []swarmtypes.Service{
		svc("w4ir1ia0kf8zyxfoo3f7nfovh", "web10", swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: u64(5)}},
			&swarmtypes.ServiceStatus{RunningTasks: 3, DesiredTasks: 5}, "nginx:alpine"+digest,
			port("tcp", 80, 8080, "ingress"), port("tcp", 81, 8081, "ingress"), port("udp", 53, 53, "ingress"), port("tcp", 22, 2222, "host")),
		svc("0bcjwfh8ychrx4ylbkdk9gmzq", "web2", swarmtypes.ServiceMode{Global: &swarmtypes.GlobalService{}},
			&swarmtypes.ServiceStatus{RunningTasks: 1, DesiredTasks: 1}, "docker.io/library/redis:7"),
		svc("kv6ci3bpmt8b6zyx2q1vvu7vh", "migrate", swarmtypes.ServiceMode{ReplicatedJob: &swarmtypes.ReplicatedJob{TotalCompletions: u64(3)}},
			&swarmtypes.ServiceStatus{RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 2}, "app:v1"),
		svc("p0b4hbfq3c2xmnd8yzk4kx1jo", "cleanup", swarmtypes.ServiceMode{GlobalJob: &swarmtypes.GlobalJob{}},
			&swarmtypes.ServiceStatus{DesiredTasks: 0, CompletedTasks: 2}, "app:v1"),
		maxed,
	}
	var b strings.Builder
	if err := formatter.List(&b, "", DefaultListFormat, listHeaders, listRows(services)); err != nil {
		t.Fatal(err)
	}
	want := `ID             NAME      MODE             REPLICAS               IMAGE            PORTS
p0b4hbfq3c2x   cleanup   global job       0/0 (2/2 completed)    app:v1           
m5l3gyvq0rz3   limited   replicated       4/4 (max 2 per node)   busybox:latest   
kv6ci3bpmt8b   migrate   replicated job   1/1 (2/3 completed)    app:v1           
0bcjwfh8ychr   web2      global           1/1                    redis:7          
w4ir1ia0kf8z   web10     replicated       3/5                    nginx:alpine     *:8080-8081->80-81/tcp, *:53->53/udp
`
	if b.String() != want {
		t.Errorf("service ls:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestIngressPorts(t *testing.T) {
	tests := []struct {
		ports []swarmtypes.PortConfig
		want  string
	}{
		{nil, ""},
		{[]swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress")}, "*:8080->80/tcp"},
		{[]swarmtypes.PortConfig{port("tcp", 80, 8080, "host")}, ""},
		{[]swarmtypes.PortConfig{port("tcp", 82, 8082, "ingress"), port("tcp", 80, 8080, "ingress"), port("tcp", 81, 8081, "ingress")}, "*:8080-8082->80-82/tcp"},
		{[]swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress"), port("tcp", 90, 8081, "ingress")}, "*:8080->80/tcp, *:8081->90/tcp"},
		{[]swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress"), port("tcp", 80, 8081, "ingress")}, "*:8080-8081->80/tcp"},
		{[]swarmtypes.PortConfig{port("udp", 53, 53, "ingress"), port("tcp", 53, 53, "ingress")}, "*:53->53/tcp, *:53->53/udp"},
	}
	for _, tt := range tests {
		if got := ingressPorts(tt.ports); got != tt.want {
			t.Errorf("ingressPorts(%v) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestPretty(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	started := now.Add(-90 * time.Second)
	yes := true
	s := svc("w4ir1ia0kf8zyxfoo3f7nfovh", "web", swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: u64(3)}}, nil, "nginx:alpine",
		port("tcp", 80, 8080, "ingress"))
	s.Spec.Labels = map[string]string{"tier": "front", "flag": ""}
	s.UpdateStatus = &swarmtypes.UpdateStatus{State: "updating", StartedAt: &started, Message: "update in progress"}
	s.Spec.TaskTemplate.Placement = &swarmtypes.Placement{Constraints: []string{"node.role==worker"}, MaxReplicas: 2,
		Preferences: []swarmtypes.PlacementPreference{{Spread: &swarmtypes.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}}
	s.Spec.UpdateConfig = &swarmtypes.UpdateConfig{Parallelism: 1, Delay: 10 * time.Second, FailureAction: "pause", Monitor: 5 * time.Second, Order: "stop-first"}
	s.Spec.RollbackConfig = &swarmtypes.UpdateConfig{Parallelism: 1, FailureAction: "pause", MaxFailureRatio: 0.5, Order: "stop-first"}
	cs := s.Spec.TaskTemplate.ContainerSpec
	cs.Args, cs.Env, cs.Dir, cs.Init, cs.User = []string{"nginx", "-g"}, []string{"A=1"}, "/srv", &yes, "nobody"
	cs.Mounts = []mount.Mount{{Type: "volume", Source: "data", Target: "/data"}}
	cs.Secrets = []*swarmtypes.SecretReference{{SecretName: "pw", File: &swarmtypes.SecretReferenceFileTarget{Name: "app_pw"}}}
	cs.Healthcheck = &container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 30 * time.Second, Retries: 3}
	s.Spec.TaskTemplate.Resources = &swarmtypes.ResourceRequirements{
		Limits:       &swarmtypes.Limit{NanoCPUs: 1500000000, MemoryBytes: 512 << 20, Pids: 100},
		Reservations: &swarmtypes.Resources{MemoryBytes: 128 << 20},
	}
	s.Spec.TaskTemplate.Networks = []swarmtypes.NetworkAttachmentConfig{{Target: "id-front"}, {Target: "id-unknown"}}
	s.Spec.EndpointSpec = &swarmtypes.EndpointSpec{Mode: "vip"}
	want := "\nID:\t\tw4ir1ia0kf8zyxfoo3f7nfovh\nName:\t\tweb\nLabels:\n flag\n tier=front\n" +
		"Service Mode:\tReplicated\n Replicas:\t3\n" +
		"UpdateStatus:\n State:\t\tupdating\n Started:\tAbout a minute ago\n Message:\tupdate in progress\n" +
		"Placement:\n Constraints:\t[node.role==worker]\n Preferences:   [spread=node.labels.zone]\n Max Replicas Per Node:   2\n" +
		"UpdateConfig:\n Parallelism:\t1\n Delay:\t\t10s\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0\n Update order:      stop-first\n" +
		"RollbackConfig:\n Parallelism:\t1\n On failure:\tpause\n Max failure ratio: 0.5\n Rollback order:    stop-first\n" +
		"ContainerSpec:\n Image:\t\tnginx:alpine\n Args:\t\tnginx -g \n Env:\t\tA=1 \n Dir:\t\t/srv\n Init:\t\ttrue\n User: nobody\n" +
		"Mounts:\n Target:\t/data\n  Source:\tdata\n  ReadOnly:\tfalse\n  Type:\t\tvolume\n" +
		"Secrets:\n Target:\tapp_pw\n  Source:\tpw\n" +
		"Resources:\n Reservations:\n  Memory:\t128MiB\n Limits:\n  CPU:\t\t1.5\n  Memory:\t512MiB\n  PIDs:\t\t100\n" +
		"Networks: front id-unknown \n" +
		"Endpoint Mode:\tvip\n" +
		"Ports:\n PublishedPort = 8080\n  Protocol = tcp\n  TargetPort = 80\n  PublishMode = ingress \n" +
		" Healthcheck:\n  Interval = 30s\n  Retries = 3\n  StartPeriod =\t0s\n  Timeout =\t0s\n  Tests:\n\t Test = CMD-SHELL\n\t Test = true \n\n"
	if got := Pretty(s, map[string]string{"id-front": "front"}, now); got != want {
		t.Errorf("pretty:\n%q\nwant:\n%q", got, want)
	}
	// A bare global service.
	g := svc("g1", "agent", swarmtypes.ServiceMode{Global: &swarmtypes.GlobalService{}}, nil, "agent:1")
	if want := "\nID:\t\tg1\nName:\t\tagent\nService Mode:\tGlobal\nPlacement:\nContainerSpec:\n Image:\t\tagent:1\nEndpoint Mode:\t\n\n"; Pretty(g, nil, now) != want {
		t.Errorf("global pretty = %q", Pretty(g, nil, now))
	}
}
