package cluster

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/daemon/cluster/gossip"
	"github.com/berth-project/berth/daemon/cluster/imageshare"
)

func TestImagePin(t *testing.T) {
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const old = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	localOnly := &image.InspectResponse{ID: id}
	pulled := &image.InspectResponse{ID: id, RepoDigests: []string{"web@sha256:3333333333333333333333333333333333333333333333333333333333333333"}}
	tests := []struct {
		name             string
		ref              string
		local            *image.InspectResponse
		prevRef, prevPin string
		want             string
	}{
		{"local only: pinned to its ID", "web:v1", localOnly, "", "", id},
		{"a registry gave it: not pinned", "web:v1", pulled, "", "", ""},
		{"a digest in the reference: pinned already", "web:v1@sha256:3333333333333333333333333333333333333333333333333333333333333333", localOnly, "", "", ""},
		{"not on this manager: not pinned", "web:v1", nil, "", "", ""},
		{"update, not on this manager, same reference: the pin stays", "web:v1", nil, "web:v1", old, old},
		{"update, not on this manager, another reference: no pin", "web:v2", nil, "web:v1", old, ""},
		{"update, rebuilt here: the new ID", "web:v1", localOnly, "web:v1", old, id},
		{"not a reference", "Web!", localOnly, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := imagePin(tc.ref, tc.local, tc.prevRef, tc.prevPin); got != tc.want {
				t.Errorf("pin %q, want %q", got, tc.want)
			}
		})
	}
}

func TestImagePeersOf(t *testing.T) {
	recs := []gossip.Record{
		{Node: "a", Images: "10.0.0.1:2378"},
		{Node: "b"}, // not serving
		{Node: "c", Images: "10.0.0.3:2378"},
		{Node: "self", Images: "10.0.0.9:2378"},
	}
	want := []imageshare.Peer{{Node: "a", Addr: "10.0.0.1:2378"}, {Node: "c", Addr: "10.0.0.3:2378"}}
	if got := imagePeersOf(recs, "self"); !reflect.DeepEqual(got, want) {
		t.Errorf("peers %v", got)
	}
}

func TestFetchImageWithoutPeers(t *testing.T) {
	p := &imagePeers{fetcher: imageshare.NewFetcher(nil, nil, nil)}
	p.setMode(shareOff)
	start := time.Now()
	_, err := p.FetchImage(context.Background(), "sha256:1111111111111111111111111111111111111111111111111111111111111111")
	if !errors.Is(err, imageshare.ErrNotShared) {
		t.Errorf("err %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("a one-host swarm waited %s for image servers", time.Since(start))
	}
	// Unknown yet (the data path not found): waits, until the caller gives up.
	p.setMode(shareUnknown)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := p.FetchImage(ctx, "sha256:1111111111111111111111111111111111111111111111111111111111111111"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
}
