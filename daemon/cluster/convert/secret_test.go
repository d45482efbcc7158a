package convert

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestSecretRoundTrip(t *testing.T) {
	created := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []swarm.SecretSpec{
		{Annotations: swarm.Annotations{Name: "pw", Labels: map[string]string{"a": "b"}}, Data: []byte("hunter2")},
		{
			Annotations: swarm.Annotations{Name: "ext", Labels: map[string]string{}},
			Driver:      &swarm.Driver{Name: "vault", Options: map[string]string{"path": "x"}},
			Templating:  &swarm.Driver{Name: "golang"},
		},
	}
	for _, in := range tests {
		g := SecretSpecToGRPC(in)
		if string(g.Data) != string(in.Data) {
			t.Errorf("SecretSpecToGRPC dropped the data: %q", g.Data)
		}
		got := SecretFromGRPC(&swarmapi.Secret{
			ID:   "s1",
			Meta: swarmapi.Meta{Version: swarmapi.Version{Index: 3}, CreatedAt: ts(t, created), UpdatedAt: ts(t, created)},
			Spec: g,
		})
		want := swarm.Secret{
			ID:   "s1",
			Meta: swarm.Meta{Version: swarm.Version{Index: 3}, CreatedAt: created, UpdatedAt: created},
			Spec: in,
		}
		want.Spec.Data = nil // never returned
		if d := diff(want, got); d != "" {
			t.Errorf("secret round trip (-want +got):\n%s", d)
		}
	}
	if d := diff(swarm.Secret{}, SecretFromGRPC(nil)); d != "" {
		t.Errorf("SecretFromGRPC(nil):\n%s", d)
	}
	if got := SecretFromGRPC(&swarmapi.Secret{}).Spec.Labels; got == nil {
		t.Error("secret labels are null, want {}")
	}
}

func TestConfigRoundTrip(t *testing.T) {
	created := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []swarm.ConfigSpec{
		{Annotations: swarm.Annotations{Name: "nginx.conf", Labels: map[string]string{"a": "b"}}, Data: []byte("server {}")},
		{Annotations: swarm.Annotations{Name: "tmpl", Labels: map[string]string{}}, Data: []byte("{{ .Service.Name }}"), Templating: &swarm.Driver{Name: "golang", Options: map[string]string{"o": "1"}}},
	}
	for _, in := range tests {
		got := ConfigFromGRPC(&swarmapi.Config{
			ID:   "c1",
			Meta: swarmapi.Meta{Version: swarmapi.Version{Index: 4}, CreatedAt: ts(t, created)},
			Spec: ConfigSpecToGRPC(in),
		})
		want := swarm.Config{ID: "c1", Meta: swarm.Meta{Version: swarm.Version{Index: 4}, CreatedAt: created}, Spec: in}
		if d := diff(want, got); d != "" {
			t.Errorf("config round trip (-want +got):\n%s", d)
		}
	}
	if d := diff(swarm.Config{}, ConfigFromGRPC(nil)); d != "" {
		t.Errorf("ConfigFromGRPC(nil):\n%s", d)
	}
}
