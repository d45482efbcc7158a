// Package filters parses and validates the `filters` query parameter of the
// Engine API list and prune endpoints, the way dockerd does.
//
// Parse decodes both forms docker clients send ({"k":{"v":true}} and the
// legacy {"k":["v"]}). Endpoints then call Validate with their allowed keys
// and read values only through the typed accessors (Bool, Until, Timestamp,
// Atoi), each of which rejects a malformed value with
// errdefs.ErrInvalidArgument before the caller acts on it — so a prune can
// never read a garbage value as "no filter" and delete everything. The
// matchers (MatchLabels, MatchName, MatchPrefix, MatchExact) hold Docker's
// matching rules in one place. The package knows nothing of HTTP.
package filters

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Args is a decoded filters parameter: key → set of values.
type Args map[string]map[string]bool

// invalid is Docker's "invalid filter 'key[=values]'" error.
func invalid(key string, values ...string) error {
	msg := "invalid filter '" + key
	if len(values) > 0 {
		msg += "=" + strings.Join(values, ",")
	}
	return errdefs.ErrInvalidArgument.WithMessage(msg + "'")
}

// Parse decodes raw, the JSON of the filters query parameter. An empty raw
// is no filter. Values set to false in the map form are dropped, as dockerd
// does.
func Parse(raw string) (Args, error) {
	a := Args{}
	if raw == "" {
		return a, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid filter: " + err.Error())
	}
	for key, v := range fields {
		set := map[string]bool{}
		var asMap map[string]bool
		var asList []string
		switch {
		case string(v) == "null":
		case json.Unmarshal(v, &asMap) == nil:
			for val, on := range asMap {
				if on {
					set[val] = true
				}
			}
		case json.Unmarshal(v, &asList) == nil:
			for _, val := range asList {
				set[val] = true
			}
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: invalid value for %q", key))
		}
		a[key] = set
	}
	return a, nil
}

// Validate fails with "invalid filter 'KEY'" for the first (in sorted
// order) key not in allowed.
func (a Args) Validate(allowed ...string) error {
	ok := make(map[string]bool, len(allowed))
	for _, k := range allowed {
		ok[k] = true
	}
	for _, k := range a.Keys() {
		if !ok[k] {
			return invalid(k)
		}
	}
	return nil
}

// Keys returns the filter keys, sorted.
func (a Args) Keys() []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether key was given (even with no values).
func (a Args) Has(key string) bool {
	_, ok := a[key]
	return ok
}

// Get returns the values given for key, sorted.
func (a Args) Get(key string) []string {
	out := make([]string, 0, len(a[key]))
	for v := range a[key] {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Bool reads a boolean filter such as dangling: only true/false/1/0 are
// accepted and several values must agree. set is false when key is absent.
func (a Args) Bool(key string) (value, set bool, err error) {
	vals, ok := a[key]
	if !ok {
		return false, false, nil
	}
	var sawTrue, sawFalse bool
	for v := range vals {
		switch v {
		case "true", "1":
			sawTrue = true
		case "false", "0":
			sawFalse = true
		default:
			return false, false, invalid(key, a.Get(key)...)
		}
	}
	if sawTrue == sawFalse {
		return false, false, invalid(key, a.Get(key)...)
	}
	return sawTrue, true, nil
}

// Atoi reads every value of key as an integer (e.g. exited=0).
func (a Args) Atoi(key string) ([]int, error) {
	var out []int
	for _, v := range a.Get(key) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		out = append(out, n)
	}
	return out, nil
}

// OneOf fails with "invalid filter 'key=value'" for a value of key not in
// allowed.
func (a Args) OneOf(key string, allowed ...string) error {
	for _, v := range a.Get(key) {
		found := false
		for _, x := range allowed {
			found = found || v == x
		}
		if !found {
			return invalid(key, v)
		}
	}
	return nil
}

// Until reads the single `until` value of a prune as a time (see
// Timestamp). set is false when there is no until filter.
func (a Args) Until(now time.Time) (t time.Time, set bool, err error) {
	return a.Timestamp("until", now)
}

// Timestamp reads the single value of key (until, since, before in their
// timestamp forms) relative to now. More than one value is an error, as in
// dockerd ("more than one until filter specified").
func (a Args) Timestamp(key string, now time.Time) (t time.Time, set bool, err error) {
	vals := a.Get(key)
	if !a.Has(key) {
		return time.Time{}, false, nil
	}
	switch len(vals) {
	case 0:
		return time.Time{}, false, invalid(key)
	case 1:
	default:
		return time.Time{}, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("more than one %s filter specified", key))
	}
	t, err = ParseTime(vals[0], now)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// timeLayouts are the RFC3339 variants Docker accepts, longest first.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999",
	time.RFC3339, "2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04",
	"2006-01-02Z07:00", "2006-01-02",
}

// ParseTime reads a Docker time value relative to now: a Go duration
// ("24h", "90m": that long before now), an RFC3339 date or date-time with
// or without fractional seconds and zone (no zone = local time), or Unix
// seconds with an optional fraction ("1700000000.5"). Anything else is
// errdefs.ErrInvalidArgument with dockerd's wording.
func ParseTime(value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); err == nil && value != "0" {
		return now.Add(-d), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, value, time.Local); err == nil {
			return t, nil
		}
	}
	if t, ok := parseUnix(value); ok {
		return t, nil
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to parse value as time or duration: %q", value))
}

// parseUnix reads "SECONDS" or "SECONDS.FRACTION" (up to nanoseconds).
func parseUnix(value string) (time.Time, bool) {
	secPart, frac, hasFrac := strings.Cut(value, ".")
	if secPart == "" || strings.HasPrefix(secPart, "+") {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		if frac == "" || len(frac) > 9 || strings.TrimLeft(frac, "0123456789") != "" {
			return time.Time{}, false
		}
		nsec, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if strings.HasPrefix(secPart, "-") {
			nsec = -nsec
		}
	}
	return time.Unix(sec, nsec), true
}

// MatchLabels applies `label` (every "key" or "key=value" must be present)
// and `label!` (none may be) to labels.
func (a Args) MatchLabels(labels map[string]string) bool {
	for kv := range a["label"] {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	for kv := range a["label!"] {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := labels[k]
		if ok && (!hasV || got == v) {
			return false
		}
	}
	return true
}

// MatchName reports whether s matches one of key's values exactly or as a
// regular expression (an invalid expression matches nothing), as dockerd's
// name filters do. No values match everything.
func (a Args) MatchName(key, s string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	if vals[s] {
		return true
	}
	for v := range vals {
		if re, err := regexp.Compile(v); err == nil && re.MatchString(s) {
			return true
		}
	}
	return false
}

// MatchPrefix reports whether s starts with one of key's values (IDs).
// No values match everything.
func (a Args) MatchPrefix(key, s string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	for v := range vals {
		if strings.HasPrefix(s, v) {
			return true
		}
	}
	return false
}

// MatchExact reports whether one of ss is one of key's values. No values
// match everything.
func (a Args) MatchExact(key string, ss ...string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	for _, s := range ss {
		if vals[s] {
			return true
		}
	}
	return false
}
