package filters

import (
	"reflect"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw     string
		want    Args
		wantErr bool
	}{
		{"", Args{}, false},
		{`{}`, Args{}, false},
		{`{"label":{"a=b":true,"c":false}}`, Args{"label": {"a=b": true}}, false},
		{`{"label":["a=b","c"],"status":["exited"]}`, Args{"label": {"a=b": true, "c": true}, "status": {"exited": true}}, false},
		{`{"until":null}`, Args{"until": {}}, false},
		{`{"until":"1h"}`, nil, true},
		{`{"until":[1]}`, nil, true},
		{`[1,2]`, nil, true},
		{`{`, nil, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.raw)
		if tt.wantErr {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("Parse(%q) err = %v, want invalid argument", tt.raw, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.raw, got, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		args    Args
		allowed []string
		wantErr string
	}{
		{Args{}, nil, ""},
		{Args{"label": {"a": true}, "until": {"1h": true}}, []string{"label", "until"}, ""},
		{Args{"label": {}, "bogus": {"x": true}}, []string{"label"}, "invalid filter 'bogus'"},
		{Args{"z": {}, "a": {}}, nil, "invalid filter 'a'"},
	}
	for _, tt := range tests {
		err := tt.args.Validate(tt.allowed...)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Validate(%v) = %v", tt.args, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
			t.Errorf("Validate(%v) = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		vals    []string
		want    bool
		set     bool
		wantErr string
	}{
		{nil, false, false, ""},
		{[]string{"true"}, true, true, ""},
		{[]string{"1"}, true, true, ""},
		{[]string{"false"}, false, true, ""},
		{[]string{"0"}, false, true, ""},
		{[]string{"true", "1"}, true, true, ""},
		{[]string{"maybe"}, false, false, "invalid filter 'dangling=maybe'"},
		{[]string{"TRUE"}, false, false, "invalid filter 'dangling=TRUE'"},
		{[]string{"true", "maybe"}, false, false, "invalid filter 'dangling=maybe,true'"},
		{[]string{"true", "false"}, false, false, "invalid filter 'dangling=false,true'"},
		{[]string{}, false, false, "invalid filter 'dangling'"},
	}
	for _, tt := range tests {
		a := Args{}
		if tt.vals != nil {
			a["dangling"] = map[string]bool{}
			for _, v := range tt.vals {
				a["dangling"][v] = true
			}
		}
		got, set, err := a.Bool("dangling")
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
				t.Errorf("Bool(%v) err = %v, want %q", tt.vals, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || set != tt.set {
			t.Errorf("Bool(%v) = %v, %v, %v; want %v, %v", tt.vals, got, set, err, tt.want, tt.set)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	local := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.Local)
	}
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"24h", now.Add(-24 * time.Hour), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"10m", now.Add(-10 * time.Minute), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.5", time.Unix(1700000000, 500000000), false},
		{"1700000000.000000001", time.Unix(1700000000, 1), false},
		{"0", time.Unix(0, 0), false},
		{"2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"2024-01-02T03:04:05.123456789Z", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), false},
		{"2024-01-02T03:04:05+02:00", time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC), false},
		{"2024-01-02T03:04:05", local(2024, 1, 2, 3, 4, 5, 0), false},
		{"2024-01-02T03:04", local(2024, 1, 2, 3, 4, 0, 0), false},
		{"2024-01-02", local(2024, 1, 2, 0, 0, 0, 0), false},
		{"2024-01-02Z", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"garbage", time.Time{}, true},
		{"", time.Time{}, true},
		{"1h-", time.Time{}, true},
		{"12.", time.Time{}, true},
		{"12.3x", time.Time{}, true},
		{"12.1234567890", time.Time{}, true},
		{"2024-13-45", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if tt.wantErr {
			want := `failed to parse value as time or duration: "` + tt.in + `"`
			if err == nil || err.Error() != want || !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParseTime(%q) err = %v, want %q", tt.in, err, want)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestUntil(t *testing.T) {
	now := time.Now()
	tests := []struct {
		args    Args
		set     bool
		wantErr string
	}{
		{Args{}, false, ""},
		{Args{"until": {"1h": true}}, true, ""},
		{Args{"until": {"garbage": true}}, false, `failed to parse value as time or duration: "garbage"`},
		{Args{"until": {"1h": true, "2h": true}}, false, "more than one until filter specified"},
		{Args{"until": {}}, false, "invalid filter 'until'"},
	}
	for _, tt := range tests {
		_, set, err := tt.args.Until(now)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
				t.Errorf("Until(%v) err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || set != tt.set {
			t.Errorf("Until(%v) = %v, %v", tt.args, set, err)
		}
	}
}

func TestMatchLabels(t *testing.T) {
	labels := map[string]string{"a": "1", "b": ""}
	tests := []struct {
		args Args
		want bool
	}{
		{Args{}, true},
		{Args{"label": {"a": true}}, true},
		{Args{"label": {"a=1": true}}, true},
		{Args{"label": {"a=2": true}}, false},
		{Args{"label": {"b=": true}}, true},
		{Args{"label": {"c": true}}, false},
		{Args{"label": {"a": true, "c": true}}, false},
		{Args{"label!": {"c": true}}, true},
		{Args{"label!": {"a": true}}, false},
		{Args{"label!": {"a=2": true}}, true},
		{Args{"label!": {"a=1": true}}, false},
		{Args{"label": {"a": true}, "label!": {"b": true}}, false},
	}
	for _, tt := range tests {
		if got := tt.args.MatchLabels(labels); got != tt.want {
			t.Errorf("MatchLabels(%v) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestMatchers(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"name none", Args{}.MatchName("name", "web"), true},
		{"name exact", Args{"name": {"web": true}}.MatchName("name", "web"), true},
		{"name substring", Args{"name": {"eb": true}}.MatchName("name", "web"), true},
		{"name regexp", Args{"name": {"^w.b$": true}}.MatchName("name", "web"), true},
		{"name anchored miss", Args{"name": {"^eb": true}}.MatchName("name", "web"), false},
		{"name bad regexp", Args{"name": {"[": true}}.MatchName("name", "web"), false},
		{"name bad regexp exact", Args{"name": {"[": true}}.MatchName("name", "["), true},
		{"prefix", Args{"id": {"abc": true}}.MatchPrefix("id", "abcdef"), true},
		{"prefix miss", Args{"id": {"bcd": true}}.MatchPrefix("id", "abcdef"), false},
		{"exact", Args{"driver": {"bridge": true}}.MatchExact("driver", "host", "bridge"), true},
		{"exact miss", Args{"driver": {"bridge": true}}.MatchExact("driver", "host"), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestAtoiOneOf(t *testing.T) {
	if n, err := (Args{"exited": {"0": true, "137": true}}).Atoi("exited"); err != nil || !reflect.DeepEqual(n, []int{0, 137}) {
		t.Errorf("Atoi = %v, %v", n, err)
	}
	if _, err := (Args{"exited": {"x": true}}).Atoi("exited"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Atoi(x) err = %v", err)
	}
	if err := (Args{"status": {"running": true}}).OneOf("status", "running", "exited"); err != nil {
		t.Errorf("OneOf = %v", err)
	}
	if err := (Args{"status": {"zombie": true}}).OneOf("status", "running"); err == nil || err.Error() != "invalid filter 'status=zombie'" {
		t.Errorf("OneOf(zombie) = %v", err)
	}
}

// FuzzParse checks that Parse never panics, that every error is an invalid
// argument, and that what it accepts survives the typed accessors without
// panicking (errors are fine, they are always invalid arguments).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"until":["garbage"]}`, `{"dangling":{"maybe":true}}`, `{"label":["a=b","c"]}`,
		`{"until":{"24h":true}}`, `{"x":null}`, `{"x":1}`, `[`, `{"until":["1700000000.5"]}`,
	} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := Parse(raw)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Parse(%q) error not invalid argument: %v", raw, err)
			}
			return
		}
		for _, k := range a.Keys() {
			if _, _, err := a.Bool(k); err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Bool(%q): %v", k, err)
			}
			if _, _, err := a.Timestamp(k, now); err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Timestamp(%q): %v", k, err)
			}
			_ = a.MatchName(k, "x")
			_ = a.MatchLabels(map[string]string{"a": "b"})
		}
		if err := a.Validate(); len(a) > 0 && err == nil {
			t.Fatalf("Validate() with no allowed keys accepted %v", a)
		}
	})
}
