package rlimit

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name     string
		known    bool
		resource int
	}{
		{"nofile", true, unix.RLIMIT_NOFILE},
		{"nproc", true, unix.RLIMIT_NPROC},
		{"core", true, unix.RLIMIT_CORE},
		{"rttime", true, unix.RLIMIT_RTTIME},
		{"NOFILE", false, 0},
		{"bogus", false, 0},
		{"", false, 0},
	}
	for _, tt := range tests {
		if got := Known(tt.name); got != tt.known {
			t.Errorf("Known(%q) = %v", tt.name, got)
		}
		if !tt.known {
			continue
		}
		r, ok := Resource(SpecType(tt.name))
		if !ok || r != tt.resource {
			t.Errorf("Resource(SpecType(%q)) = %d, %v; want %d", tt.name, r, ok, tt.resource)
		}
	}
	if _, ok := Resource("NOFILE"); ok {
		t.Error("a type without the RLIMIT_ prefix resolved")
	}
	if len(byName) != 16 {
		t.Errorf("table has %d limits, want Docker's 16", len(byName))
	}
}
