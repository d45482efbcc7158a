package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeaders = headerContext{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "State": "STATE",
	"Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

var psFields = []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"}

// containerContext is what ps templates see.
type containerContext struct {
	c     container.Summary
	trunc bool
	now   time.Time
}

func (c containerContext) ID() string {
	if c.trunc {
		return shortID(c.c.ID)
	}
	return c.c.ID
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
		return shortID(img)
	}
	return img
}

func (c containerContext) Command() string {
	cmd := c.c.Command
	if c.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (c containerContext) CreatedAt() string {
	return time.Unix(c.c.Created, 0).String()
}

func (c containerContext) RunningFor() string {
	return humanAgo(time.Unix(c.c.Created, 0), c.now)
}

func (c containerContext) Status() string { return c.c.Status }
func (c containerContext) State() string  { return string(c.c.State) }

func (c containerContext) Size() string {
	srw := humanSize(c.c.SizeRw)
	sv := humanSize(c.c.SizeRootFs)
	return fmt.Sprintf("%s (virtual %s)", srw, sv)
}

func (c containerContext) Labels() string {
	var kv []string
	for k, v := range c.c.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
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
			name = ellipsis(name, 15)
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

func (c containerContext) MarshalJSON() ([]byte, error) { return contextJSON(c, psFields) }

// formatPorts renders port summaries like docker ps.
func formatPorts(ports []container.PortSummary) string {
	sorted := append([]container.PortSummary(nil), ports...)
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

func (a *app) psCmd() *cobra.Command {
	var all, quiet, latest, size, noTrunc bool
	var last int
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			res, err := api.ContainerList(cmd.Context(), client.ContainerListOptions{All: all || last > 0, Limit: last, Size: size || strings.Contains(format, ".Size"), Filters: f})
			if err != nil {
				return err
			}
			return renderPs(a.out, res.Items, format, quiet, size, !noTrunc, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func renderPs(w io.Writer, items []container.Summary, format string, quiet, size, trunc bool, now time.Time) error {
	if quiet && format == "" {
		format = "{{.ID}}"
	}
	def := defaultPsFormat
	if size {
		def += "\t{{.Size}}"
	}
	ctxs := make([]any, 0, len(items))
	for _, c := range items {
		ctxs = append(ctxs, containerContext{c: c, trunc: trunc, now: now})
	}
	return listFormat(w, format, def, psHeaders, ctxs)
}

var _ json.Marshaler = containerContext{}
