package container

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeaders = formatter.Headers{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "State": "STATE",
	"Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

var psFields = []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"}

// containerContext is what ps templates see.
type containerContext struct {
	c     containertypes.Summary
	trunc bool
	now   time.Time
}

func (c containerContext) ID() string {
	return formatter.ID(c.c.ID, c.trunc)
}

func (c containerContext) Names() string {
	var names []string
	for _, n := range c.c.Names {
		n = strings.TrimPrefix(n, "/")
		if c.trunc && strings.Contains(n, "/") {
			continue // a link alias
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (c containerContext) Image() string {
	img := c.c.Image
	if img == "" {
		return "<no image>"
	}
	if c.trunc && (strings.HasPrefix(img, "sha256:") || c.c.ImageID == img) {
		return formatter.ShortID(img)
	}
	return img
}

func (c containerContext) Command() string {
	cmd := c.c.Command
	if c.trunc {
		cmd = formatter.Ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (c containerContext) CreatedAt() string {
	return time.Unix(c.c.Created, 0).String()
}

func (c containerContext) RunningFor() string {
	return formatter.HumanAgo(time.Unix(c.c.Created, 0), c.now)
}

func (c containerContext) Status() string { return c.c.Status }

func (c containerContext) State() string { return string(c.c.State) }

func (c containerContext) Size() string {
	srw := formatter.HumanSize(c.c.SizeRw)
	sv := formatter.HumanSize(c.c.SizeRootFs)
	return fmt.Sprintf("%s (virtual %s)", srw, sv)
}

func (c containerContext) Labels() string {
	return formatter.Labels(c.c.Labels)
}

// Label answers {{.Label "name"}}.
func (c containerContext) Label(name string) string { return c.c.Labels[name] }

func (c containerContext) Mounts() string {
	var m []string
	for _, mp := range c.c.Mounts {
		name := mp.Name
		if name == "" {
			name = mp.Source
		}
		if c.trunc {
			name = formatter.Ellipsis(name, 15)
		}
		m = append(m, name)
	}
	return strings.Join(m, ",")
}

func (c containerContext) LocalVolumes() string {
	n := 0
	for _, mp := range c.c.Mounts {
		if mp.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (c containerContext) Networks() string {
	if c.c.NetworkSettings == nil {
		return ""
	}
	var n []string
	for k := range c.c.NetworkSettings.Networks {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

func (c containerContext) Ports() string { return formatPorts(c.c.Ports) }

func (c containerContext) MarshalJSON() ([]byte, error) { return formatter.ContextJSON(c, psFields) }

// formatPorts renders port summaries like docker ps.
func formatPorts(ports []containertypes.PortSummary) string {
	sorted := append([]containertypes.PortSummary(nil), ports...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].PrivatePort != sorted[j].PrivatePort {
			return sorted[i].PrivatePort < sorted[j].PrivatePort
		}
		if sorted[i].Type != sorted[j].Type {
			return sorted[i].Type < sorted[j].Type
		}
		return sorted[i].IP.String() < sorted[j].IP.String()
	})
	var out []string
	seen := map[string]bool{}
	for _, p := range sorted {
		var s string
		if p.IP.IsValid() && p.PublicPort != 0 {
			ip := p.IP.String()
			if p.IP.Is6() {
				ip = "[" + ip + "]"
			}
			s = fmt.Sprintf("%s:%d->%d/%s", ip, p.PublicPort, p.PrivatePort, p.Type)
		} else if p.PublicPort != 0 {
			s = fmt.Sprintf("%d->%d/%s", p.PublicPort, p.PrivatePort, p.Type)
		} else {
			s = fmt.Sprintf("%d/%s", p.PrivatePort, p.Type)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// psList is `ps`: its table, fields and -q.
var psList = command.List{
	Use:           "ps [OPTIONS]",
	Short:         "List containers",
	DefaultFormat: defaultPsFormat,
	Headers:       psHeaders,
	QuietFormat:   "{{.ID}}",
	QuietHelp:     "Only display container IDs",
	NoTruncHelp:   "Don't truncate output",
	FilterHelp:    "Filter output based on conditions provided",
}

// NewPsCommand is `ps` (and `container ls`).
func NewPsCommand(cli *command.Cli) *cobra.Command {
	var all, latest, size bool
	var last int
	l := psList
	l.Flags = func(fl *pflag.FlagSet) {
		fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
		fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
		fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
		fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	}
	l.Rows = func(ctx context.Context, api client.APIClient, o *command.ListOptions, _ []string) ([]any, error) {
		if latest {
			last = 1
		}
		res, err := api.ContainerList(ctx, client.ContainerListOptions{All: all || last > 0, Limit: last, Size: size || strings.Contains(o.Format, ".Size"), Filters: o.Filters})
		if err != nil {
			return nil, err
		}
		o.DefaultFormat = psDefaultFormat(size)
		return psRows(res.Items, !o.NoTrunc, time.Now()), nil
	}
	return l.Command(cli)
}

func psRows(items []containertypes.Summary, trunc bool, now time.Time) []any {
	return formatter.Rows(items, func(c containertypes.Summary) any { return containerContext{c: c, trunc: trunc, now: now} })
}

// psDefaultFormat is ps's table, with the SIZE column for --size.
func psDefaultFormat(size bool) string {
	if size {
		return defaultPsFormat + "\t{{.Size}}"
	}
	return defaultPsFormat
}
