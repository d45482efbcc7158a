package server

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

func (f *fakeBackend) NetworkList(ctx context.Context, fl Filters) ([]network.Summary, error) {
	f.hit("NetworkList")
	return []network.Summary{}, nil
}

func (f *fakeBackend) NetworkInspect(ctx context.Context, name string) (*network.Inspect, error) {
	f.hit("NetworkInspect")
	return nil, fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	f.hit("NetworkCreate")
	return &network.CreateResponse{ID: "n1"}, nil
}

func (f *fakeBackend) NetworkRemove(ctx context.Context, name string) error {
	f.hit("NetworkRemove")
	return nil
}

func (f *fakeBackend) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	f.hit("NetworkConnect")
	return nil
}

func (f *fakeBackend) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	f.hit("NetworkDisconnect")
	return nil
}

func (f *fakeBackend) NetworksPrune(ctx context.Context, fl Filters) (*network.PruneReport, error) {
	f.hit("NetworksPrune")
	return &network.PruneReport{}, nil
}
