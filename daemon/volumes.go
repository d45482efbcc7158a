package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	apivolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/api/server"
)

// VolumeCreate implements server.Backend.
func (d *Daemon) VolumeCreate(ctx context.Context, req apivolume.CreateRequest) (*apivolume.Volume, error) {
	driver := req.Driver
	if driver == "" {
		driver = "local"
	}
	v, created, err := d.volumes.Create(ctx, req.Name, driver, req.Labels, req.DriverOpts)
	if err != nil {
		return nil, err
	}
	if created {
		d.emit(events.VolumeEventType, events.ActionCreate, v.Name, map[string]string{"driver": driver})
	}
	return d.volumes.ToAPI(v), nil
}

func volumeFilterOK(f server.Filters) error {
	for k := range f {
		switch k {
		case "dangling", "name", "driver", "label", "label!", "all":
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return nil
}

func labelsMatch(l map[string]string, f server.Filters) bool {
	for kv := range f["label"] {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := l[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	for kv := range f["label!"] {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := l[k]
		if ok && (!hasV || got == v) {
			return false
		}
	}
	return true
}

// VolumeList implements server.Backend.
func (d *Daemon) VolumeList(ctx context.Context, f server.Filters) (*apivolume.ListResponse, error) {
	if err := volumeFilterOK(f); err != nil {
		return nil, err
	}
	out := &apivolume.ListResponse{Volumes: []apivolume.Volume{}, Warnings: []string{}}
	for _, v := range d.volumes.List() {
		if !labelsMatch(v.Labels, f) {
			continue
		}
		if names := f.Get("name"); len(names) > 0 {
			ok := false
			for _, n := range names {
				if strings.Contains(v.Name, n) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if drv := f.Get("driver"); len(drv) > 0 && !f["driver"][v.Driver] {
			continue
		}
		if dg := f.Get("dangling"); len(dg) > 0 {
			dangling := len(d.volumes.Refs(v.Name)) == 0
			if (dg[0] == "true" || dg[0] == "1") != dangling {
				continue
			}
		}
		out.Volumes = append(out.Volumes, *d.volumes.ToAPI(v))
	}
	return out, nil
}

// VolumeInspect implements server.Backend.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (*apivolume.Volume, error) {
	v, err := d.volumes.Get(name)
	if err != nil {
		return nil, err
	}
	return d.volumes.ToAPI(v), nil
}

// VolumeRemove implements server.Backend.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	if err := d.volumes.Remove(ctx, name, force); err != nil {
		return err
	}
	d.emit(events.VolumeEventType, events.ActionDestroy, name, nil)
	return nil
}

// VolumesPrune implements server.Backend.
func (d *Daemon) VolumesPrune(ctx context.Context, f server.Filters) (*apivolume.PruneReport, error) {
	if err := volumeFilterOK(f); err != nil {
		return nil, err
	}
	all := false
	if v := f.Get("all"); len(v) > 0 && (v[0] == "true" || v[0] == "1") {
		all = true
	}
	rep, err := d.volumes.Prune(ctx, all, func(l map[string]string) bool { return labelsMatch(l, f) })
	if err != nil {
		return nil, err
	}
	for _, name := range rep.VolumesDeleted {
		d.emit(events.VolumeEventType, events.ActionDestroy, name, nil)
	}
	return rep, nil
}
