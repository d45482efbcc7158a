package executor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	swarmapi "github.com/moby/swarmkit/v2/api"
	swarmnaming "github.com/moby/swarmkit/v2/api/naming"
)

// Labels Docker puts on a task's container.
const (
	LabelNodeID      = "com.docker.swarm.node.id"
	LabelServiceID   = "com.docker.swarm.service.id"
	LabelServiceName = "com.docker.swarm.service.name"
	LabelTask        = "com.docker.swarm.task"
	LabelTaskID      = "com.docker.swarm.task.id"
	LabelTaskName    = "com.docker.swarm.task.name"

	// LabelImageID, on a service's container spec, pins the service to
	// the image with this ID: set by a berth manager when the image is
	// only local to it (no registry digest), so that the swarm's nodes
	// fetch that very image from each other (berth's, not Docker's).
	LabelImageID = "com.berth.image.id"
)

// defaultStopGrace is how long a task's container gets between its stop
// signal and SIGKILL when the spec does not say (Docker's 10 s).
const defaultStopGrace = 10 * time.Second

// containerConfig is the berth container that runs a task: its name and
// the create request for it.
type containerConfig struct {
	name       string
	config     *container.Config
	host       *container.HostConfig
	networking *network.NetworkingConfig
	stopGrace  time.Duration
}

// taskContainer turns a task (whose container spec has had its templates
// expanded) into the container that runs it. networks maps the task's
// network attachments to the engine networks that realise them on this
// node, in attachment order; an empty list puts the task on the default
// bridge, as Docker does for a task with no networks.
func taskContainer(t *swarmapi.Task, spec *swarmapi.ContainerSpec, networks []AttachedNetwork) (*containerConfig, error) {
	if spec == nil {
		return nil, fmt.Errorf("task %s has no container spec", t.ID)
	}
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	labels[LabelNodeID] = t.NodeID
	labels[LabelServiceID] = t.ServiceID
	labels[LabelServiceName] = t.ServiceAnnotations.Name
	labels[LabelTask] = ""
	labels[LabelTaskID] = t.ID
	labels[LabelTaskName] = taskNaming(t)

	cfg := &container.Config{
		Image:      spec.Image,
		Labels:     labels,
		Env:        spec.Env,
		WorkingDir: spec.Dir,
		User:       spec.User,
		Hostname:   spec.Hostname,
		Tty:        spec.TTY,
		OpenStdin:  spec.OpenStdin,
		StopSignal: spec.StopSignal,
	}
	if len(spec.Command) > 0 {
		cfg.Entrypoint = spec.Command
	}
	cfg.Cmd = spec.Args
	if hc := spec.Healthcheck; hc != nil {
		h := &container.HealthConfig{Test: hc.Test, Retries: int(hc.Retries)}
		var err error
		for _, d := range []struct {
			in  *gogotypes.Duration
			out *time.Duration
		}{{hc.Interval, &h.Interval}, {hc.Timeout, &h.Timeout}, {hc.StartPeriod, &h.StartPeriod}, {hc.StartInterval, &h.StartInterval}} {
			if d.in == nil {
				continue
			}
			if *d.out, err = gogotypes.DurationFromProto(d.in); err != nil {
				return nil, fmt.Errorf("healthcheck: %w", err)
			}
		}
		cfg.Healthcheck = h
	}

	host := &container.HostConfig{
		ReadonlyRootfs: spec.ReadOnly,
		GroupAdd:       spec.Groups,
		CapAdd:         spec.CapabilityAdd,
		CapDrop:        spec.CapabilityDrop,
		Sysctls:        spec.Sysctls,
		OomScoreAdj:    int(spec.OomScoreAdj),
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled}, // SwarmKit restarts tasks
	}
	if spec.Init != nil {
		v := spec.Init.Value
		host.Init = &v
	}
	for _, h := range spec.Hosts {
		// SwarmKit keeps "IP host [alias...]" (the hosts-file order);
		// the engine wants "host:IP".
		f := strings.Fields(h)
		if len(f) < 2 {
			return nil, fmt.Errorf("invalid host entry %q", h)
		}
		for _, name := range f[1:] {
			host.ExtraHosts = append(host.ExtraHosts, name+":"+f[0])
		}
	}
	if d := spec.DNSConfig; d != nil {
		host.DNS = nil
		for _, s := range d.Nameservers {
			if a, err := netip.ParseAddr(s); err == nil {
				host.DNS = append(host.DNS, a)
			} else {
				return nil, fmt.Errorf("invalid nameserver %q", s)
			}
		}
		host.DNSSearch = d.Search
		host.DNSOptions = d.Options
	}
	for _, u := range spec.Ulimits {
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if r := t.Spec.Resources; r != nil {
		if l := r.Limits; l != nil {
			host.NanoCPUs = l.NanoCPUs
			host.Memory = l.MemoryBytes
		}
		if rs := r.Reservations; rs != nil {
			host.MemoryReservation = rs.MemoryBytes
		}
	}
	if spec.PidsLimit > 0 {
		p := spec.PidsLimit
		host.PidsLimit = &p
	}
	for _, m := range spec.Mounts {
		mm, err := engineMount(m)
		if err != nil {
			return nil, err
		}
		host.Mounts = append(host.Mounts, mm)
	}

	// Ports published in host mode are the task container's own
	// published ports on this node (ingress ones are the routing mesh's).
	if t.Endpoint != nil {
		for _, p := range t.Endpoint.Ports {
			if p.PublishMode != swarmapi.PublishModeHost {
				continue
			}
			proto := strings.ToLower(p.Protocol.String())
			port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.TargetPort, proto))
			if err != nil {
				return nil, fmt.Errorf("published port %d: %w", p.TargetPort, err)
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = network.PortSet{}
				host.PortBindings = network.PortMap{}
			}
			cfg.ExposedPorts[port] = struct{}{}
			hp := ""
			if p.PublishedPort != 0 {
				hp = fmt.Sprint(p.PublishedPort)
			}
			host.PortBindings[port] = append(host.PortBindings[port], network.PortBinding{HostPort: hp})
		}
	}

	nc := &network.NetworkingConfig{}
	if len(networks) > 0 {
		host.NetworkMode = container.NetworkMode(networks[0].Name)
		nc.EndpointsConfig = map[string]*network.EndpointSettings{}
		for _, n := range networks {
			nc.EndpointsConfig[n.Name] = n.Endpoint
		}
	}

	grace := defaultStopGrace
	if spec.StopGracePeriod != nil {
		d, err := gogotypes.DurationFromProto(spec.StopGracePeriod)
		if err != nil {
			return nil, fmt.Errorf("stop grace period: %w", err)
		}
		grace = d
	}
	return &containerConfig{name: taskNaming(t), config: cfg, host: host, networking: nc, stopGrace: grace}, nil
}

// AttachedNetwork is an engine network a task's container joins, with
// its endpoint settings (the address SwarmKit allocated, aliases).
type AttachedNetwork struct {
	Name     string
	Endpoint *network.EndpointSettings
}

func engineMount(m swarmapi.Mount) (mount.Mount, error) {
	out := mount.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case swarmapi.MountTypeBind:
		out.Type = mount.TypeBind
		if o := m.BindOptions; o != nil {
			out.BindOptions = &mount.BindOptions{
				Propagation:  mount.Propagation(strings.ToLower(o.Propagation.String())),
				NonRecursive: o.NonRecursive,
			}
			if o.Propagation == swarmapi.MountPropagationRPrivate {
				out.BindOptions.Propagation = ""
			}
		}
	case swarmapi.MountTypeVolume:
		out.Type = mount.TypeVolume
		if o := m.VolumeOptions; o != nil {
			out.VolumeOptions = &mount.VolumeOptions{NoCopy: o.NoCopy, Labels: o.Labels}
			if d := o.DriverConfig; d != nil {
				out.VolumeOptions.DriverConfig = &mount.Driver{Name: d.Name, Options: d.Options}
			}
		}
	case swarmapi.MountTypeTmpfs:
		out.Type = mount.TypeTmpfs
		if o := m.TmpfsOptions; o != nil {
			out.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: o.SizeBytes, Mode: o.Mode}
		}
	default:
		return mount.Mount{}, fmt.Errorf("mount type %s is not supported", strings.ToLower(m.Type.String()))
	}
	return out, nil
}

// dockerSockets are the paths a task mounts to talk to "the Docker
// daemon" of its node (/var/run is a link to /run on current systems).
var dockerSockets = []string{"/var/run/docker.sock", "/run/docker.sock"}

// engineSocketMounts points the bind mounts of Docker's socket at the
// engine's own socket, so that a task mounting /var/run/docker.sock (the
// visualizer, a monitoring agent) talks to the berth daemon that runs it,
// as it would to dockerd on a Docker node — unless something (a Docker
// daemon's socket) is at that path on this node (exists tells). The
// host's path is left alone.
func engineSocketMounts(mounts []mount.Mount, socket string, exists func(path string) bool) {
	if socket == "" {
		return
	}
	for i, m := range mounts {
		if m.Type == mount.TypeBind && slices.Contains(dockerSockets, filepath.Clean(m.Source)) && !slices.Contains(dockerSockets, socket) && !exists(m.Source) {
			mounts[i].Source = socket
		}
	}
}

// pathExists reports whether anything is at path on this node.
func pathExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func taskNaming(t *swarmapi.Task) string { return swarmnaming.Task(t) }
