package portrange

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in         string
		start, end uint16
		ok         bool
	}{
		{"80", 80, 80, true},
		{"0", 0, 0, true},
		{"65535", 65535, 65535, true},
		{"8000-8010", 8000, 8010, true},
		{"80-80", 80, 80, true},
		{"8010-8000", 0, 0, false},
		{"65536", 0, 0, false},
		{"1-65536", 0, 0, false},
		{"", 0, 0, false},
		{"-1", 0, 0, false},
		{"a", 0, 0, false},
		{"80-", 0, 0, false},
		{"80-90-100", 0, 0, false},
	}
	for _, tt := range tests {
		s, e, err := Parse(tt.in)
		if (err == nil) != tt.ok || s != tt.start || e != tt.end {
			t.Errorf("Parse(%q) = %d, %d, %v", tt.in, s, e, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"80", "1-2", "65535", "x", "9-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b, err := Parse(s)
		if err == nil && a > b {
			t.Fatalf("Parse(%q) = %d > %d", s, a, b)
		}
	})
}
