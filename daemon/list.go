package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/internal/filters"
)

// containerListFilters are the keys GET /containers/json accepts.
var containerListFilters = []string{
	"id", "name", "label", "label!", "status", "exited",
	"ancestor", "before", "since", "volume", "network", "is-task",
}

// ContainerList implements backend.Backend.
func (d *Daemon) ContainerList(ctx context.Context, opts backend.ContainerListOptions) ([]apicontainer.Summary, error) {
	f := opts.Filters
	if err := f.Validate(containerListFilters...); err != nil {
		return nil, err
	}
	if err := f.OneOf("status", "created", "restarting", "running", "removing", "paused", "exited", "dead"); err != nil {
		return nil, err
	}
	exited, err := f.Atoi("exited")
	if err != nil {
		return nil, err
	}
	isTask, _, err := f.Bool("is-task")
	if err != nil {
		return nil, err
	}
	if isTask {
		// There are no swarm tasks here.
		return []apicontainer.Summary{}, nil
	}
	all := opts.All || len(f["status"]) > 0 || len(f["exited"]) > 0
	list := d.containers.List()
	var beforeIdx, sinceIdx = -1, -1
	for _, key := range []string{"before", "since"} {
		for v := range f[key] {
			ref, err := d.containers.Get(v)
			if err != nil {
				return nil, err
			}
			for i, c := range list {
				if c.ID == ref.ID {
					if key == "before" {
						beforeIdx = i
					} else {
						sinceIdx = i
					}
				}
			}
		}
	}
	ancestors := map[string]bool{}
	for a := range f["ancestor"] {
		if img, err := d.images.Get(ctx, a); err == nil {
			ancestors[img.ID.String()] = true
		}
	}
	out := []apicontainer.Summary{}
	for i, c := range list {
		// List is newest first: "before X" means older, so later in the list.
		if beforeIdx >= 0 && i <= beforeIdx {
			continue
		}
		if sinceIdx >= 0 && i >= sinceIdx {
			continue
		}
		c.Lock()
		s := c.Summary()
		if c.NetworkSettings != nil && c.State.Running {
			s.Ports = portSummaries(c.NetworkSettings.Ports)
		}
		exitCode := c.State.ExitCode
		running := c.State.Running
		c.Unlock()
		if !all && !running {
			continue
		}
		if !summaryMatches(&s, f, exited, exitCode) {
			continue
		}
		if len(f["ancestor"]) > 0 && !ancestors[s.ImageID] && !f["ancestor"][s.Image] {
			continue
		}
		if opts.Size {
			if n, err := d.snaps.Usage(c.ID); err == nil {
				s.SizeRw = n
			}
		}
		out = append(out, s)
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
	}
	return out, nil
}

// summaryMatches applies the already validated list filters; exited holds
// the parsed exited= codes.
func summaryMatches(s *apicontainer.Summary, f filters.Args, exited []int, exitCode int) bool {
	if !f.MatchPrefix("id", s.ID) {
		return false
	}
	if len(f["name"]) > 0 {
		ok := false
		for _, have := range s.Names {
			if f.MatchName("name", have) || f.MatchName("name", strings.TrimPrefix(have, "/")) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if !f.MatchExact("status", string(s.State)) {
		return false
	}
	if len(exited) > 0 {
		if s.State != "exited" || !slices.Contains(exited, exitCode) {
			return false
		}
	}
	if !f.MatchLabels(s.Labels) {
		return false
	}
	if len(f["volume"]) > 0 {
		ok := false
		for _, m := range s.Mounts {
			if f.MatchExact("volume", m.Name, m.Destination, m.Source) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return f.MatchExact("network", string(s.HostConfig.NetworkMode))
}

// ContainerInspect implements backend.Backend.
func (d *Daemon) ContainerInspect(ctx context.Context, name string, size bool) (*apicontainer.InspectResponse, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	c.Lock()
	r := c.InspectBase()
	c.Unlock()
	r.ExecIDs = append(r.ExecIDs, d.life.ExecIDs(c.ID)...)
	if size {
		if n, err := d.snaps.Usage(c.ID); err == nil {
			r.SizeRw = &n
		}
	}
	return r, nil
}

// ContainersPrune implements backend.Backend.
func (d *Daemon) ContainersPrune(ctx context.Context, f backend.Filters) (*apicontainer.PruneReport, error) {
	// Every value is validated before the first removal.
	if err := f.Validate("label", "label!", "until"); err != nil {
		return nil, err
	}
	cutoff, hasCutoff, err := f.Until(time.Now())
	if err != nil {
		return nil, err
	}
	rep := &apicontainer.PruneReport{ContainersDeleted: []string{}}
	for _, c := range d.containers.List() {
		c.Lock()
		st := c.State
		labels := c.Config.Labels
		created := c.Created
		c.Unlock()
		if st.Running || st.Paused || st.Restarting || st.RemovalInProgress {
			continue
		}
		if !f.MatchLabels(labels) {
			continue
		}
		if hasCutoff && !created.Before(cutoff) {
			continue
		}
		n, _ := d.snaps.Usage(c.ID)
		if err := d.life.RemoveContainer(ctx, c, false, false); err != nil {
			d.log.Warn("prune container", "id", c.ID, "err", err)
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		if n > 0 {
			rep.SpaceReclaimed += uint64(n)
		}
	}
	d.emit(events.ContainerEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}
