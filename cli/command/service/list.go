package service

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/cli/command/task"
)

// DefaultListFormat is docker's service ls table.
const DefaultListFormat = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"

var listHeaders = formatter.Headers{
	"ID": "ID", "Name": "NAME", "Mode": "MODE", "Replicas": "REPLICAS", "Image": "IMAGE", "Ports": "PORTS",
}

// listContext is one service ls row.
type listContext struct{ s swarmtypes.Service }

// ID is the short service ID.
func (c listContext) ID() string { return formatter.ShortID(c.s.ID) }

// Name is the service name.
func (c listContext) Name() string { return c.s.Spec.Name }

// Mode is "replicated", "global", "replicated job" or "global job".
func (c listContext) Mode() string {
	m := c.s.Spec.Mode
	switch {
	case m.Global != nil:
		return "global"
	case m.Replicated != nil:
		return "replicated"
	case m.ReplicatedJob != nil:
		return "replicated job"
	case m.GlobalJob != nil:
		return "global job"
	}
	return ""
}

// Replicas is "running/desired", with the completions of jobs and the
// per-node maximum of replicated services.
func (c listContext) Replicas() string {
	var running, desired, completed uint64
	if st := c.s.ServiceStatus; st != nil {
		running, desired, completed = st.RunningTasks, st.DesiredTasks, st.CompletedTasks
	}
	m := c.s.Spec.Mode
	if m.ReplicatedJob != nil {
		var total uint64
		if m.ReplicatedJob.TotalCompletions != nil {
			total = *m.ReplicatedJob.TotalCompletions
		}
		return fmt.Sprintf("%d/%d (%d/%d completed)", running, desired, completed, total)
	}
	if m.GlobalJob != nil {
		return fmt.Sprintf("%d/%d (%d/%d completed)", running, desired, completed, desired+completed)
	}
	if p := c.s.Spec.TaskTemplate.Placement; m.Replicated != nil && p != nil && p.MaxReplicas > 0 {
		return fmt.Sprintf("%d/%d (max %d per node)", running, desired, p.MaxReplicas)
	}
	return fmt.Sprintf("%d/%d", running, desired)
}

// Image is the service image without its digest.
func (c listContext) Image() string {
	if cs := c.s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		return task.StripDigest(cs.Image)
	}
	return ""
}

// Ports are the ingress-published ports, consecutive ones as ranges
// ("*:8080-8081->80-81/tcp").
func (c listContext) Ports() string { return ingressPorts(c.s.Endpoint.Ports) }

// MarshalJSON is {{json .}}.
func (c listContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"ID", "Image", "Mode", "Name", "Ports", "Replicas"})
}

// portRange is a run of published ports mapped to a run of targets.
type portRange struct {
	pStart, pEnd, tStart, tEnd uint32
	proto                      string
}

func (r portRange) String() string {
	pub, tgt := strconv.FormatUint(uint64(r.pStart), 10), strconv.FormatUint(uint64(r.tStart), 10)
	if r.pEnd > r.pStart {
		pub = fmt.Sprintf("%d-%d", r.pStart, r.pEnd)
	}
	if r.tEnd > r.tStart {
		tgt = fmt.Sprintf("%d-%d", r.tStart, r.tEnd)
	}
	return fmt.Sprintf("*:%s->%s/%s", pub, tgt, r.proto)
}

// ingressPorts renders the PORTS column: ingress ports by protocol and
// published port, runs of consecutive ports joined into ranges.
func ingressPorts(ports []swarmtypes.PortConfig) string {
	if ports == nil {
		return ""
	}
	sorted := append([]swarmtypes.PortConfig(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Protocol == sorted[j].Protocol {
			return sorted[i].PublishedPort < sorted[j].PublishedPort
		}
		return sorted[i].Protocol < sorted[j].Protocol
	})
	var out []string
	var cur portRange
	for _, p := range sorted {
		if p.PublishMode != swarmtypes.PortConfigPublishModeIngress {
			continue
		}
		inRange := cur.tEnd != cur.tStart
		// Unsigned differences: a smaller port wraps and starts a new run.
		if string(p.Protocol) != cur.proto || p.PublishedPort-cur.pEnd > 1 || p.TargetPort-cur.tEnd > 1 || (inRange && p.TargetPort <= cur.tEnd) {
			if cur.pStart > 0 {
				out = append(out, cur.String())
			}
			cur = portRange{pStart: p.PublishedPort, pEnd: p.PublishedPort, tStart: p.TargetPort, tEnd: p.TargetPort, proto: string(p.Protocol)}
			continue
		}
		cur.pEnd, cur.tEnd = p.PublishedPort, p.TargetPort
	}
	if cur.pStart > 0 {
		out = append(out, cur.String())
	}
	return strings.Join(out, ", ")
}

// appendServiceStatus counts the running and desired tasks of services
// the daemon sent without ServiceStatus, as docker does for older
// daemons.
func appendServiceStatus(ctx context.Context, api client.APIClient, services []swarmtypes.Service) error {
	status := map[string]*swarmtypes.ServiceStatus{}
	f := client.Filters{}
	for i, s := range services {
		switch {
		case s.ServiceStatus != nil:
		case s.Spec.Mode.Replicated != nil:
			var desired uint64
			if r := s.Spec.Mode.Replicated.Replicas; r != nil {
				desired = *r
			}
			services[i].ServiceStatus = &swarmtypes.ServiceStatus{DesiredTasks: desired}
			status[s.ID] = &swarmtypes.ServiceStatus{}
			f.Add("service", s.ID)
		case s.Spec.Mode.Global != nil:
			services[i].ServiceStatus = &swarmtypes.ServiceStatus{}
			status[s.ID] = &swarmtypes.ServiceStatus{}
			f.Add("service", s.ID)
		}
	}
	if len(status) == 0 {
		return nil
	}
	tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: f})
	if err != nil {
		return err
	}
	if len(tasks.Items) == 0 {
		return nil
	}
	active, err := activeNodes(ctx, api)
	if err != nil {
		return err
	}
	for _, t := range tasks.Items {
		st := status[t.ServiceID]
		if st == nil {
			continue
		}
		if t.DesiredState != swarmtypes.TaskStateShutdown {
			st.DesiredTasks++
		}
		if active[t.NodeID] && t.Status.State == swarmtypes.TaskStateRunning {
			st.RunningTasks++
		}
	}
	for i, s := range services {
		if st := status[s.ID]; st != nil {
			services[i].ServiceStatus = st
		}
	}
	return nil
}

// activeNodes are the nodes not down.
func activeNodes(ctx context.Context, api client.APIClient) (map[string]bool, error) {
	res, err := api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	for _, n := range res.Items {
		if n.Status.State != swarmtypes.NodeStateDown {
			active[n.ID] = true
		}
	}
	return active, nil
}

// listRows orders services by name (natural order) as rows.
func listRows(services []swarmtypes.Service) []any {
	task.SortNatural(services, func(s swarmtypes.Service) string { return s.Spec.Name })
	return formatter.Rows(services, func(s swarmtypes.Service) any { return listContext{s: s} })
}

func newListCommand(cli *command.Cli) *cobra.Command {
	return command.List{
		Short:         "List services",
		DefaultFormat: DefaultListFormat,
		Headers:       listHeaders,
		QuietHelp:     "Only display IDs",
		FilterHelp:    "Filter output based on conditions provided",
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, _ []string) ([]any, error) {
			res, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: o.Filters, Status: !o.Quiet})
			if err != nil {
				return nil, err
			}
			if !o.Quiet {
				if err := appendServiceStatus(ctx, api, res.Items); err != nil {
					return nil, err
				}
			}
			return listRows(res.Items), nil
		},
	}.Command(cli)
}
