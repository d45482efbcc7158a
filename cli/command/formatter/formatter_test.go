package formatter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestInspectFormat(t *testing.T) {
	raws := []json.RawMessage{json.RawMessage(`{"Id":"abc","State":{"Status":"running"},"Config":{"Labels":{"x":"y"}}}`)}
	var buf bytes.Buffer
	if err := Inspect(&buf, "", raws); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "[\n    {\n") {
		t.Errorf("default = %q", buf.String())
	}
	buf.Reset()
	if err := Inspect(&buf, "{{.State.Status}} {{index .Config.Labels \"x\"}} {{json .State}}", raws); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "running y {\"Status\":\"running\"}\n" {
		t.Errorf("template = %q", buf.String())
	}
	buf.Reset()
	if err := Inspect(&buf, "", nil); err != nil || buf.String() != "[]\n" {
		t.Errorf("empty = %q %v", buf.String(), err)
	}
}

func TestEllipsisAndSizes(t *testing.T) {
	if got := Ellipsis("abcdefghijklmnopqrstuvwxyz", 20); got != "abcdefghijklmnopqrs…" {
		t.Errorf("ellipsis = %q", got)
	}
	if HumanSize(4_860_000) != "4.86MB" || HumanSize(0) != "0B" {
		t.Errorf("humanSize: %s %s", HumanSize(4_860_000), HumanSize(0))
	}
	if got := HumanAgo(fixedNow.Add(-5*time.Second), fixedNow); got != "5 seconds ago" {
		t.Errorf("humanAgo = %q", got)
	}
}
