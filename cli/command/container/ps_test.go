package container

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/cli/command"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sampleContainers() []containertypes.Summary {
	return []containertypes.Summary{
		{
			ID: "4a9b8c7d6e5f00112233445566778899aabbccddeeff00112233445566778899", Names: []string{"/web"},
			Image: "nginx:latest", Command: "/docker-entrypoint.sh nginx -g 'daemon off;'", Created: fixedNow.Add(-5 * time.Second).Unix(),
			Status: "Up 4 seconds", State: "running", Labels: map[string]string{"app": "web"},
			Ports: []containertypes.PortSummary{{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 443, Type: "tcp"}},
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

func TestStatsRow(t *testing.T) {
	var v containertypes.StatsResponse
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

// renderPs renders items as `ps` would with these flags.
func renderPs(w io.Writer, items []containertypes.Summary, format string, quiet, size, trunc bool, now time.Time) error {
	o := command.ListOptions{Format: format, Quiet: quiet, NoTrunc: !trunc, DefaultFormat: psDefaultFormat(size)}
	return psList.Render(w, o, psRows(items, trunc, now))
}
