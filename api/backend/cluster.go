package backend

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// Cluster is swarm mode: /swarm, /nodes, /services, /tasks, /secrets and
// /configs. It is implemented by daemon/cluster, which embeds SwarmKit;
// the types here are the Engine API's (github.com/moby/moby/api/types/swarm),
// never SwarmKit's.
//
// When the node is not in a swarm every call but SwarmInit, SwarmJoin and
// SwarmInspect fails with ErrUnavailable (503) and Docker's text:
// "This node is not a swarm manager. Use \"docker swarm init\" or
// \"docker swarm join\" to connect this node to swarm and try again."
// A worker answers manager-only calls with the same status and
// "This node is not a swarm manager. Worker nodes can't be used to view or
// modify cluster state. Please run this command on a manager node or
// promote the current node to a manager."
type Cluster interface {
	// SwarmInit makes this node the first manager of a new swarm and
	// returns its node ID.
	SwarmInit(ctx context.Context, req swarm.InitRequest) (nodeID string, err error)
	// SwarmJoin joins an existing swarm as a worker or a manager (which
	// one the token says); it returns once the node has joined.
	SwarmJoin(ctx context.Context, req swarm.JoinRequest) error
	// SwarmLeave leaves the swarm. A manager that would break quorum, or
	// the last one, needs force.
	SwarmLeave(ctx context.Context, force bool) error
	// SwarmInspect is GET /swarm: the cluster's spec, join tokens and CA.
	SwarmInspect(ctx context.Context) (swarm.Swarm, error)
	SwarmUpdate(ctx context.Context, version uint64, spec swarm.Spec, flags SwarmUpdateFlags) error
	SwarmUnlockKey(ctx context.Context) (string, error)
	SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error
	// SwarmInfo is the Swarm section of /info (never fails: an inactive
	// node says LocalNodeState "inactive").
	SwarmInfo(ctx context.Context) swarm.Info

	NodeList(ctx context.Context, f Filters) ([]swarm.Node, error)
	NodeInspect(ctx context.Context, id string) (swarm.Node, error)
	NodeUpdate(ctx context.Context, id string, version uint64, spec swarm.NodeSpec) error
	NodeRemove(ctx context.Context, id string, force bool) error

	// ServiceList lists services; with status, each carries ServiceStatus
	// (running and desired task counts).
	ServiceList(ctx context.Context, f Filters, status bool) ([]swarm.Service, error)
	ServiceInspect(ctx context.Context, id string, insertDefaults bool) (swarm.Service, error)
	ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, encodedAuth string) (swarm.ServiceCreateResponse, error)
	ServiceUpdate(ctx context.Context, id string, version uint64, spec swarm.ServiceSpec, opts ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, id string) error
	// ServiceLogs streams the logs of every task of a service (or, with
	// opts.Task, of one task) through write until done or ctx ends.
	ServiceLogs(ctx context.Context, id string, opts ServiceLogsOptions, write func(ServiceLogMessage) error) error

	TaskList(ctx context.Context, f Filters) ([]swarm.Task, error)
	TaskInspect(ctx context.Context, id string) (swarm.Task, error)

	SecretList(ctx context.Context, f Filters) ([]swarm.Secret, error)
	SecretCreate(ctx context.Context, spec swarm.SecretSpec) (id string, err error)
	SecretInspect(ctx context.Context, id string) (swarm.Secret, error)
	SecretUpdate(ctx context.Context, id string, version uint64, spec swarm.SecretSpec) error
	SecretRemove(ctx context.Context, id string) error

	ConfigList(ctx context.Context, f Filters) ([]swarm.Config, error)
	ConfigCreate(ctx context.Context, spec swarm.ConfigSpec) (id string, err error)
	ConfigInspect(ctx context.Context, id string) (swarm.Config, error)
	ConfigUpdate(ctx context.Context, id string, version uint64, spec swarm.ConfigSpec) error
	ConfigRemove(ctx context.Context, id string) error
}

// SwarmUpdateFlags are the query flags of POST /swarm/update.
type SwarmUpdateFlags struct {
	RotateWorkerToken      bool
	RotateManagerToken     bool
	RotateManagerUnlockKey bool
}

// ServiceUpdateOptions are the query and header options of POST
// /services/{id}/update.
type ServiceUpdateOptions struct {
	EncodedRegistryAuth string // X-Registry-Auth
	RegistryAuthFrom    string // "spec" (default) or "previous-spec"
	Rollback            string // "previous": roll back to PreviousSpec
}

// ServiceLogsOptions are the query options of GET /services/{id}/logs and
// /tasks/{id}/logs.
type ServiceLogsOptions struct {
	Task       bool // the id names a task, not a service
	Stdout     bool
	Stderr     bool
	Follow     bool
	Timestamps bool
	Details    bool
	Since      time.Time
	Tail       string // "all" or a number
}

// ServiceLogMessage is one log line of a task.
type ServiceLogMessage struct {
	Stream    string // "stdout" or "stderr"
	Line      []byte
	Time      time.Time
	ServiceID string
	TaskID    string
	NodeID    string
	// Attrs are the details Docker appends with ?details=1
	// (com.docker.swarm.node.id=..., com.docker.swarm.service.id=...,
	// com.docker.swarm.task.id=...).
	Attrs []string
}
