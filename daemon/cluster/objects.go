package cluster

import (
	"context"
	"fmt"
	"sort"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/cluster/convert"
)

// Objects are named by full ID, name, or unique ID prefix, as Docker
// resolves them.

func ambiguous(kind, input string, n int) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s %s is ambiguous (%d matches found)", kind, input, n))
}

func notFound(kind, input string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("%s %s not found", kind, input))
}

// resolve finds the one object input names, as Docker resolves it: by
// full ID (get), else by name (byName, nil when the kind has no names),
// else by unique ID prefix (byPrefix).
func resolve[T any](kind, input string, get func(id string) (T, error), byName, byPrefix func(string) ([]T, error)) (T, error) {
	var zero T
	if v, err := get(input); err == nil {
		return v, nil
	}
	var found []T
	var err error
	if byName != nil {
		if found, err = byName(input); err != nil {
			return zero, statusErr(err)
		}
	}
	if len(found) == 0 {
		if found, err = byPrefix(input); err != nil {
			return zero, statusErr(err)
		}
	}
	switch len(found) {
	case 0:
		return zero, notFound(kind, input)
	case 1:
		return found[0], nil
	}
	return zero, ambiguous(kind, input, len(found))
}

func getNode(ctx context.Context, ctl swarmapi.ControlClient, input string) (*swarmapi.Node, error) {
	if r, err := ctl.GetNode(ctx, &swarmapi.GetNodeRequest{NodeID: input}); err == nil {
		return r.Node, nil
	}
	r, err := ctl.ListNodes(ctx, &swarmapi.ListNodesRequest{Filters: &swarmapi.ListNodesRequest_Filters{Names: []string{input}}})
	if err != nil {
		return nil, statusErr(err)
	}
	var exact []*swarmapi.Node
	for _, n := range r.Nodes {
		if n.Description != nil && n.Description.Hostname == input || n.Spec.Annotations.Name == input {
			exact = append(exact, n)
		}
	}
	if len(exact) == 1 {
		return exact[0], nil
	}
	if len(exact) > 1 {
		return nil, ambiguous("node", input, len(exact))
	}
	r, err = ctl.ListNodes(ctx, &swarmapi.ListNodesRequest{Filters: &swarmapi.ListNodesRequest_Filters{IDPrefixes: []string{input}}})
	if err != nil {
		return nil, statusErr(err)
	}
	switch len(r.Nodes) {
	case 0:
		return nil, notFound("node", input)
	case 1:
		return r.Nodes[0], nil
	}
	return nil, ambiguous("node", input, len(r.Nodes))
}

func getService(ctx context.Context, ctl swarmapi.ControlClient, input string, insertDefaults bool) (*swarmapi.Service, error) {
	get := func(id string) (*swarmapi.Service, error) {
		r, err := ctl.GetService(ctx, &swarmapi.GetServiceRequest{ServiceID: id, InsertDefaults: insertDefaults})
		if err != nil {
			return nil, err
		}
		return r.Service, nil
	}
	list := func(f *swarmapi.ListServicesRequest_Filters) ([]*swarmapi.Service, error) {
		r, err := ctl.ListServices(ctx, &swarmapi.ListServicesRequest{Filters: f})
		if err != nil {
			return nil, err
		}
		return r.Services, nil
	}
	s, err := resolve("service", input, get,
		func(name string) ([]*swarmapi.Service, error) {
			return list(&swarmapi.ListServicesRequest_Filters{Names: []string{name}})
		},
		func(prefix string) ([]*swarmapi.Service, error) {
			return list(&swarmapi.ListServicesRequest_Filters{IDPrefixes: []string{prefix}})
		})
	if err == nil && insertDefaults && s.ID != input {
		return get(s.ID) // found by name or prefix: fetch it with its defaults
	}
	return s, err
}

func getTask(ctx context.Context, ctl swarmapi.ControlClient, input string) (*swarmapi.Task, error) {
	return resolve("task", input,
		func(id string) (*swarmapi.Task, error) {
			r, err := ctl.GetTask(ctx, &swarmapi.GetTaskRequest{TaskID: id})
			if err != nil {
				return nil, err
			}
			return r.Task, nil
		}, nil,
		func(prefix string) ([]*swarmapi.Task, error) {
			r, err := ctl.ListTasks(ctx, &swarmapi.ListTasksRequest{Filters: &swarmapi.ListTasksRequest_Filters{IDPrefixes: []string{prefix}}})
			if err != nil {
				return nil, err
			}
			return r.Tasks, nil
		})
}

// NodeList implements backend.Cluster.
func (c *Cluster) NodeList(ctx context.Context, f backend.Filters) ([]swarm.Node, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	lf, err := convert.NodeFilters(f)
	if err != nil {
		return nil, err
	}
	r, err := ctl.ListNodes(ctx, &swarmapi.ListNodesRequest{Filters: lf})
	if err != nil {
		return nil, statusErr(err)
	}
	out := make([]swarm.Node, 0, len(r.Nodes))
	for _, n := range r.Nodes {
		out = append(out, convert.NodeFromGRPC(n))
	}
	return out, nil
}

// NodeInspect implements backend.Cluster.
func (c *Cluster) NodeInspect(ctx context.Context, id string) (swarm.Node, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Node{}, err
	}
	n, err := getNode(ctx, ctl, id)
	if err != nil {
		return swarm.Node{}, err
	}
	return convert.NodeFromGRPC(n), nil
}

// NodeUpdate implements backend.Cluster.
func (c *Cluster) NodeUpdate(ctx context.Context, id string, version uint64, spec swarm.NodeSpec) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := convert.NodeSpecToGRPC(spec)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	n, err := getNode(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.UpdateNode(ctx, &swarmapi.UpdateNodeRequest{NodeID: n.ID, NodeVersion: &swarmapi.Version{Index: version}, Spec: &s})
	return statusErr(err)
}

// NodeRemove implements backend.Cluster.
func (c *Cluster) NodeRemove(ctx context.Context, id string, force bool) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	n, err := getNode(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.RemoveNode(ctx, &swarmapi.RemoveNodeRequest{NodeID: n.ID, Force: force})
	return statusErr(err)
}

// ServiceList implements backend.Cluster.
func (c *Cluster) ServiceList(ctx context.Context, f backend.Filters, withStatus bool) ([]swarm.Service, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	lf, err := convert.ServiceFilters(f)
	if err != nil {
		return nil, err
	}
	r, err := ctl.ListServices(ctx, &swarmapi.ListServicesRequest{Filters: lf})
	if err != nil {
		return nil, statusErr(err)
	}
	var ids []string
	out := make([]swarm.Service, 0, len(r.Services))
	for _, s := range r.Services {
		if !convert.MatchServiceMode(f, s) {
			continue
		}
		svc, err := convert.ServiceFromGRPC(s)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
		ids = append(ids, s.ID)
	}
	if withStatus && len(ids) > 0 {
		st, err := ctl.ListServiceStatuses(ctx, &swarmapi.ListServiceStatusesRequest{Services: ids})
		if err != nil {
			return nil, statusErr(err)
		}
		byID := map[string]*swarmapi.ListServiceStatusesResponse_ServiceStatus{}
		for _, s := range st.Statuses {
			byID[s.ServiceID] = s
		}
		for i := range out {
			if s := byID[out[i].ID]; s != nil {
				out[i].ServiceStatus = &swarm.ServiceStatus{RunningTasks: s.RunningTasks, DesiredTasks: s.DesiredTasks, CompletedTasks: s.CompletedTasks}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// ServiceInspect implements backend.Cluster.
func (c *Cluster) ServiceInspect(ctx context.Context, id string, insertDefaults bool) (swarm.Service, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Service{}, err
	}
	s, err := getService(ctx, ctl, id, insertDefaults)
	if err != nil {
		return swarm.Service{}, err
	}
	return convert.ServiceFromGRPC(s)
}

// ServiceCreate implements backend.Cluster.
func (c *Cluster) ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, encodedAuth string) (swarm.ServiceCreateResponse, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	s, err := convert.ServiceSpecToGRPC(spec)
	if err != nil {
		return swarm.ServiceCreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if err := c.resolveNetworks(ctx, ctl, &s); err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	var warnings []string
	if ct := s.Task.GetContainer(); ct != nil {
		if encodedAuth != "" {
			ct.PullOptions = &swarmapi.ContainerSpec_PullOptions{RegistryAuth: encodedAuth}
		}
		// Docker's CLI pins the image to a registry digest first; an
		// image that is only here is pinned to its ID, for the other
		// nodes to fetch it from this one (images.go).
		c.pinImage(ctx, ct, nil)
	}
	r, err := ctl.CreateService(ctx, &swarmapi.CreateServiceRequest{Spec: &s})
	if err != nil {
		return swarm.ServiceCreateResponse{}, statusErr(err)
	}
	return swarm.ServiceCreateResponse{ID: r.Service.ID, Warnings: warnings}, nil
}

// resolveNetworks turns network names in a service spec into the IDs
// SwarmKit needs.
func (c *Cluster) resolveNetworks(ctx context.Context, ctl swarmapi.ControlClient, s *swarmapi.ServiceSpec) error {
	for i, att := range s.Task.Networks {
		id, err := c.networkID(ctx, ctl, att.Target)
		if err != nil {
			return err
		}
		s.Task.Networks[i].Target = id
	}
	for i, att := range s.Networks {
		id, err := c.networkID(ctx, ctl, att.Target)
		if err != nil {
			return err
		}
		s.Networks[i].Target = id
	}
	return nil
}

func (c *Cluster) networkID(ctx context.Context, ctl swarmapi.ControlClient, input string) (string, error) {
	if r, err := ctl.GetNetwork(ctx, &swarmapi.GetNetworkRequest{NetworkID: input}); err == nil {
		return r.Network.ID, nil
	}
	r, err := ctl.ListNetworks(ctx, &swarmapi.ListNetworksRequest{Filters: &swarmapi.ListNetworksRequest_Filters{Names: []string{input}}})
	if err != nil {
		return "", statusErr(err)
	}
	if len(r.Networks) == 1 {
		return r.Networks[0].ID, nil
	}
	r, err = ctl.ListNetworks(ctx, &swarmapi.ListNetworksRequest{Filters: &swarmapi.ListNetworksRequest_Filters{IDPrefixes: []string{input}}})
	if err != nil {
		return "", statusErr(err)
	}
	if len(r.Networks) == 1 {
		return r.Networks[0].ID, nil
	}
	if len(r.Networks) > 1 {
		return "", ambiguous("network", input, len(r.Networks))
	}
	return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", input))
}

// ServiceUpdate implements backend.Cluster.
func (c *Cluster) ServiceUpdate(ctx context.Context, id string, version uint64, spec swarm.ServiceSpec, opts backend.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	cur, err := getService(ctx, ctl, id, false)
	if err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	s, err := convert.ServiceSpecToGRPC(spec)
	if err != nil {
		return swarm.ServiceUpdateResponse{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if err := c.resolveNetworks(ctx, ctl, &s); err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	if ct := s.Task.GetContainer(); ct != nil {
		auth := opts.EncodedRegistryAuth
		if auth == "" {
			var prev *swarmapi.ServiceSpec
			switch opts.RegistryAuthFrom {
			case "", "spec":
				prev = &cur.Spec
			case "previous-spec":
				prev = cur.PreviousSpec
			default:
				return swarm.ServiceUpdateResponse{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported registryAuthFrom: %s", opts.RegistryAuthFrom))
			}
			if prev != nil {
				if pc := prev.Task.GetContainer(); pc != nil && pc.PullOptions != nil {
					auth = pc.PullOptions.RegistryAuth
				}
			}
		}
		if auth != "" {
			ct.PullOptions = &swarmapi.ContainerSpec_PullOptions{RegistryAuth: auth}
		}
		c.pinImage(ctx, ct, cur.Spec.Task.GetContainer())
	}
	req := &swarmapi.UpdateServiceRequest{ServiceID: cur.ID, ServiceVersion: &swarmapi.Version{Index: version}, Spec: &s}
	switch opts.Rollback {
	case "":
	case "previous":
		req.Rollback = swarmapi.UpdateServiceRequest_PREVIOUS
	default:
		return swarm.ServiceUpdateResponse{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unrecognized rollback option %s", opts.Rollback))
	}
	if _, err := ctl.UpdateService(ctx, req); err != nil {
		return swarm.ServiceUpdateResponse{}, statusErr(err)
	}
	return swarm.ServiceUpdateResponse{}, nil
}

// ServiceRemove implements backend.Cluster.
func (c *Cluster) ServiceRemove(ctx context.Context, id string) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := getService(ctx, ctl, id, false)
	if err != nil {
		return err
	}
	_, err = ctl.RemoveService(ctx, &swarmapi.RemoveServiceRequest{ServiceID: s.ID})
	return statusErr(err)
}

// TaskList implements backend.Cluster.
func (c *Cluster) TaskList(ctx context.Context, f backend.Filters) ([]swarm.Task, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	lf, refs, err := convert.TaskFilters(f)
	if err != nil {
		return nil, err
	}
	for _, s := range refs.Services {
		svc, err := getService(ctx, ctl, s, false)
		if err != nil {
			return nil, err
		}
		lf.ServiceIDs = append(lf.ServiceIDs, svc.ID)
	}
	for _, s := range refs.Nodes {
		if s == "self" {
			c.mu.RLock()
			n := c.node
			c.mu.RUnlock()
			if n != nil {
				lf.NodeIDs = append(lf.NodeIDs, n.NodeID())
			}
			continue
		}
		nd, err := getNode(ctx, ctl, s)
		if err != nil {
			return nil, err
		}
		lf.NodeIDs = append(lf.NodeIDs, nd.ID)
	}
	r, err := ctl.ListTasks(ctx, &swarmapi.ListTasksRequest{Filters: lf})
	if err != nil {
		return nil, statusErr(err)
	}
	out := make([]swarm.Task, 0, len(r.Tasks))
	for _, t := range r.Tasks {
		tk, err := convert.TaskFromGRPC(t)
		if err != nil {
			return nil, err
		}
		out = append(out, tk)
	}
	return out, nil
}

// TaskInspect implements backend.Cluster.
func (c *Cluster) TaskInspect(ctx context.Context, id string) (swarm.Task, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Task{}, err
	}
	t, err := getTask(ctx, ctl, id)
	if err != nil {
		return swarm.Task{}, err
	}
	return convert.TaskFromGRPC(t)
}
