package executor

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/api/backend"
)

// imageEngine is an engine with an image store only: names (and IDs)
// to image IDs, what a registry would give, and a log of what was done.
type imageEngine struct {
	Engine   // nil: only the image methods are called
	names    map[string]string
	registry map[string]string // reference → ID a pull gives
	calls    []string
}

func (e *imageEngine) ImageInspect(_ context.Context, name string) (*image.InspectResponse, error) {
	if id, ok := e.names[name]; ok {
		return &image.InspectResponse{ID: id}, nil
	}
	for _, id := range e.names {
		if id == name {
			return &image.InspectResponse{ID: id}, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage("No such image: " + name)
}

func (e *imageEngine) ImagePull(_ context.Context, ref, _, _ string, out func(backend.ProgressMessage)) error {
	e.calls = append(e.calls, "pull "+ref)
	id, ok := e.registry[ref]
	if !ok {
		out(backend.ProgressMessage{Error: "pull access denied for " + ref})
		return nil
	}
	e.names[ref] = id
	return nil
}

func (e *imageEngine) ImageTag(_ context.Context, source, repo, tag string) error {
	e.calls = append(e.calls, "tag "+repo+":"+tag)
	e.names[repo+":"+tag] = source
	return nil
}

func (e *imageEngine) ImageDelete(_ context.Context, name string, _, _ bool) ([]image.DeleteResponse, error) {
	e.calls = append(e.calls, "delete "+name)
	for k, id := range e.names {
		if id == name {
			delete(e.names, k)
		}
	}
	return nil, nil
}

// peers is a swarm of other nodes as an ImageFetcher sees it: which
// node has which image IDs.
type peers struct {
	e     *imageEngine
	nodes []string
	have  map[string][]string // node → IDs
}

func (p *peers) FetchImage(_ context.Context, id string) (string, error) {
	for _, n := range p.nodes {
		p.e.calls = append(p.e.calls, "ask "+n)
		for _, h := range p.have[n] {
			if h == id {
				p.e.names[id] = id // loaded by ID, untagged
				return n, nil
			}
		}
	}
	return "", errors.New("no other node of the swarm has the image")
}

const (
	idWeb   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	idOther = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestEnsureImage(t *testing.T) {
	pinned := map[string]string{LabelImageID: idWeb}
	tests := []struct {
		name      string
		spec      *swarmapi.ContainerSpec
		names     map[string]string
		registry  map[string]string
		swarm     map[string][]string
		want      string // the name the container is created with
		wantErr   string
		wantCalls []string
		wantNames map[string]string // when set, the store afterwards
	}{
		{
			name: "unpinned and here", spec: &swarmapi.ContainerSpec{Image: "web:v1"},
			names: map[string]string{"web:v1": idWeb}, want: "web:v1",
		},
		{
			name: "unpinned: the registry, never the swarm", spec: &swarmapi.ContainerSpec{Image: "web:v1"},
			names: map[string]string{}, swarm: map[string][]string{"n1": {idWeb}},
			wantErr: "No such image: web:v1", wantCalls: []string{"pull web:v1"},
		},
		{
			name: "unpinned: pulled", spec: &swarmapi.ContainerSpec{Image: "web:v1"},
			names: map[string]string{}, registry: map[string]string{"web:v1": idWeb},
			want: "web:v1", wantCalls: []string{"pull web:v1"},
		},
		{
			name: "pinned and here by name", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{"web:v1": idWeb}, swarm: map[string][]string{"n1": {idWeb}}, want: "web:v1",
		},
		{
			name: "pinned, here by ID only: tagged", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{"<none>": idWeb}, want: "web:v1", wantCalls: []string{"tag web:v1"},
		},
		{
			name: "pinned: asked of the nodes in order, then tagged", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{}, swarm: map[string][]string{"n1": {idOther}, "n2": {idWeb}, "n3": {idWeb}},
			registry:  map[string]string{"web:v1": idWeb},
			want:      "web:v1",
			wantCalls: []string{"ask n1", "ask n2", "tag web:v1"},
			wantNames: map[string]string{idWeb: idWeb, "web:v1": idWeb},
		},
		{
			name: "pinned, the name is another image here: its own (Docker's way)", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{"web:v1": idOther}, swarm: map[string][]string{"n1": {idWeb}}, registry: map[string]string{"web:v1": idWeb},
			want: "web:v1",
		},
		{
			name: "pinned, fetched, the ref a digest: by ID", spec: &swarmapi.ContainerSpec{Image: "web@sha256:3333333333333333333333333333333333333333333333333333333333333333", Labels: pinned},
			names: map[string]string{}, swarm: map[string][]string{"n1": {idWeb}},
			want: idWeb, wantCalls: []string{"ask n1"},
		},
		{
			name: "pinned, nobody has it: the registry's, when it is that image", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{}, registry: map[string]string{"web:v1": idWeb},
			want: "web:v1", wantCalls: []string{"ask n1", "pull web:v1"},
		},
		{
			name: "pinned, the registry has another image of the name: refused and removed", spec: &swarmapi.ContainerSpec{Image: "web:v1", Labels: pinned},
			names: map[string]string{}, registry: map[string]string{"web:v1": idOther},
			wantErr: "No such image: web:v1", wantCalls: []string{"ask n1", "pull web:v1", "delete " + idOther},
			wantNames: map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &imageEngine{names: tc.names, registry: tc.registry}
			p := &peers{e: e, nodes: []string{"n1", "n2", "n3"}, have: tc.swarm}
			if tc.swarm == nil {
				p.nodes = []string{"n1"}
			}
			c := &controller{e: &Executor{engine: e, images: p}}
			got, err := c.ensureImage(context.Background(), tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("image %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(e.calls, tc.wantCalls) {
				t.Errorf("calls %q, want %q", e.calls, tc.wantCalls)
			}
			if tc.wantNames != nil && !reflect.DeepEqual(e.names, tc.wantNames) {
				t.Errorf("store %v, want %v", e.names, tc.wantNames)
			}
		})
	}
}
