package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	units "github.com/docker/go-units"
)

// templateFuncs are the helpers docker's --format templates offer.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string { return truncRunes(s, n) },
	"println":  fmt.Sprintln,
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ellipsis shortens s to width n runes, ending with "…".
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n || n <= 0 {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// parseTemplate compiles a docker-style format string.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// listFormat renders items (format contexts) to w. format may be "" (use
// def), "json", "table …" or a raw template. headers names the column for
// each template field.
func listFormat(w io.Writer, format, def string, headers map[string]string, items []any) error {
	if format == "" {
		format = def
	}
	if format == "json" {
		format = "{{json .}}"
	}
	table := false
	if strings.HasPrefix(format, "table") {
		table = true
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
		if format == "" {
			format = strings.TrimSpace(strings.TrimPrefix(def, "table"))
		}
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := parseTemplate(format + "\n")
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		var hb bytes.Buffer
		if err := tmpl.Execute(&hb, headerContext(headers)); err == nil {
			_, _ = out.Write(hb.Bytes())
		}
	}
	for _, it := range items {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, it); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		if _, err := out.Write(b.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// headerContext is what a table template runs against for its header row:
// every field yields its column title.
type headerContext map[string]string

// Label answers {{.Label "x"}} in a header.
func (h headerContext) Label(name string) string { return strings.ToUpper(name) }

// inspectFormat prints raw JSON documents as docker inspect does: an
// indented array, or each through a template.
func inspectFormat(w io.Writer, format string, raws []json.RawMessage) error {
	if format == "" {
		var docs []any
		for _, r := range raws {
			var v any
			if err := json.Unmarshal(r, &v); err != nil {
				return fmt.Errorf("decode inspect result: %w", err)
			}
			docs = append(docs, v)
		}
		if docs == nil {
			docs = []any{}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		if err := enc.Encode(docs); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	if format == "json" {
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format + "\n")
	if err != nil {
		return err
	}
	for _, r := range raws {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return fmt.Errorf("decode inspect result: %w", err)
		}
		if err := tmpl.Execute(w, v); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return nil
}

// humanAgo phrases a past moment like docker: "5 seconds ago".
func humanAgo(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// humanSize renders a byte count as docker does ("4.86MB").
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// shortID truncates an ID (with or without "sha256:") to 12 characters.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// contextJSON marshals a format context as docker does for {{json .}}:
// every exported niladic string-returning method becomes a field.
func contextJSON(v any, fields []string) ([]byte, error) {
	m := map[string]any{}
	rv := reflect.ValueOf(v)
	for _, f := range fields {
		meth := rv.MethodByName(f)
		if !meth.IsValid() || meth.Type().NumIn() != 0 {
			continue
		}
		m[f] = meth.Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}

// parseTimestamp accepts what docker's --since/--until accept: RFC3339
// (with or without zone), a date, a Unix timestamp, or a duration ("10m")
// counted back from now. It returns the API's "seconds.nanoseconds" form.
func parseTimestamp(value string, now time.Time) (string, error) {
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
