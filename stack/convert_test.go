package stack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

// The guide's two compose files (Service and Stack chapters), unchanged
// but for the image name.
const guideService = `version: "3"
services:
  web:
    # replace username/repo:tag with your name and image details
    image: friendlyhello:latest
    deploy:
      replicas: 5
      resources:
        limits:
          cpus: "0.1"
          memory: 50M
      restart_policy:
        condition: on-failure
    ports:
      - "80:80"
    networks:
      - webnet
networks:
  webnet:
`

const guideStack = `version: "3"
services:
  web:
    # replace username/repo:tag with your name and image details
    image: username/repo:tag
    deploy:
      replicas: 5
      restart_policy:
        condition: on-failure
      resources:
        limits:
          cpus: "0.1"
          memory: 50M
    ports:
      - "80:80"
    networks:
      - webnet
  visualizer:
    image: dockersamples/visualizer:stable
    ports:
      - "8080:8080"
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock"
    deploy:
      placement:
        constraints: [node.role == manager]
    networks:
      - webnet
  redis:
    image: redis
    ports:
      - "6379:6379"
    volumes:
      - "/home/docker/data:/data"
    deploy:
      placement:
        constraints: [node.role == manager]
    command: redis-server --appendonly yes
    networks:
      - webnet
networks:
  webnet:
`

// load writes files (name → content) to a directory and loads the first
// as namespace.
func load(t *testing.T, namespace string, env []string, files ...[2]string) (*Stack, error) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f[0])
		if err := os.WriteFile(p, []byte(f[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f[0], ".yml") {
			paths = append(paths, p)
		}
	}
	return Load(context.Background(), namespace, LoadOptions{Files: paths, Env: env})
}

func mustLoad(t *testing.T, namespace string, env []string, files ...[2]string) *Stack {
	t.Helper()
	st, err := load(t, namespace, env, files...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func u64(n uint64) *uint64 { return &n }

func TestGuideServiceFile(t *testing.T) {
	st := mustLoad(t, "getstartedlab", nil, [2]string{"docker-compose.yml", guideService})
	if len(st.Unsupported) > 0 || len(st.Deprecated) > 0 {
		t.Errorf("warnings %v %v", st.Unsupported, st.Deprecated)
	}
	wantNet := []Network{{Name: "getstartedlab_webnet"}}
	if len(st.Networks) != 1 || st.Networks[0].Name != wantNet[0].Name || st.Networks[0].Options.Driver != "overlay" ||
		st.Networks[0].Options.Scope != "swarm" || st.Networks[0].Options.Labels[LabelNamespace] != "getstartedlab" {
		t.Errorf("networks %+v", st.Networks)
	}
	if len(st.Services) != 1 {
		t.Fatalf("services %+v", st.Services)
	}
	want := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "getstartedlab_web", Labels: map[string]string{LabelNamespace: "getstartedlab"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "friendlyhello:latest", Labels: map[string]string{LabelNamespace: "getstartedlab"}, Privileges: &swarm.Privileges{}},
			Resources:     &swarm.ResourceRequirements{Limits: &swarm.Limit{NanoCPUs: 100000000, MemoryBytes: 50 * 1024 * 1024}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure},
			Placement:     &swarm.Placement{},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: "getstartedlab_webnet", Aliases: []string{"web"}}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u64(5)}},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 80, PublishMode: swarm.PortConfigPublishModeIngress}}},
	}
	if d := cmp.Diff(want, st.Services[0]); d != "" {
		t.Errorf("web (-want +got):\n%s", d)
	}
}

func TestGuideStackFile(t *testing.T) {
	st := mustLoad(t, "getstartedlab", nil, [2]string{"docker-compose.yml", guideStack})
	var names []string
	for _, s := range st.Services {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "getstartedlab_redis getstartedlab_visualizer getstartedlab_web" {
		t.Errorf("services %s", got)
	}
	redis, viz := st.Services[0], st.Services[1]
	if d := cmp.Diff([]string{"redis-server", "--appendonly", "yes"}, redis.TaskTemplate.ContainerSpec.Args); d != "" {
		t.Errorf("redis args: %s", d)
	}
	if redis.TaskTemplate.ContainerSpec.Command != nil {
		t.Errorf("redis entrypoint %v", redis.TaskTemplate.ContainerSpec.Command)
	}
	for _, s := range []swarm.ServiceSpec{redis, viz} {
		if d := cmp.Diff([]string{"node.role == manager"}, s.TaskTemplate.Placement.Constraints); d != "" {
			t.Errorf("%s constraints: %s", s.Name, d)
		}
		if s.Mode.Replicated == nil || s.Mode.Replicated.Replicas != nil {
			t.Errorf("%s mode %+v", s.Name, s.Mode)
		}
	}
	if d := cmp.Diff([]mount.Mount{{Type: mount.TypeBind, Source: "/home/docker/data", Target: "/data"}}, redis.TaskTemplate.ContainerSpec.Mounts); d != "" {
		t.Errorf("redis mounts: %s", d)
	}
	if d := cmp.Diff([]mount.Mount{{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}, viz.TaskTemplate.ContainerSpec.Mounts); d != "" {
		t.Errorf("visualizer mounts: %s", d)
	}
	if p := viz.EndpointSpec.Ports; len(p) != 1 || p[0].PublishedPort != 8080 || p[0].TargetPort != 8080 {
		t.Errorf("visualizer ports %+v", p)
	}
	if len(st.Networks) != 1 || st.Networks[0].Name != "getstartedlab_webnet" {
		t.Errorf("networks %+v", st.Networks)
	}
}

func TestConvertKeys(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		check      func(t *testing.T, st *Stack)
	}{
		{"default network", "services:\n  app:\n    image: busybox\n", nil, func(t *testing.T, st *Stack) {
			if len(st.Networks) != 1 || st.Networks[0].Name != "s_default" {
				t.Errorf("networks %+v", st.Networks)
			}
			if n := st.Services[0].TaskTemplate.Networks; len(n) != 1 || n[0].Target != "s_default" {
				t.Errorf("attachments %+v", n)
			}
		}},
		{"external network as is", "services:\n  app:\n    image: busybox\n    networks: [front]\nnetworks:\n  front:\n    external: true\n", nil, func(t *testing.T, st *Stack) {
			if len(st.Networks) != 0 || len(st.ExternalNetworks) != 1 || st.ExternalNetworks[0] != "front" {
				t.Errorf("networks %+v external %v", st.Networks, st.ExternalNetworks)
			}
			if n := st.Services[0].TaskTemplate.Networks; n[0].Target != "front" {
				t.Errorf("attachments %+v", n)
			}
		}},
		{"interpolation", "services:\n  app:\n    image: busybox:${TAG:-1}\n    environment:\n      A: ${A}\n      B: b\n", []string{"TAG=2", "A=x"}, func(t *testing.T, st *Stack) {
			cs := st.Services[0].TaskTemplate.ContainerSpec
			if cs.Image != "busybox:2" || strings.Join(cs.Env, ",") != "A=x,B=b" {
				t.Errorf("image %s env %v", cs.Image, cs.Env)
			}
		}},
		{"deploy keys", `services:
  app:
    image: busybox
    entrypoint: ["sh", "-c"]
    command: ["sleep 1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
      retries: 3
    deploy:
      mode: global
      endpoint_mode: dnsrr
      labels: {tier: front}
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 100}
        reservations: {cpus: "0.25", memory: 32M}
      restart_policy: {condition: any, delay: 5s, max_attempts: 3, window: 10s}
      placement:
        constraints: ["node.labels.zone == a"]
        preferences: [{spread: node.labels.zone}]
      update_config: {parallelism: 2, delay: 1s, order: start-first, failure_action: rollback}
      rollback_config: {monitor: 3s}
`, nil, func(t *testing.T, st *Stack) {
			s := st.Services[0]
			second, five, ten := time.Second, 5*time.Second, 10*time.Second
			want := swarm.ServiceSpec{
				Annotations: swarm.Annotations{Name: "s_app", Labels: map[string]string{LabelNamespace: "s", "tier": "front"}},
				TaskTemplate: swarm.TaskSpec{
					ContainerSpec: &swarm.ContainerSpec{
						Image: "busybox", Command: []string{"sh", "-c"}, Args: []string{"sleep 1000"},
						Labels: map[string]string{LabelNamespace: "s"}, StopGracePeriod: &second, Privileges: &swarm.Privileges{},
						Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: 2 * time.Second, Retries: 3},
					},
					Resources: &swarm.ResourceRequirements{
						Limits:       &swarm.Limit{NanoCPUs: 500000000, MemoryBytes: 64 << 20, Pids: 100},
						Reservations: &swarm.Resources{NanoCPUs: 250000000, MemoryBytes: 32 << 20},
					},
					RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &five, MaxAttempts: u64(3), Window: &ten},
					Placement: &swarm.Placement{Constraints: []string{"node.labels.zone == a"},
						Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}},
					Networks: []swarm.NetworkAttachmentConfig{{Target: "s_default", Aliases: []string{"app"}}},
				},
				Mode:           swarm.ServiceMode{Global: &swarm.GlobalService{}},
				EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
				UpdateConfig:   &swarm.UpdateConfig{Parallelism: 2, Delay: time.Second, Order: "start-first", FailureAction: "rollback"},
				RollbackConfig: &swarm.UpdateConfig{Parallelism: 1, Monitor: 3 * time.Second},
			}
			if d := cmp.Diff(want, s); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		}},
		{"ports long and short, host mode", `services:
  app:
    image: busybox
    ports:
      - "8000-8001:80-81/udp"
      - target: 90
        published: "9090"
        mode: host
    deploy:
      placement:
        max_replicas_per_node: 2
`, nil, func(t *testing.T, st *Stack) {
			want := []swarm.PortConfig{
				{Protocol: "udp", TargetPort: 80, PublishedPort: 8000, PublishMode: "ingress"},
				{Protocol: "udp", TargetPort: 81, PublishedPort: 8001, PublishMode: "ingress"},
				{Protocol: "tcp", TargetPort: 90, PublishedPort: 9090, PublishMode: "host"},
			}
			if d := cmp.Diff(want, st.Services[0].EndpointSpec.Ports); d != "" {
				t.Errorf("ports: %s", d)
			}
			if st.Services[0].TaskTemplate.Placement.MaxReplicas != 2 {
				t.Errorf("max replicas %+v", st.Services[0].TaskTemplate.Placement)
			}
		}},
		{"named volumes are the stack's unless external", `services:
  app:
    image: busybox
    volumes:
      - data:/data
      - shared:/shared:ro
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 1048576}
volumes:
  data:
    driver_opts: {type: tmpfs, device: tmpfs}
  shared:
    external: true
`, nil, func(t *testing.T, st *Stack) {
			want := []mount.Mount{
				{Type: mount.TypeVolume, Source: "s_data", Target: "/data", VolumeOptions: &mount.VolumeOptions{
					Labels: map[string]string{LabelNamespace: "s"}, DriverConfig: &mount.Driver{Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}}}},
				{Type: mount.TypeVolume, Source: "shared", Target: "/shared", ReadOnly: true},
				{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
			}
			if d := cmp.Diff(want, st.Services[0].TaskTemplate.ContainerSpec.Mounts); d != "" {
				t.Errorf("mounts: %s", d)
			}
		}},
		{"secrets and configs", `services:
  app:
    image: busybox
    secrets: [pw, {source: ext, target: other, mode: 0400}]
    configs: [conf]
secrets:
  pw:
    file: ./pw.txt
  ext:
    external: true
configs:
  conf:
    content: hello
`, nil, func(t *testing.T, st *Stack) {
			if len(st.Secrets) != 1 || st.Secrets[0].Name != "s_pw" || string(st.Secrets[0].Data) != "secret\n" || st.Secrets[0].Labels[LabelNamespace] != "s" {
				t.Errorf("secrets %+v", st.Secrets)
			}
			if strings.Join(st.ExternalSecrets, ",") != "ext" {
				t.Errorf("external secrets %v", st.ExternalSecrets)
			}
			if len(st.Configs) != 1 || st.Configs[0].Name != "s_conf" || string(st.Configs[0].Data) != "hello" {
				t.Errorf("configs %+v", st.Configs)
			}
			cs := st.Services[0].TaskTemplate.ContainerSpec
			want := []*swarm.SecretReference{
				{SecretName: "s_pw", File: &swarm.SecretReferenceFileTarget{Name: "pw", UID: "0", GID: "0", Mode: 0o444}},
				{SecretName: "ext", File: &swarm.SecretReferenceFileTarget{Name: "other", UID: "0", GID: "0", Mode: 0o400}},
			}
			if d := cmp.Diff(want, cs.Secrets); d != "" {
				t.Errorf("secret refs: %s", d)
			}
			if len(cs.Configs) != 1 || cs.Configs[0].ConfigName != "s_conf" || cs.Configs[0].File.Name != "conf" {
				t.Errorf("config refs %+v", cs.Configs)
			}
		}},
		{"unsupported and deprecated keys warned", `services:
  app:
    image: busybox
    build: .
    privileged: true
    container_name: xy
    expose: ["80"]
    restart: always
    deploy:
      restart_policy: {condition: none}
      resources:
        reservations:
          devices: [{capabilities: [gpu]}]
`, nil, func(t *testing.T, st *Stack) {
			if got := strings.Join(st.Unsupported, ", "); got != "build, deploy.resources.reservations.devices, privileged, restart" {
				t.Errorf("unsupported %q", got)
			}
			if len(st.Deprecated) != 2 || st.Deprecated["container_name"] == "" || st.Deprecated["expose"] == "" {
				t.Errorf("deprecated %v", st.Deprecated)
			}
		}},
		{"restart honoured without restart_policy", "services:\n  app:\n    image: busybox\n    restart: on-failure:3\n", nil, func(t *testing.T, st *Stack) {
			if len(st.Unsupported) != 0 {
				t.Errorf("unsupported %v", st.Unsupported)
			}
			want := &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: u64(3)}
			if d := cmp.Diff(want, st.Services[0].TaskTemplate.RestartPolicy); d != "" {
				t.Errorf("restart: %s", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := mustLoad(t, "s", tc.env, [2]string{"docker-compose.yml", tc.file}, [2]string{"pw.txt", "secret\n"})
			tc.check(t, st)
		})
	}
}
