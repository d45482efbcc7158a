package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestResolve(t *testing.T) {
	objs := map[string]string{"abc123": "web", "abd456": "db", "xyz789": "web2"}
	get := func(id string) (string, error) {
		if _, ok := objs[id]; ok {
			return id, nil
		}
		return "", errors.New("no")
	}
	byName := func(name string) ([]string, error) {
		var out []string
		for id, n := range objs {
			if n == name {
				out = append(out, id)
			}
		}
		return out, nil
	}
	byPrefix := func(p string) ([]string, error) {
		var out []string
		for id := range objs {
			if strings.HasPrefix(id, p) {
				out = append(out, id)
			}
		}
		return out, nil
	}
	for _, tt := range []struct {
		in, want string
		err      func(error) bool
		msg      string
	}{
		{in: "abc123", want: "abc123"},
		{in: "db", want: "abd456"},
		{in: "xy", want: "xyz789"},
		{in: "ab", err: errdefs.IsInvalidArgument, msg: "service ab is ambiguous (2 matches found)"},
		{in: "nope", err: errdefs.IsNotFound, msg: "service nope not found"},
	} {
		got, err := resolve("service", tt.in, get, byName, byPrefix)
		if tt.err != nil {
			if err == nil || !tt.err(err) || err.Error() != tt.msg {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.msg)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// Kinds without names (tasks) go straight to prefixes.
	if got, err := resolve("task", "abd", get, nil, byPrefix); err != nil || got != "abd456" {
		t.Errorf("task prefix: %q %v", got, err)
	}
}
