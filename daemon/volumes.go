package daemon

import (
	"context"

	"github.com/moby/moby/api/types/events"
	apivolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/api/backend"
)

// VolumeCreate implements backend.Backend.
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

// VolumeList implements backend.Backend.
func (d *Daemon) VolumeList(ctx context.Context, f backend.Filters) (*apivolume.ListResponse, error) {
	if err := f.Validate("dangling", "name", "driver", "label", "label!"); err != nil {
		return nil, err
	}
	dangling, hasDangling, err := f.Bool("dangling")
	if err != nil {
		return nil, err
	}
	out := &apivolume.ListResponse{Volumes: []apivolume.Volume{}, Warnings: []string{}}
	for _, v := range d.volumes.List() {
		if !f.MatchLabels(v.Labels) || !f.MatchName("name", v.Name) || !f.MatchExact("driver", v.Driver) {
			continue
		}
		if hasDangling && dangling != (len(d.volumes.Refs(v.Name)) == 0) {
			continue
		}
		out.Volumes = append(out.Volumes, *d.volumes.ToAPI(v))
	}
	return out, nil
}

// VolumeInspect implements backend.Backend.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (*apivolume.Volume, error) {
	v, err := d.volumes.Get(name)
	if err != nil {
		return nil, err
	}
	return d.volumes.ToAPI(v), nil
}

// VolumeRemove implements backend.Backend.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	if err := d.volumes.Remove(ctx, name, force); err != nil {
		return err
	}
	d.emit(events.VolumeEventType, events.ActionDestroy, name, nil)
	return nil
}

// VolumesPrune implements backend.Backend.
func (d *Daemon) VolumesPrune(ctx context.Context, f backend.Filters) (*apivolume.PruneReport, error) {
	// Every value is validated before the first removal.
	if err := f.Validate("label", "label!", "all"); err != nil {
		return nil, err
	}
	all, _, err := f.Bool("all")
	if err != nil {
		return nil, err
	}
	rep, err := d.volumes.Prune(ctx, all, f.MatchLabels)
	if err != nil {
		return nil, err
	}
	for _, name := range rep.VolumesDeleted {
		d.emit(events.VolumeEventType, events.ActionDestroy, name, nil)
	}
	return rep, nil
}
