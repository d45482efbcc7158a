// Package formatter renders berth's output as the docker CLI does: --format
// templates (table, json, raw), list rows and their header rows, inspect
// documents, and docker's human-readable sizes, durations and short IDs.
package formatter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
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

// Ellipsis shortens s to width n runes, ending with "…".
func Ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n || n <= 0 {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// ParseTemplate compiles a docker-style format string.
func ParseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// Template compiles a --format value for one object a line: "json" is
// {{json .}}, as docker's version, info and events take it.
func Template(format string) (*template.Template, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	return ParseTemplate(format + "\n")
}

// List renders items (format contexts) to w. format may be "" (use
// def), "json", "table …" or a raw template. headers names the column for
// each template field.
func List(w io.Writer, format, def string, headers map[string]string, items []any) error {
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
	tmpl, err := ParseTemplate(format + "\n")
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = NewTabWriter(w)
		out = tw
		var hb bytes.Buffer
		if err := tmpl.Execute(&hb, Headers(headers)); err == nil {
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

// Rows makes each item a row (a format context) for List.
func Rows[T any](items []T, row func(T) any) []any {
	rows := make([]any, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	return rows
}

// Headers is what a table template runs against for its header row:
// every field yields its column title.
type Headers map[string]string

// Label answers {{.Label "x"}} in a header.
func (h Headers) Label(name string) string { return strings.ToUpper(name) }

// Inspect prints raw JSON documents as docker inspect does: an
// indented array, or each through a template.
func Inspect(w io.Writer, format string, raws []json.RawMessage) error {
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
	tmpl, err := Template(format)
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

// HumanAgo phrases a past moment like docker: "5 seconds ago".
func HumanAgo(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// HumanSize renders a byte count as docker does ("4.86MB").
func HumanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// ShortID truncates an ID (with or without "sha256:") to 12 characters.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ID is id as a list shows it: short (ShortID) when trunc.
func ID(id string, trunc bool) string {
	if trunc {
		return ShortID(id)
	}
	return id
}

// ContextJSON marshals a format context as docker does for {{json .}}:
// every exported niladic string-returning method becomes a field.
func ContextJSON(v any, fields []string) ([]byte, error) {
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

// HumanBinary renders a byte count in binary units ("1.5GiB"), as docker
// info and stats do.
func HumanBinary(n int64) string {
	const unit = 1024
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// NewTabWriter is the column writer of docker's tables.
func NewTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// Labels renders labels as docker's {{.Labels}}: "k=v" pairs, sorted,
// comma-separated.
func Labels(labels map[string]string) string {
	kv := make([]string, 0, len(labels))
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
