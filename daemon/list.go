package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/api/server"
)

var containerFilters = map[string]bool{
	"id": true, "name": true, "label": true, "label!": true, "status": true, "exited": true,
	"ancestor": true, "before": true, "since": true, "volume": true, "network": true, "is-task": true,
}

// ContainerList implements server.Backend.
func (d *Daemon) ContainerList(ctx context.Context, opts server.ContainerListOptions) ([]apicontainer.Summary, error) {
	f := opts.Filters
	for k := range f {
		if !containerFilters[k] {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	for s := range f["status"] {
		switch s {
		case "created", "restarting", "running", "removing", "paused", "exited", "dead":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s'", s))
		}
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
		if !summaryMatches(&s, f, exitCode) {
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

func summaryMatches(s *apicontainer.Summary, f server.Filters, exitCode int) bool {
	if ids := f.Get("id"); len(ids) > 0 {
		ok := false
		for _, id := range ids {
			if strings.HasPrefix(s.ID, id) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if names := f.Get("name"); len(names) > 0 {
		ok := false
		for _, n := range names {
			for _, have := range s.Names {
				if strings.Contains(strings.TrimPrefix(have, "/"), strings.TrimPrefix(n, "/")) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if st := f["status"]; len(st) > 0 && !st[string(s.State)] {
		return false
	}
	if ex := f.Get("exited"); len(ex) > 0 {
		if s.State != "exited" {
			return false
		}
		ok := false
		for _, e := range ex {
			if n, err := strconv.Atoi(e); err == nil && n == exitCode {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if !labelsMatch(s.Labels, f) {
		return false
	}
	if vols := f.Get("volume"); len(vols) > 0 {
		ok := false
		for _, m := range s.Mounts {
			for _, v := range vols {
				if m.Name == v || m.Destination == v || m.Source == v {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if nets := f["network"]; len(nets) > 0 && !nets[s.HostConfig.NetworkMode] {
		return false
	}
	if t := f.Get("is-task"); len(t) > 0 && (t[0] == "true" || t[0] == "1") {
		return false
	}
	return true
}

// ContainerInspect implements server.Backend.
func (d *Daemon) ContainerInspect(ctx context.Context, name string, size bool) (*apicontainer.InspectResponse, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	c.Lock()
	r := c.InspectBase()
	c.Unlock()
	d.mu.Lock()
	for _, e := range d.execs.execs {
		if e.containerID == c.ID {
			r.ExecIDs = append(r.ExecIDs, e.id)
		}
	}
	d.mu.Unlock()
	if size {
		if n, err := d.snaps.Usage(c.ID); err == nil {
			r.SizeRw = &n
		}
	}
	return r, nil
}

// ContainersPrune implements server.Backend.
func (d *Daemon) ContainersPrune(ctx context.Context, f server.Filters) (*apicontainer.PruneReport, error) {
	for k := range f {
		if k != "label" && k != "label!" && k != "until" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	rep := &apicontainer.PruneReport{ContainersDeleted: []string{}}
	cutoff, hasCutoff := d.untilFilter(f)
	for _, c := range d.containers.List() {
		c.Lock()
		st := c.State
		labels := c.Config.Labels
		created := c.Created
		c.Unlock()
		if st.Running || st.Paused || st.Restarting || st.RemovalInProgress {
			continue
		}
		if !labelsMatch(labels, f) {
			continue
		}
		if hasCutoff && !created.Before(cutoff) {
			continue
		}
		n, _ := d.snaps.Usage(c.ID)
		if err := d.removeContainer(ctx, c, false, false); err != nil {
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
