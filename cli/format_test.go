package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sampleContainers() []container.Summary {
	return []container.Summary{
		{
			ID: "4a9b8c7d6e5f00112233445566778899aabbccddeeff00112233445566778899", Names: []string{"/web"},
			Image: "nginx:latest", Command: "/docker-entrypoint.sh nginx -g 'daemon off;'", Created: fixedNow.Add(-5 * time.Second).Unix(),
			Status: "Up 4 seconds", State: "running", Labels: map[string]string{"app": "web"},
			Ports: []container.PortSummary{{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 443, Type: "tcp"}},
		},
		{
			ID: "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", Names: []string{"/db"},
			Image: "sha256:deadbeefcafe0123456789", ImageID: "sha256:deadbeefcafe0123456789", Command: "sleep 1", Created: fixedNow.Add(-2 * time.Hour).Unix(),
			Status: "Exited (0) 1 hour ago", State: "exited",
		},
	}
}

func TestRenderPs(t *testing.T) {
	var buf bytes.Buffer
	if err := renderPs(&buf, sampleContainers(), "", false, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                  PORTS                           NAMES\n" +
		"4a9b8c7d6e5f   nginx:latest   \"/docker-entrypoint.…\"   5 seconds ago   Up 4 seconds            0.0.0.0:8080->80/tcp, 443/tcp   web\n" +
		"0123456789ab   deadbeefcafe   \"sleep 1\"                2 hours ago     Exited (0) 1 hour ago                                   db\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	tests := []struct {
		format string
		quiet  bool
		want   string
	}{
		{quiet: true, want: "4a9b8c7d6e5f\n0123456789ab\n"},
		{format: "{{.Names}} {{.State}}", want: "web running\ndb exited\n"},
		{format: `{{.Label "app"}}|{{.Labels}}`, want: "web|app=web\n|\n"},
		{format: "table {{.ID}}\t{{.Names}}", want: "CONTAINER ID   NAMES\n4a9b8c7d6e5f   web\n0123456789ab   db\n"},
		{format: `{{.Names}}\t{{.Image}}`, want: "web\tnginx:latest\ndb\tdeadbeefcafe\n"},
	}
	for _, tt := range tests {
		buf.Reset()
		if err := renderPs(&buf, sampleContainers(), tt.format, tt.quiet, false, true, fixedNow); err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if buf.String() != tt.want {
			t.Errorf("%q: got %q want %q", tt.format, buf.String(), tt.want)
		}
	}

	buf.Reset()
	if err := renderPs(&buf, sampleContainers()[:1], "json", false, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("json output %q: %v", buf.String(), err)
	}
	if m["Names"] != "web" || m["ID"] != "4a9b8c7d6e5f" || m["Ports"] != "0.0.0.0:8080->80/tcp, 443/tcp" {
		t.Errorf("json = %v", m)
	}
	if err := renderPs(&buf, nil, "{{.Nope", false, false, true, fixedNow); err == nil {
		t.Error("want template parse error")
	}
}

func TestRenderImages(t *testing.T) {
	imgs := []image.Summary{
		{ID: "sha256:aaaaaaaaaaaa1111", RepoTags: []string{"busybox:latest", "busybox:1.36"}, Created: fixedNow.Add(-3 * 24 * time.Hour).Unix(), Size: 4_860_000, Containers: -1, SharedSize: -1},
		{ID: "sha256:bbbbbbbbbbbb2222", Created: fixedNow.Add(-time.Minute).Unix(), Size: 1234},
	}
	var buf bytes.Buffer
	if err := renderImages(&buf, imgs, "", false, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\n" +
		"<none>       <none>    bbbbbbbbbbbb   About a minute ago   1.23kB\n" +
		"busybox      latest    aaaaaaaaaaaa   3 days ago           4.86MB\n" +
		"busybox      1.36      aaaaaaaaaaaa   3 days ago           4.86MB\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := renderImages(&buf, imgs, "", true, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "bbbbbbbbbbbb\naaaaaaaaaaaa\n" {
		t.Errorf("quiet = %q", buf.String())
	}
	buf.Reset()
	if err := renderImages(&buf, imgs, "{{.Repository}}:{{.Tag}} {{.Size}}", false, false, false, fixedNow); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "<none>:<none> 1.23kB\nbusybox:latest 4.86MB\nbusybox:1.36 4.86MB\n" {
		t.Errorf("template = %q", buf.String())
	}
}

func TestSplitRepoTag(t *testing.T) {
	for in, want := range map[string][2]string{
		"busybox:latest":         {"busybox", "latest"},
		"localhost:5000/a/b:1.0": {"localhost:5000/a/b", "1.0"},
		"localhost:5000/a":       {"localhost:5000/a", "<none>"},
		"<none>:<none>":          {"<none>", "<none>"},
	} {
		r, tg := splitRepoTag(in)
		if r != want[0] || tg != want[1] {
			t.Errorf("%q = %q %q", in, r, tg)
		}
	}
}

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
		got, err := parseTimestamp(tt.in, now)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInspectFormat(t *testing.T) {
	raws := []json.RawMessage{json.RawMessage(`{"Id":"abc","State":{"Status":"running"},"Config":{"Labels":{"x":"y"}}}`)}
	var buf bytes.Buffer
	if err := inspectFormat(&buf, "", raws); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "[\n    {\n") {
		t.Errorf("default = %q", buf.String())
	}
	buf.Reset()
	if err := inspectFormat(&buf, "{{.State.Status}} {{index .Config.Labels \"x\"}} {{json .State}}", raws); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "running y {\"Status\":\"running\"}\n" {
		t.Errorf("template = %q", buf.String())
	}
	buf.Reset()
	if err := inspectFormat(&buf, "", nil); err != nil || buf.String() != "[]\n" {
		t.Errorf("empty = %q %v", buf.String(), err)
	}
}

func TestEllipsisAndSizes(t *testing.T) {
	if got := ellipsis("abcdefghijklmnopqrstuvwxyz", 20); got != "abcdefghijklmnopqrs…" {
		t.Errorf("ellipsis = %q", got)
	}
	if humanSize(4_860_000) != "4.86MB" || humanSize(0) != "0B" {
		t.Errorf("humanSize: %s %s", humanSize(4_860_000), humanSize(0))
	}
	if got := humanAgo(fixedNow.Add(-5*time.Second), fixedNow); got != "5 seconds ago" {
		t.Errorf("humanAgo = %q", got)
	}
}

func TestStatsRow(t *testing.T) {
	var v container.StatsResponse
	v.ID, v.Name = "0123456789abcdef", "/web"
	v.CPUStats.CPUUsage.TotalUsage = 2_000
	v.PreCPUStats.CPUUsage.TotalUsage = 1_000
	v.CPUStats.SystemUsage = 20_000
	v.PreCPUStats.SystemUsage = 10_000
	v.CPUStats.OnlineCPUs = 2
	v.MemoryStats.Usage = 110 << 20
	v.MemoryStats.Stats = map[string]uint64{"inactive_file": 10 << 20}
	v.MemoryStats.Limit = 1 << 30
	v.PidsStats.Current = 3
	s := statsRow("web", v)
	if s.CPUPerc() != "20.00%" || s.MemUsage() != "100MiB / 1GiB" || s.MemPerc() != "9.77%" || s.PIDs() != "3" || s.Name() != "web" || s.ID() != "0123456789ab" {
		t.Errorf("row = %s %s %s %s %s", s.CPUPerc(), s.MemUsage(), s.MemPerc(), s.PIDs(), s.Name())
	}
}
