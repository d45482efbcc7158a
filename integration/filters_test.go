package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// TestPruneRejectsMalformedFilters checks that a malformed filter value or
// an unknown filter key makes a prune fail with 400 and delete nothing —
// through the docker CLI and through raw HTTP — while a valid until still
// prunes.
func TestPruneRejectsMalformedFilters(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	d.MustDocker("create", "--name", "stopped1", "busybox", "true")
	d.MustDocker("create", "--name", "stopped2", "busybox", "true")
	d.MustDocker("network", "create", "unused1")

	containers := func() string { return strings.TrimSpace(d.MustDocker("ps", "-a", "-q")) }
	networks := func() string { return d.MustDocker("network", "ls", "--format", "{{.Name}}") }
	beforeC := containers()
	if n := len(strings.Fields(beforeC)); n != 2 {
		t.Fatalf("want 2 containers, have %q", beforeC)
	}
	if !strings.Contains(networks(), "unused1") {
		t.Fatalf("network unused1 missing: %s", networks())
	}

	cli := []struct {
		args []string
		want string
	}{
		{[]string{"container", "prune", "-f", "--filter", "until=garbage"}, `failed to parse value as time or duration: "garbage"`},
		{[]string{"container", "prune", "-f", "--filter", "bogus=1"}, "invalid filter 'bogus'"},
		{[]string{"network", "prune", "-f", "--filter", "until=garbage"}, `failed to parse value as time or duration: "garbage"`},
		{[]string{"network", "prune", "-f", "--filter", "bogus=1"}, "invalid filter 'bogus'"},
		// The CLI adds its own dangling=true, so the values read "maybe,true".
		{[]string{"image", "prune", "-f", "--filter", "dangling=maybe"}, "invalid filter 'dangling=maybe"},
		{[]string{"images", "--filter", "dangling=maybe"}, "invalid filter 'dangling=maybe'"},
		{[]string{"volume", "prune", "-f", "--filter", "all=maybe"}, "invalid filter 'all=maybe'"},
	}
	for _, tt := range cli {
		r := d.Docker(tt.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("docker %s: want failure with %q, got %s", strings.Join(tt.args, " "), tt.want, r)
		}
	}

	c := d.HTTPClient()
	raw := []struct {
		method, path, filters, want string
	}{
		{"POST", "/containers/prune", `{"until":["garbage"]}`, `failed to parse value as time or duration: \"garbage\"`},
		{"POST", "/containers/prune", `{"until":{"garbage":true}}`, `failed to parse value as time or duration: \"garbage\"`},
		{"POST", "/containers/prune", `{"until":["1h","2h"]}`, "more than one until filter specified"},
		{"POST", "/containers/prune", `{"nope":["x"]}`, "invalid filter 'nope'"},
		{"POST", "/containers/prune", `{"until":`, "invalid filter"},
		{"POST", "/networks/prune", `{"until":["garbage"]}`, `failed to parse value as time or duration: \"garbage\"`},
		{"POST", "/images/prune", `{"dangling":["maybe"]}`, "invalid filter 'dangling=maybe'"},
		{"GET", "/images/json", `{"dangling":["maybe"]}`, "invalid filter 'dangling=maybe'"},
		{"GET", "/networks", `{"dangling":["maybe"]}`, "invalid filter 'dangling=maybe'"},
		{"GET", "/volumes", `{"dangling":["maybe"]}`, "invalid filter 'dangling=maybe'"},
		{"GET", "/containers/json", `{"exited":["x"]}`, "invalid syntax"},
	}
	for _, tt := range raw {
		req, _ := http.NewRequest(tt.method, "http://berth/v1.47"+tt.path+"?filters="+url.QueryEscape(tt.filters), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s %s filters=%s: %d %s, want 400 with %q", tt.method, tt.path, tt.filters, resp.StatusCode, body, tt.want)
		}
	}

	if got := containers(); got != beforeC {
		t.Fatalf("containers changed by rejected prunes: before %q after %q", beforeC, got)
	}
	if !strings.Contains(networks(), "unused1") {
		t.Fatalf("network unused1 deleted by a rejected prune")
	}

	// A valid until still works: nothing is an hour old, so nothing goes...
	d.MustDocker("container", "prune", "-f", "--filter", "until=1h")
	d.MustDocker("network", "prune", "-f", "--filter", "until=1h")
	if got := containers(); got != beforeC {
		t.Fatalf("until=1h pruned young containers: %q", got)
	}
	if !strings.Contains(networks(), "unused1") {
		t.Fatal("until=1h pruned a young network")
	}
	// ...and a cutoff in the future takes everything stopped and unused.
	resp, err := c.Post("http://berth/v1.47/containers/prune?filters="+url.QueryEscape(`{"until":["-1h"]}`), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct{ ContainersDeleted []string }
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(rep.ContainersDeleted) != 2 {
		t.Fatalf("prune until=-1h: %d %v", resp.StatusCode, rep)
	}
	d.MustDocker("network", "prune", "-f")
	if strings.Contains(networks(), "unused1") {
		t.Fatal("network prune left unused1")
	}
	if got := containers(); got != "" {
		t.Fatalf("containers left: %q", got)
	}
}
