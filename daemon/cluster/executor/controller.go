package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/swarmkit/v2/agent"
	"github.com/moby/swarmkit/v2/agent/exec"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/template"

	"github.com/berth-project/berth/api/backend"
)

// controller runs one task as one container, named as Docker names it
// (<service>.<slot>.<task-id>).
type controller struct {
	e    *Executor
	node *swarmapi.NodeDescription

	mu     sync.Mutex
	task   *swarmapi.Task
	cfg    *containerConfig
	closed bool
}

var (
	_ exec.Controller        = (*controller)(nil)
	_ exec.PortStatuser      = (*controller)(nil)
	_ exec.ContainerStatuser = (*controller)(nil)
	_ exec.ControllerLogs    = (*controller)(nil)
)

func newController(e *Executor, t *swarmapi.Task, node *swarmapi.NodeDescription) *controller {
	return &controller{e: e, task: t.Copy(), node: node}
}

// name is the task's container name, known before the container exists.
func (c *controller) name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return taskName(c.task)
}

func (c *controller) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return exec.ErrControllerClosed
	}
	return nil
}

// Update implements exec.Controller: a running task's spec does not change
// in place (SwarmKit makes a new task for a new spec).
func (c *controller) Update(ctx context.Context, t *swarmapi.Task) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.task = t.Copy()
	return nil
}

// dependencies gives the secrets and configs of task t, and no others,
// with their templates expanded (as Docker's executor does).
func (c *controller) dependencies(t *swarmapi.Task) exec.DependencyGetter {
	if c.e.deps == nil {
		return nil
	}
	return template.NewTemplatedDependencyGetter(agent.Restrict(c.e.deps, t), t, c.node)
}

// Prepare pulls the image if it is not here, writes the task's secrets
// and configs and creates the container, which sees each of them as a
// read-only file.
func (c *controller) Prepare(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	name := c.name()
	if _, err := c.e.engine.ContainerInspect(ctx, name, false); err == nil {
		return exec.ErrTaskPrepared
	}
	c.mu.Lock()
	t := c.task.Copy()
	c.mu.Unlock()
	spec, err := template.ExpandContainerSpec(c.node, t)
	if err != nil {
		return fmt.Errorf("expand container spec: %w", err)
	}
	img, err := c.ensureImage(ctx, spec)
	if err != nil {
		return err
	}
	spec.Image = img
	var nets []AttachedNetwork
	if c.e.networks != nil {
		if nets, err = c.e.networks.Attach(ctx, t); err != nil {
			return fmt.Errorf("attach networks: %w", err)
		}
	}
	cfg, err := taskContainer(t, spec, nets)
	if err != nil {
		return err
	}
	engineSocketMounts(cfg.host.Mounts, c.e.socket, pathExists)
	refs, err := taskFileRefs(spec)
	if err != nil {
		return err
	}
	if err := c.e.files.setup(t.ID, refs, c.dependencies(t)); err != nil {
		return err
	}
	cfg.host.Mounts = append(cfg.host.Mounts, c.e.files.mounts(t.ID, refs)...)
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
	if _, err := c.e.engine.ContainerCreate(ctx, cfg.name, cfg.config, cfg.host, cfg.networking); err != nil {
		if errdefs.IsConflict(err) {
			// Created meanwhile, with the files just written.
			return exec.ErrTaskPrepared
		}
		c.releaseFiles(t.ID)
		return fmt.Errorf("create container: %w", err)
	}
	return nil
}

// ensureFiles writes the task's secrets and configs again if they are
// gone (the host rebooted, or the container ran and exited before) for a
// container about to start.
func (c *controller) ensureFiles() error {
	c.mu.Lock()
	t := c.task.Copy()
	c.mu.Unlock()
	refs, err := taskFileRefs(t.Spec.GetContainer())
	if err != nil || len(refs) == 0 || c.e.files.complete(t.ID, refs) {
		return err
	}
	return c.e.files.setup(t.ID, refs, c.dependencies(t))
}

// releaseFiles removes the task's secrets and configs from this node.
func (c *controller) releaseFiles(taskID string) {
	if err := c.e.files.release(taskID); err != nil {
		slog.Default().Warn("remove task secrets and configs", "task", taskID, "err", err)
	}
}

// ensureImage returns the local name of the task's image, pulling it
// when it is not here. A reference pinned by the CLI to a registry digest
// ("busybox:latest@sha256:…") is found here by its tag too. A service
// pinned by its manager to a local-only image ID (LabelImageID) runs that
// very image: here already, else fetched from another node of the swarm
// (ensurePinned).
func (c *controller) ensureImage(ctx context.Context, spec *swarmapi.ContainerSpec) (string, error) {
	ref := spec.Image
	if pinned := spec.Labels[LabelImageID]; pinned != "" {
		return c.ensurePinned(ctx, spec, pinned)
	}
	if _, err := c.e.engine.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	tagged := ref
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if _, ok := named.(reference.Digested); ok {
			if t, ok := named.(reference.Tagged); ok {
				tagged = reference.FamiliarString(reference.TrimNamed(named)) + ":" + t.Tag()
				if _, err := c.e.engine.ImageInspect(ctx, tagged); err == nil {
					return tagged, nil
				}
			}
		}
	}
	if err := c.pull(ctx, spec); err != nil {
		slog.Default().Debug("task image pull failed", "image", ref, "err", err)
		return "", fmt.Errorf("No such image: %s", ref)
	}
	return ref, nil
}

// pull pulls the task's image from its registry.
func (c *controller) pull(ctx context.Context, spec *swarmapi.ContainerSpec) error {
	var auth string
	if po := spec.PullOptions; po != nil {
		auth = po.RegistryAuth
	}
	var pullErr string
	err := c.e.engine.ImagePull(ctx, spec.Image, "", auth, func(m backend.ProgressMessage) {
		if m.Error != "" {
			pullErr = m.Error
		}
	})
	if err == nil && pullErr != "" {
		err = errors.New(pullErr)
	}
	return err
}

// ensurePinned makes sure the task has an image for a service pinned to
// the image with ID pinned, and returns the name its container is
// created with. A node that has that image runs it: by the spec's
// reference when the reference names it here (it is tagged so when the
// name is free), else by ID. A node with another image of that name runs
// its own, as Docker's nodes do with a local-only image. A node with
// neither fetches the pinned image from the first other node of the
// swarm that has it, else pulls the reference from its registry and
// keeps it only if it is the pinned image.
func (c *controller) ensurePinned(ctx context.Context, spec *swarmapi.ContainerSpec, pinned string) (string, error) {
	ref := spec.Image
	if named, err := c.e.engine.ImageInspect(ctx, ref); err == nil {
		if named.ID != pinned {
			slog.Default().Debug("task image: this node's own image of the name, not the service's", "image", ref, "local", named.ID, "service", pinned)
		}
		return ref, nil
	}
	if img, err := c.e.engine.ImageInspect(ctx, pinned); err == nil && img.ID == pinned {
		return c.nameFor(ctx, ref, pinned), nil
	}
	fetchErr := errors.New("this node does not share images")
	if c.e.images != nil {
		var node string
		if node, fetchErr = c.e.images.FetchImage(ctx, pinned); fetchErr == nil {
			slog.Default().Info("task image fetched from swarm node", "image", ref, "id", pinned, "node", node)
			return c.nameFor(ctx, ref, pinned), nil
		}
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err := c.pullPinned(ctx, spec, pinned); err != nil {
		slog.Default().Warn("task image is on no node of the swarm nor in a registry", "image", ref, "id", pinned, "swarm", fetchErr, "registry", err)
		return "", fmt.Errorf("No such image: %s", ref)
	}
	return c.nameFor(ctx, ref, pinned), nil
}

// pullPinned pulls the spec's reference from its registry and keeps it
// only if it is the pinned image.
func (c *controller) pullPinned(ctx context.Context, spec *swarmapi.ContainerSpec, pinned string) error {
	before, _ := c.e.engine.ImageInspect(ctx, spec.Image)
	if err := c.pull(ctx, spec); err != nil {
		return err
	}
	img, err := c.e.engine.ImageInspect(ctx, spec.Image)
	if err != nil {
		return err
	}
	if img.ID == pinned {
		return nil
	}
	if before == nil || before.ID != img.ID {
		if _, err := c.e.engine.ImageDelete(context.WithoutCancel(ctx), img.ID, false, false); err != nil {
			slog.Default().Warn("remove pulled image that is not the service's", "image", spec.Image, "err", err)
		}
	}
	return fmt.Errorf("the registry's %s is %s, not %s", spec.Image, img.ID, pinned)
}

// nameFor is how the container names the pinned image here: ref when ref
// is that image (tagged so now if the name was free), else the ID.
func (c *controller) nameFor(ctx context.Context, ref, pinned string) string {
	img, err := c.e.engine.ImageInspect(ctx, ref)
	if err == nil && img.ID == pinned {
		return ref
	}
	if err == nil {
		return pinned // the name is another image's here
	}
	named, perr := reference.ParseNormalizedNamed(ref)
	if perr != nil {
		return pinned
	}
	if _, ok := named.(reference.Digested); ok {
		return pinned
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if err := c.e.engine.ImageTag(ctx, pinned, reference.FamiliarName(named), tag); err != nil {
		slog.Default().Debug("tag task image", "image", ref, "err", err)
		return pinned
	}
	return ref
}

// Start starts the container.
func (c *controller) Start(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	name := c.name()
	info, err := c.e.engine.ContainerInspect(ctx, name, false)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if info.State != nil && (info.State.Running || info.State.Status == container.StateExited || info.State.Status == container.StateDead) {
		// Started before: running, or already done (Wait reports how).
		c.running(info.State.Running)
		return exec.ErrTaskStarted
	}
	if err := c.ensureFiles(); err != nil {
		return fmt.Errorf("starting container failed: %w", err)
	}
	if err := c.e.engine.ContainerStart(ctx, name); err != nil {
		return fmt.Errorf("starting container failed: %w", err)
	}
	c.running(true)
	return nil
}

// running tells the networks whether the task serves (the data plane
// announces only tasks that do; one being stopped leaves first).
func (c *controller) running(yes bool) {
	if tr, ok := c.e.networks.(TaskRunner); ok {
		c.mu.Lock()
		t := c.task
		c.mu.Unlock()
		tr.TaskRunning(t, yes)
	}
}

// TaskRunner is told when a task's container starts and stops serving.
type TaskRunner interface {
	TaskRunning(t *swarmapi.Task, running bool)
}

// Wait waits for the container to exit; a non-zero exit is an ExitError.
// A container removed by hand ends the task with an error, so SwarmKit
// replaces it. Once the container has exited or gone, the task's secrets
// and configs go too, as Docker unmounts them when a container stops.
func (c *controller) Wait(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	name, taskID := taskName(c.task), c.task.ID
	c.mu.Unlock()
	ch, err := c.e.engine.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	if err != nil {
		if errdefs.IsNotFound(err) {
			c.releaseFiles(taskID)
			return &exitError{code: -1, cause: errors.New("task container was removed")}
		}
		return err
	}
	select {
	case res, ok := <-ch:
		if !ok {
			return ctx.Err()
		}
		c.releaseFiles(taskID)
		c.running(false)
		if res.Error != nil && res.Error.Message != "" {
			return &exitError{code: int(res.StatusCode), cause: errors.New(res.Error.Message)}
		}
		if _, err := c.e.engine.ContainerInspect(ctx, name, false); errdefs.IsNotFound(err) {
			return &exitError{code: int(res.StatusCode), cause: errors.New("task container was removed")}
		}
		if res.StatusCode != 0 {
			return &exitError{code: int(res.StatusCode)}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops the container: its stop signal, then SIGKILL after the
// spec's grace period.
func (c *controller) Shutdown(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	c.running(false)
	grace := int(c.stopGrace().Seconds())
	err := c.e.engine.ContainerStop(ctx, c.name(), "", &grace)
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsNotModified(err) {
		return fmt.Errorf("stop container: %w", err)
	}
	return nil
}

func (c *controller) stopGrace() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sp := c.task.Spec.GetContainer(); sp != nil && sp.StopGracePeriod != nil {
		if d, err := gogotypes.DurationFromProto(sp.StopGracePeriod); err == nil {
			return d
		}
	}
	return defaultStopGrace
}

// Terminate kills the container.
func (c *controller) Terminate(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	c.running(false)
	err := c.e.engine.ContainerKill(ctx, c.name(), "KILL")
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
		return fmt.Errorf("kill container: %w", err)
	}
	return nil
}

// Remove removes the container and its anonymous volumes, and the task's
// secrets and configs.
func (c *controller) Remove(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	t := c.task.Copy()
	c.mu.Unlock()
	err := c.e.engine.ContainerRemove(ctx, taskName(t), true, true)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container: %w", err)
	}
	ferr := c.e.files.release(t.ID)
	if c.e.networks != nil {
		c.e.networks.Release(ctx, t)
	}
	if ferr != nil {
		return fmt.Errorf("remove task secrets and configs: %w", ferr)
	}
	return nil
}

// Close implements exec.Controller.
func (c *controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// ContainerStatus implements exec.ContainerStatuser.
func (c *controller) ContainerStatus(ctx context.Context) (*swarmapi.ContainerStatus, error) {
	info, err := c.e.engine.ContainerInspect(ctx, c.name(), false)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	st := &swarmapi.ContainerStatus{ContainerID: info.ID}
	if info.State != nil {
		st.PID = int32(info.State.Pid)
		st.ExitCode = int32(info.State.ExitCode)
	}
	return st, nil
}

// PortStatus implements exec.PortStatuser: the host-mode ports the
// container published, as `service ps` and `service inspect` show them.
func (c *controller) PortStatus(ctx context.Context) (*swarmapi.PortStatus, error) {
	info, err := c.e.engine.ContainerInspect(ctx, c.name(), false)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	st := &swarmapi.PortStatus{}
	if info.NetworkSettings == nil {
		return st, nil
	}
	for port, bindings := range info.NetworkSettings.Ports {
		proto := swarmapi.ProtocolTCP
		switch port.Proto() {
		case "udp":
			proto = swarmapi.ProtocolUDP
		case "sctp":
			proto = swarmapi.ProtocolSCTP
		}
		for _, b := range bindings {
			if b.HostIP.Is6() {
				continue // the same port on IPv6: listed once
			}
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil {
				continue
			}
			st.Ports = append(st.Ports, &swarmapi.PortConfig{
				Protocol: proto, TargetPort: uint32(port.Num()), PublishedPort: uint32(hp), PublishMode: swarmapi.PublishModeHost,
			})
		}
	}
	return st, nil
}

// Logs implements exec.ControllerLogs: the container's log, published
// line by line to SwarmKit's log broker.
func (c *controller) Logs(ctx context.Context, publisher exec.LogPublisher, opts swarmapi.LogSubscriptionOptions) error {
	c.mu.Lock()
	t := c.task.Copy()
	c.mu.Unlock()
	lo := backend.LogsOptions{Follow: opts.Follow, Tail: -1, Timestamps: true}
	switch {
	case opts.Tail < 0:
		lo.Tail = int(-opts.Tail - 1)
	case opts.Tail > 0:
		// Skipping from the start is not something the engine's log
		// reader offers; send everything.
	}
	if opts.Since != nil {
		if since, err := gogotypes.TimestampFromProto(opts.Since); err == nil {
			lo.Since = since
		}
	}
	lo.Stdout, lo.Stderr = len(opts.Streams) == 0, len(opts.Streams) == 0
	for _, s := range opts.Streams {
		switch s {
		case swarmapi.LogStreamStdout:
			lo.Stdout = true
		case swarmapi.LogStreamStderr:
			lo.Stderr = true
		}
	}
	lctx := swarmapi.LogContext{NodeID: t.NodeID, ServiceID: t.ServiceID, TaskID: t.ID}
	err := c.e.engine.ContainerLogs(ctx, taskName(t), lo, func(bool) {}, func(stream string, line []byte, ts time.Time) error {
		msg := swarmapi.LogMessage{Context: lctx, Data: append([]byte(nil), line...), Stream: swarmapi.LogStreamStdout}
		if stream == "stderr" {
			msg.Stream = swarmapi.LogStreamStderr
		}
		if p, err := gogotypes.TimestampProto(ts); err == nil {
			msg.Timestamp = p
		}
		return publisher.Publish(ctx, msg)
	})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// exitError is a task container's non-zero exit, as SwarmKit reports it.
type exitError struct {
	code  int
	cause error
}

func (e *exitError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("task: non-zero exit (%d): %s", e.code, e.cause)
	}
	return fmt.Sprintf("task: non-zero exit (%d)", e.code)
}

func (e *exitError) ExitCode() int { return e.code }

func (e *exitError) Unwrap() error { return e.cause }

// taskName is the container name of a task.
func taskName(t *swarmapi.Task) string {
	n := strings.TrimPrefix(taskNaming(t), "/")
	return n
}
