package executor

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/mount"
)

func TestEngineSocketMounts(t *testing.T) {
	bind := func(src string) mount.Mount {
		return mount.Mount{Type: mount.TypeBind, Source: src, Target: "/var/run/docker.sock"}
	}
	vol := mount.Mount{Type: mount.TypeVolume, Source: "/var/run/docker.sock", Target: "/data"}
	tests := []struct {
		name   string
		socket string
		in     []mount.Mount
		want   []mount.Mount
	}{
		{"Docker's socket becomes the engine's", "/run/berth/berth.sock",
			[]mount.Mount{bind("/var/run/docker.sock"), bind("/run/docker.sock"), bind("/var/run//docker.sock")},
			[]mount.Mount{bind("/run/berth/berth.sock"), bind("/run/berth/berth.sock"), bind("/run/berth/berth.sock")}},
		{"other binds and volumes untouched", "/run/berth/berth.sock",
			[]mount.Mount{bind("/srv/docker.sock"), vol},
			[]mount.Mount{bind("/srv/docker.sock"), vol}},
		{"no engine socket", "",
			[]mount.Mount{bind("/var/run/docker.sock")},
			[]mount.Mount{bind("/var/run/docker.sock")}},
		{"the engine listens on Docker's socket", "/var/run/docker.sock",
			[]mount.Mount{bind("/run/docker.sock")},
			[]mount.Mount{bind("/run/docker.sock")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engineSocketMounts(tt.in, tt.socket, func(string) bool { return false })
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("got %+v, want %+v", tt.in, tt.want)
			}
		})
	}
}
