package server

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"
)

func (f *fakeBackend) VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error) {
	f.hit("VolumeCreate")
	return &volume.Volume{Name: req.Name, Driver: "local"}, nil
}

func (f *fakeBackend) VolumeList(ctx context.Context, fl Filters) (*volume.ListResponse, error) {
	f.hit("VolumeList")
	return &volume.ListResponse{Volumes: []volume.Volume{{Name: "v1", Driver: "local"}}, Warnings: []string{}}, nil
}

func noVolume(name string) error {
	if name == "v1" {
		return nil
	}
	return fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) VolumeInspect(ctx context.Context, name string) (*volume.Volume, error) {
	f.hit("VolumeInspect")
	if err := noVolume(name); err != nil {
		return nil, err
	}
	return &volume.Volume{Name: name, Driver: "local"}, nil
}

func (f *fakeBackend) VolumeRemove(ctx context.Context, name string, force bool) error {
	f.hit("VolumeRemove")
	return noVolume(name)
}

func (f *fakeBackend) VolumesPrune(ctx context.Context, fl Filters) (*volume.PruneReport, error) {
	f.hit("VolumesPrune")
	return &volume.PruneReport{}, nil
}
