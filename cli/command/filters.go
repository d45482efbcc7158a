package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// FilterArgs turns --filter key=value flags into API filters.
func FilterArgs(list []string) (client.Filters, error) {
	f := client.Filters{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), v)
	}
	return f, nil
}

// ParseKeyValues turns ["a=b", "c"] into a map (value "" for bare keys),
// nil for no values.
func ParseKeyValues(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// ParseTimestamp accepts what docker's --since/--until accept: RFC3339
// (with or without zone), a date, a Unix timestamp, or a duration ("10m")
// counted back from now. It returns the API's "seconds.nanoseconds" form.
func ParseTimestamp(value string, now time.Time) (string, error) {
	if value == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(value); err == nil {
		t := now.Add(-d)
		return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()), nil
	}
	layouts := []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", "2006-01-02T15:04:05.999999999"}
	for _, l := range layouts {
		var t time.Time
		var err error
		if strings.ContainsAny(l, "Z") || l == time.RFC3339 || l == time.RFC3339Nano {
			t, err = time.Parse(l, value)
		} else {
			t, err = time.ParseInLocation(l, value, time.Local)
		}
		if err == nil {
			return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()), nil
		}
	}
	// Unix seconds, optionally with a fraction.
	sec, frac, _ := strings.Cut(value, ".")
	if sec != "" && strings.Trim(sec, "0123456789") == "" && strings.Trim(frac, "0123456789") == "" {
		return value, nil
	}
	return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
}

// TimeRange parses --since and --until (see ParseTimestamp) against one
// "now".
func TimeRange(since, until string) (string, string, error) {
	now := time.Now()
	s, err := ParseTimestamp(since, now)
	if err != nil {
		return "", "", err
	}
	u, err := ParseTimestamp(until, now)
	if err != nil {
		return "", "", err
	}
	return s, u, nil
}
