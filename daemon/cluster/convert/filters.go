package convert

import (
	"strings"

	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/internal/filters"
)

// NodeFilters converts the filters of GET /nodes: id (prefixes), name
// (prefixes), label and node.label ("key" or "key=value"), role
// (manager|worker) and membership (accepted|pending), both
// case-insensitive. Another key is "invalid filter 'x'"; another role or
// membership is dockerd's "Invalid role filter: 'x'" / "Invalid
// membership filter: 'x'".
func NodeFilters(f filters.Args) (*swarmapi.ListNodesRequest_Filters, error) {
	if err := f.Validate("id", "label", "membership", "name", "node.label", "role"); err != nil {
		return nil, err
	}
	out := &swarmapi.ListNodesRequest_Filters{
		IDPrefixes:   values(f, "id"),
		NamePrefixes: values(f, "name"),
		Labels:       labelMap(f, "label"),
		NodeLabels:   labelMap(f, "node.label"),
	}
	for _, r := range f.Get("role") {
		if r == "" {
			continue
		}
		v, ok := swarmapi.NodeRole_value[strings.ToUpper(r)]
		if !ok {
			return nil, invalidArg("Invalid role filter: '%s'", r)
		}
		out.Roles = append(out.Roles, swarmapi.NodeRole(v))
	}
	for _, m := range f.Get("membership") {
		if m == "" {
			continue
		}
		v, ok := swarmapi.NodeSpec_Membership_value[strings.ToUpper(m)]
		if !ok {
			return nil, invalidArg("Invalid membership filter: '%s'", m)
		}
		out.Memberships = append(out.Memberships, swarmapi.NodeSpec_Membership(v))
	}
	return out, nil
}

// ServiceFilters converts the filters of GET /services: id and name
// (prefixes), label, runtime (default "container", so plugin services are
// listed only when asked for) and mode. SwarmKit cannot filter by mode: as
// in dockerd the caller drops the services MatchServiceMode refuses.
func ServiceFilters(f filters.Args) (*swarmapi.ListServicesRequest_Filters, error) {
	if err := f.Validate("id", "label", "mode", "name", "runtime"); err != nil {
		return nil, err
	}
	runtimes := values(f, "runtime")
	if len(runtimes) == 0 {
		runtimes = []string{"container"}
	}
	return &swarmapi.ListServicesRequest_Filters{
		IDPrefixes:   values(f, "id"),
		NamePrefixes: values(f, "name"),
		Labels:       labelMap(f, "label"),
		Runtimes:     runtimes,
	}, nil
}

// ServiceMode names a service spec's mode as the mode filter does:
// "replicated", "global", "replicated-job" or "global-job" ("" for none).
func ServiceMode(spec *swarmapi.ServiceSpec) string {
	if spec == nil {
		return ""
	}
	switch spec.Mode.(type) {
	case *swarmapi.ServiceSpec_Replicated:
		return "replicated"
	case *swarmapi.ServiceSpec_Global:
		return "global"
	case *swarmapi.ServiceSpec_ReplicatedJob:
		return "replicated-job"
	case *swarmapi.ServiceSpec_GlobalJob:
		return "global-job"
	default:
		return ""
	}
}

// MatchServiceMode applies the mode filter of GET /services to s: true
// when f has no mode values or one of them is s's mode exactly (an unknown
// mode matches nothing, as in dockerd).
func MatchServiceMode(f filters.Args, s *swarmapi.Service) bool {
	if len(f.Get("mode")) == 0 {
		return true
	}
	if s == nil {
		return false
	}
	return f.MatchExact("mode", ServiceMode(&s.Spec))
}

// TaskFilterRefs are the values of GET /tasks filters that name objects
// by name or ID, which SwarmKit cannot take as they are.
type TaskFilterRefs struct {
	// Services are the service filter's values (names, IDs or ID
	// prefixes). The caller resolves each to its service, failing as
	// inspecting it would, and appends the ID to the filters' ServiceIDs.
	Services []string
	// Nodes are the node filter's values (names, hostnames, IDs or ID
	// prefixes), to resolve the same way into NodeIDs.
	Nodes []string
}

// TaskFilters converts the filters of GET /tasks: id and name (prefixes),
// label, desired-state (a task state, case-insensitive; another is
// dockerd's "Invalid desired-state filter: 'x'"), runtime (default
// container tasks: "container" and ""), the internal "_up-to-date" the CLI
// uses to follow a rollout, and service and node, returned in refs for the
// caller to resolve.
func TaskFilters(f filters.Args) (*swarmapi.ListTasksRequest_Filters, TaskFilterRefs, error) {
	if err := f.Validate("_up-to-date", "desired-state", "id", "label", "name", "node", "runtime", "service"); err != nil {
		return nil, TaskFilterRefs{}, err
	}
	out := &swarmapi.ListTasksRequest_Filters{
		IDPrefixes:   values(f, "id"),
		NamePrefixes: values(f, "name"),
		Labels:       labelMap(f, "label"),
		Runtimes:     values(f, "runtime"),
		UpToDate:     len(f.Get("_up-to-date")) != 0,
	}
	if !f.Has("runtime") {
		out.Runtimes = []string{"container", ""}
	}
	for _, s := range f.Get("desired-state") {
		if s == "" {
			continue
		}
		v, ok := swarmapi.TaskState_value[strings.ToUpper(s)]
		if !ok {
			return nil, TaskFilterRefs{}, invalidArg("Invalid desired-state filter: '%s'", s)
		}
		out.DesiredStates = append(out.DesiredStates, swarmapi.TaskState(v))
	}
	refs := TaskFilterRefs{Services: values(f, "service"), Nodes: values(f, "node")}
	return out, refs, nil
}

// SecretFilters converts the filters of GET /secrets: id and name
// (prefixes), names (exact names) and label.
func SecretFilters(f filters.Args) (*swarmapi.ListSecretsRequest_Filters, error) {
	if err := f.Validate("id", "label", "name", "names"); err != nil {
		return nil, err
	}
	return &swarmapi.ListSecretsRequest_Filters{
		Names:        values(f, "names"),
		IDPrefixes:   values(f, "id"),
		NamePrefixes: values(f, "name"),
		Labels:       labelMap(f, "label"),
	}, nil
}

// ConfigFilters converts the filters of GET /configs: id and name
// (prefixes) and label. As in dockerd, configs take no "names" filter
// (only secrets do): it is "invalid filter 'names'".
func ConfigFilters(f filters.Args) (*swarmapi.ListConfigsRequest_Filters, error) {
	if err := f.Validate("id", "label", "name"); err != nil {
		return nil, err
	}
	return &swarmapi.ListConfigsRequest_Filters{
		IDPrefixes:   values(f, "id"),
		NamePrefixes: values(f, "name"),
		Labels:       labelMap(f, "label"),
	}, nil
}

// values is f's values for key, sorted, nil when there are none.
func values(f filters.Args, key string) []string {
	v := f.Get(key)
	if len(v) == 0 {
		return nil
	}
	return v
}

// labelMap turns "key" and "key=value" filter values into SwarmKit's
// label filter (an empty value matches any value), nil when none.
func labelMap(f filters.Args, key string) map[string]string {
	vals := f.Get(key)
	if len(vals) == 0 {
		return nil
	}
	out := make(map[string]string, len(vals))
	for _, kv := range vals {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}
