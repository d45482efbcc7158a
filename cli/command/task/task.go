// Package task prints swarm tasks as docker's `node ps` and `service ps`
// do (the table, its names, history rows and humanised states), maps the
// node and service IDs tasks carry to names, and sorts in docker's natural
// order (NaturalLess, SortNatural).
package task

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/cli/command/formatter"
)

// DefaultFormat is the table docker's ps commands show.
const DefaultFormat = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}"

// Headers are the column titles of the task table.
var headers = formatter.Headers{
	"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE", "DesiredState": "DESIRED STATE",
	"CurrentState": "CURRENT STATE", "Error": "ERROR", "Ports": "PORTS",
}

// maxErrLength is how much of a task's error the table shows.
const maxErrLength = 30

// Resolver maps node and service IDs to names (a node's name or hostname,
// a service's name), remembering what it looked up. With NoResolve it
// answers the IDs; a failed lookup answers the ID too.
type Resolver struct {
	api       client.APIClient
	noResolve bool
	nodes     map[string]string
	services  map[string]string
}

// NewResolver returns a Resolver asking api.
func NewResolver(api client.APIClient, noResolve bool) *Resolver {
	return &Resolver{api: api, noResolve: noResolve, nodes: map[string]string{}, services: map[string]string{}}
}

// Node names the node id.
func (r *Resolver) Node(ctx context.Context, id string) string {
	if r.noResolve || id == "" {
		return id
	}
	if name, ok := r.nodes[id]; ok {
		return name
	}
	name := id
	if res, err := r.api.NodeInspect(ctx, id, client.NodeInspectOptions{}); err == nil {
		switch {
		case res.Node.Spec.Name != "":
			name = res.Node.Spec.Name
		case res.Node.Description.Hostname != "":
			name = res.Node.Description.Hostname
		}
	}
	r.nodes[id] = name
	return name
}

// Service names the service id.
func (r *Resolver) Service(ctx context.Context, id string) string {
	if r.noResolve {
		return id
	}
	if name, ok := r.services[id]; ok {
		return name
	}
	name := id
	if res, err := r.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{}); err == nil {
		name = res.Service.Spec.Name
	}
	r.services[id] = name
	return name
}

// PrintOptions are the ps flags, as parsed.
type PrintOptions struct {
	Format  string
	Quiet   bool
	NoTrunc bool
	// Now is what CURRENT STATE counts back from.
	Now time.Time
}

// Row is one task with the names Print gives it.
type Row struct {
	Task swarmtypes.Task
	Name string // service.slot (or service.nodeID), indented for history
	Node string
}

// Print writes tasks as docker's ps commands do: sorted by name (natural
// order), each slot's newest task first and its older ones as " \_ "
// history rows in tables.
func Print(ctx context.Context, w io.Writer, r *Resolver, tasks []swarmtypes.Task, o PrintOptions) error {
	format := o.Format
	if o.Quiet && (format == "" || format == "table") {
		format = "{{.ID}}"
	}
	table := format == "" || strings.HasPrefix(format, "table")
	rows := Rows(ctx, r, tasks, table)
	items := formatter.Rows(rows, func(row Row) any { return Context{Row: row, Trunc: !o.NoTrunc, Now: o.Now} })
	return formatter.List(w, format, DefaultFormat, headers, items)
}

// Rows names and orders tasks for Print; indent marks the older tasks of
// a slot.
func Rows(ctx context.Context, r *Resolver, tasks []swarmtypes.Task, indent bool) []Row {
	rows := make([]Row, len(tasks))
	for i, t := range tasks {
		svc := r.Service(ctx, t.ServiceID)
		name := fmt.Sprintf("%s.%s", svc, t.NodeID)
		if t.Slot != 0 {
			name = fmt.Sprintf("%s.%d", svc, t.Slot)
		}
		rows[i] = Row{Task: t, Name: name}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return NaturalLess(rows[i].Name, rows[j].Name)
		}
		return rows[j].Task.CreatedAt.Before(rows[i].Task.CreatedAt)
	})
	prev := ""
	for i := range rows {
		name := rows[i].Name
		if indent && name == prev {
			rows[i].Name = ` \_ ` + name
		}
		prev = name
		rows[i].Node = r.Node(ctx, rows[i].Task.NodeID)
	}
	return rows
}

// Context is a task row's template fields.
type Context struct {
	Row   Row
	Trunc bool
	Now   time.Time
}

// ID is the task ID, short unless --no-trunc.
func (c Context) ID() string {
	return formatter.ID(c.Row.Task.ID, c.Trunc)
}

// Name is service.slot.
func (c Context) Name() string { return c.Row.Name }

// Image is the task's image, without its digest unless --no-trunc.
func (c Context) Image() string {
	var image string
	if cs := c.Row.Task.Spec.ContainerSpec; cs != nil {
		image = cs.Image
	}
	if c.Trunc {
		return StripDigest(image)
	}
	return image
}

// StripDigest shortens "name:tag@sha256:…" to "name:tag" (familiar
// form); other references stay as they are.
func StripDigest(image string) string {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	nt, ok := ref.(reference.NamedTagged)
	if !ok {
		return image
	}
	tagged, err := reference.WithTag(reference.TrimNamed(nt), nt.Tag())
	if err != nil {
		return image
	}
	return reference.FamiliarString(tagged)
}

// Node is the node's name.
func (c Context) Node() string { return c.Row.Node }

// DesiredState is "Running", "Shutdown"…
func (c Context) DesiredState() string { return PrettyPrint(string(c.Row.Task.DesiredState)) }

// CurrentState is the state and how long ago it was reached: "Running 5
// seconds ago".
func (c Context) CurrentState() string {
	return CurrentState(c.Row.Task.Status, c.Now)
}

// CurrentState phrases a task status as docker's CURRENT STATE column.
func CurrentState(s swarmtypes.TaskStatus, now time.Time) string {
	return fmt.Sprintf("%s %s ago", PrettyPrint(string(s.State)), strings.ToLower(units.HumanDuration(now.Sub(s.Timestamp))))
}

// Error is the task's error, quoted, cut to 30 characters unless
// --no-trunc.
func (c Context) Error() string {
	e := c.Row.Task.Status.Err
	if c.Trunc {
		e = formatter.Ellipsis(e, maxErrLength)
	}
	if e != "" {
		e = `"` + e + `"`
	}
	return e
}

// Ports are the ports the task publishes on its node ("*:8080->80/tcp").
func (c Context) Ports() string {
	ports := c.Row.Task.Status.PortStatus.Ports
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		out = append(out, fmt.Sprintf("*:%d->%d/%s", p.PublishedPort, p.TargetPort, p.Protocol))
	}
	return strings.Join(out, ",")
}

// MarshalJSON is {{json .}}: every field.
func (c Context) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"CurrentState", "DesiredState", "Error", "ID", "Image", "Name", "Node", "Ports"})
}

// PrettyPrint capitalises the first letter and lowers the rest, as
// docker's human-readable columns do ("running" → "Running").
func PrettyPrint(s string) string {
	switch len(s) {
	case 0:
		return s
	case 1:
		return strings.ToLower(s)
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// SortNatural sorts items (stably) by key in natural order (NaturalLess).
func SortNatural[T any](items []T, key func(T) string) {
	sort.SliceStable(items, func(i, j int) bool { return NaturalLess(key(items[i]), key(items[j])) })
}

// NaturalLess orders strings with their digit runs compared as numbers
// ("svc.2" before "svc.10").
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da && db:
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			a, b = ra, rb
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
