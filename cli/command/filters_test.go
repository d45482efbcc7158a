package command

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "", want: ""},
		{in: "10m", want: "1767268200.000000000"},
		{in: "1h30m", want: "1767263400.000000000"},
		{in: "2026-01-01T11:00:00Z", want: "1767265200.000000000"},
		{in: "2026-01-01T11:00:00.5+01:00", want: "1767261600.500000000"},
		{in: "1700000000", want: "1700000000"},
		{in: "1700000000.123", want: "1700000000.123"},
		{in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp(tt.in, now)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
