package server

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/api/backend"
)

// The swarm fake: swarm "swarm1" (version 7), manager node "n1" (host1),
// services "s1" (web, no tty) and "st" (a tty), tasks "tk1" (of s1) and
// "tktty" (of st), secret "sec1" and config "cfg1". Names resolve as IDs.

func fakeNotFound(kind, id string) error {
	return fmt.Errorf("%s %s not found: %w", kind, id, errdefs.ErrNotFound)
}

func fakeNode() swarm.Node {
	return swarm.Node{
		ID:            "n1",
		Meta:          swarm.Meta{Version: swarm.Version{Index: 3}},
		Spec:          swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
		Description:   swarm.NodeDescription{Hostname: "host1"},
		Status:        swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.1"},
		ManagerStatus: &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable, Addr: "10.0.0.1:2377"},
	}
}

func fakeService(id string) (swarm.Service, error) {
	one := uint64(1)
	svc := swarm.Service{ID: id, Meta: swarm.Meta{Version: swarm.Version{Index: 4}}}
	svc.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	switch id {
	case "s1", "web":
		svc.ID, svc.Spec.Name = "s1", "web"
		svc.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: "busybox"}
	case "st", "tty":
		svc.ID, svc.Spec.Name = "st", "tty"
		svc.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: "busybox", TTY: true}
	default:
		return swarm.Service{}, fakeNotFound("service", id)
	}
	return svc, nil
}

func fakeTask(id string) (swarm.Task, error) {
	t := swarm.Task{ID: id, NodeID: "n1", Slot: 1, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}, DesiredState: swarm.TaskStateRunning}
	switch id {
	case "tk1":
		t.ServiceID = "s1"
		t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: "busybox"}
	case "tktty":
		t.ServiceID = "st"
		t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: "busybox", TTY: true}
	default:
		return swarm.Task{}, fakeNotFound("task", id)
	}
	return t, nil
}

func (f *fakeBackend) SwarmInit(ctx context.Context, req swarm.InitRequest) (string, error) {
	if err := f.record("SwarmInit", req); err != nil {
		return "", err
	}
	return "n1", nil
}

func (f *fakeBackend) SwarmJoin(ctx context.Context, req swarm.JoinRequest) error {
	return f.record("SwarmJoin", req)
}

func (f *fakeBackend) SwarmLeave(ctx context.Context, force bool) error {
	return f.record("SwarmLeave", force)
}

func (f *fakeBackend) SwarmInspect(ctx context.Context) (swarm.Swarm, error) {
	if err := f.record("SwarmInspect"); err != nil {
		return swarm.Swarm{}, err
	}
	sw := swarm.Swarm{JoinTokens: swarm.JoinTokens{Worker: "SWMTKN-1-worker", Manager: "SWMTKN-1-manager"}}
	sw.ID = "swarm1"
	sw.Version.Index = 7
	sw.Spec.Name = "default"
	return sw, nil
}

func (f *fakeBackend) SwarmUpdate(ctx context.Context, version uint64, spec swarm.Spec, flags backend.SwarmUpdateFlags) error {
	return f.record("SwarmUpdate", version, spec, flags)
}

func (f *fakeBackend) SwarmUnlockKey(ctx context.Context) (string, error) {
	if err := f.record("SwarmUnlockKey"); err != nil {
		return "", err
	}
	return "SWMKEY-1-fake", nil
}

func (f *fakeBackend) SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error {
	return f.record("SwarmUnlock", req)
}

func (f *fakeBackend) SwarmInfo(ctx context.Context) swarm.Info {
	f.hit("SwarmInfo")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.swarmInfo
}

func (f *fakeBackend) NodeList(ctx context.Context, fl Filters) ([]swarm.Node, error) {
	if err := f.record("NodeList", fl); err != nil {
		return nil, err
	}
	return []swarm.Node{fakeNode()}, nil
}

func (f *fakeBackend) NodeInspect(ctx context.Context, id string) (swarm.Node, error) {
	if err := f.record("NodeInspect", id); err != nil {
		return swarm.Node{}, err
	}
	if id != "n1" && id != "host1" {
		return swarm.Node{}, fakeNotFound("node", id)
	}
	return fakeNode(), nil
}

func (f *fakeBackend) NodeUpdate(ctx context.Context, id string, version uint64, spec swarm.NodeSpec) error {
	if err := f.record("NodeUpdate", id, version, spec); err != nil {
		return err
	}
	if id != "n1" {
		return fakeNotFound("node", id)
	}
	return nil
}

func (f *fakeBackend) NodeRemove(ctx context.Context, id string, force bool) error {
	if err := f.record("NodeRemove", id, force); err != nil {
		return err
	}
	if id != "n1" {
		return fakeNotFound("node", id)
	}
	return nil
}

func (f *fakeBackend) ServiceList(ctx context.Context, fl Filters, status bool) ([]swarm.Service, error) {
	if err := f.record("ServiceList", fl, status); err != nil {
		return nil, err
	}
	svc, _ := fakeService("s1")
	if status {
		svc.ServiceStatus = &swarm.ServiceStatus{RunningTasks: 1, DesiredTasks: 1}
	}
	return []swarm.Service{svc}, nil
}

func (f *fakeBackend) ServiceInspect(ctx context.Context, id string, insertDefaults bool) (swarm.Service, error) {
	if err := f.record("ServiceInspect", id, insertDefaults); err != nil {
		return swarm.Service{}, err
	}
	return fakeService(id)
}

func (f *fakeBackend) ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, encodedAuth string) (swarm.ServiceCreateResponse, error) {
	if err := f.record("ServiceCreate", spec, encodedAuth); err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	return swarm.ServiceCreateResponse{ID: "s2"}, nil
}

func (f *fakeBackend) ServiceUpdate(ctx context.Context, id string, version uint64, spec swarm.ServiceSpec, opts backend.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	if err := f.record("ServiceUpdate", id, version, spec, opts); err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	if _, err := fakeService(id); err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	return swarm.ServiceUpdateResponse{Warnings: []string{"image busybox could not be accessed on a registry to record its digest"}}, nil
}

func (f *fakeBackend) ServiceRemove(ctx context.Context, id string) error {
	if err := f.record("ServiceRemove", id); err != nil {
		return err
	}
	_, err := fakeService(id)
	return err
}

// fakeLogTime has a fraction that RFC3339Nano would shorten.
var fakeLogTime = time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC)

// ServiceLogs writes one stdout line whose details come from the ID
// fields and one stderr line with explicit Attrs (one needing escaping),
// and a line of an unknown stream that must be dropped.
func (f *fakeBackend) ServiceLogs(ctx context.Context, id string, opts backend.ServiceLogsOptions, write func(backend.ServiceLogMessage) error) error {
	if err := f.record("ServiceLogs", id, opts); err != nil {
		return err
	}
	f.mu.Lock()
	before, after := f.logsErrBefore, f.logsErrAfter
	f.mu.Unlock()
	if before != nil {
		return before
	}
	msgs := []backend.ServiceLogMessage{
		{Stream: "stdout", Line: []byte("out line\n"), Time: fakeLogTime, NodeID: "n1", ServiceID: "s1", TaskID: "tk1"},
		{Stream: "stderr", Line: []byte("err line\n"), Time: fakeLogTime, NodeID: "n1", ServiceID: "s1", TaskID: "tk1",
			Attrs: []string{"tag=a b", "com.docker.swarm.task.id=tk1", "com.docker.swarm.node.id=n1", "com.docker.swarm.service.id=s1"}},
		{Stream: "bogus", Line: []byte("dropped\n"), Time: fakeLogTime},
	}
	for _, m := range msgs {
		if err := write(m); err != nil {
			return err
		}
	}
	return after
}

func (f *fakeBackend) TaskList(ctx context.Context, fl Filters) ([]swarm.Task, error) {
	if err := f.record("TaskList", fl); err != nil {
		return nil, err
	}
	t, _ := fakeTask("tk1")
	return []swarm.Task{t}, nil
}

func (f *fakeBackend) TaskInspect(ctx context.Context, id string) (swarm.Task, error) {
	if err := f.record("TaskInspect", id); err != nil {
		return swarm.Task{}, err
	}
	return fakeTask(id)
}

func (f *fakeBackend) SecretList(ctx context.Context, fl Filters) ([]swarm.Secret, error) {
	return nil, f.record("SecretList", fl)
}

func (f *fakeBackend) SecretCreate(ctx context.Context, spec swarm.SecretSpec) (string, error) {
	if err := f.record("SecretCreate", spec); err != nil {
		return "", err
	}
	return "sec1", nil
}

func (f *fakeBackend) SecretInspect(ctx context.Context, id string) (swarm.Secret, error) {
	if err := f.record("SecretInspect", id); err != nil {
		return swarm.Secret{}, err
	}
	if id != "sec1" && id != "pw" {
		return swarm.Secret{}, fakeNotFound("secret", id)
	}
	sec := swarm.Secret{ID: "sec1"}
	sec.Spec.Name = "pw"
	return sec, nil
}

func (f *fakeBackend) SecretUpdate(ctx context.Context, id string, version uint64, spec swarm.SecretSpec) error {
	return f.record("SecretUpdate", id, version, spec)
}

func (f *fakeBackend) SecretRemove(ctx context.Context, id string) error {
	if err := f.record("SecretRemove", id); err != nil {
		return err
	}
	if id != "sec1" && id != "pw" {
		return fakeNotFound("secret", id)
	}
	return nil
}

func (f *fakeBackend) ConfigList(ctx context.Context, fl Filters) ([]swarm.Config, error) {
	if err := f.record("ConfigList", fl); err != nil {
		return nil, err
	}
	cfg := swarm.Config{ID: "cfg1"}
	cfg.Spec.Name = "app.conf"
	return []swarm.Config{cfg}, nil
}

func (f *fakeBackend) ConfigCreate(ctx context.Context, spec swarm.ConfigSpec) (string, error) {
	if err := f.record("ConfigCreate", spec); err != nil {
		return "", err
	}
	return "cfg1", nil
}

func (f *fakeBackend) ConfigInspect(ctx context.Context, id string) (swarm.Config, error) {
	if err := f.record("ConfigInspect", id); err != nil {
		return swarm.Config{}, err
	}
	if id != "cfg1" {
		return swarm.Config{}, fakeNotFound("config", id)
	}
	cfg := swarm.Config{ID: "cfg1"}
	cfg.Spec.Name = "app.conf"
	return cfg, nil
}

func (f *fakeBackend) ConfigUpdate(ctx context.Context, id string, version uint64, spec swarm.ConfigSpec) error {
	return f.record("ConfigUpdate", id, version, spec)
}

func (f *fakeBackend) ConfigRemove(ctx context.Context, id string) error {
	if err := f.record("ConfigRemove", id); err != nil {
		return err
	}
	if id != "cfg1" {
		return fakeNotFound("config", id)
	}
	return nil
}
