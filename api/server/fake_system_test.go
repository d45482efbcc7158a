package server

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
)

func (f *fakeBackend) SystemInfo(ctx context.Context) (*system.Info, error) {
	f.hit("SystemInfo")
	return &system.Info{ID: "fake", Containers: 1, OSType: "linux", Name: "fakehost"}, nil
}

func (f *fakeBackend) SystemVersion(ctx context.Context) system.VersionResponse {
	f.hit("SystemVersion")
	return system.VersionResponse{Version: "28.2.0", APIVersion: APIVersion, MinAPIVersion: MinAPIVersion, Os: "linux", Arch: "amd64",
		Components: []system.ComponentVersion{{Name: "Engine", Version: "28.2.0"}}}
}

func (f *fakeBackend) SubscribeEvents(ctx context.Context, since, until time.Time, fl Filters, live bool) ([]events.Message, <-chan events.Message, func()) {
	f.hit("SubscribeEvents")
	past := []events.Message{{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "c1"}}}
	if !live {
		return past, nil, func() {}
	}
	ch := make(chan events.Message, 1)
	ch <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "c1"}}
	close(ch)
	return past, ch, func() {}
}
