package integration

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// TestEvents: `docker events` replays (--since/--until) and filters what
// the engine published, through the daemon's event bus.
func TestEvents(t *testing.T) {
	d := testenv.StartDaemon(t)
	start := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	d.ImportBusybox("busybox")
	d.MustDocker("run", "--rm", "--name", "ev", "busybox", "true")
	d.MustDocker("tag", "busybox", "busybox:two")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	actions := func(args ...string) string {
		out := d.MustDocker(append([]string{"events", "--since", start, "--until", until, "--format", "{{.Type}} {{.Action}}"}, args...)...)
		return strings.Join(strings.Split(strings.TrimSpace(out), "\n"), ";")
	}
	if got := actions("--filter", "container=ev"); !strings.Contains(got, "container create;container attach;container start;container die;container destroy") {
		t.Errorf("container events: %q", got)
	}
	// Only the explicit tag (import reports "import").
	if got := actions("--filter", "type=image", "--filter", "event=tag"); got != "image tag" {
		t.Errorf("image tag events: %q", got)
	}
	if r := d.Docker("events", "--since", start, "--until", until, "--filter", "bogus=1"); r.Code == 0 {
		t.Errorf("an unknown filter key was accepted: %s", r)
	}
}

// TestEventsSwarm: a manager publishes what changes in the swarm's store
// as dockerd does, with scope "swarm": a service created, scaled (its
// replicas before and after) and removed; a node drained; a secret
// created and removed.
func TestEventsSwarm(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	initSwarm(t, d)
	start := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)

	id := strings.TrimSpace(d.MustDocker("service", "create", "-d", "-q", "--name", "evweb", "--stop-grace-period", "1s", "busybox", "sleep", "1000"))
	d.MustDocker("service", "scale", "-d", "evweb=3")
	d.MustDocker("service", "rm", "evweb")
	testenv.Eventually(t, 60*time.Second, "the service's containers gone", func() bool {
		return d.MustDocker("ps", "-aq", "--filter", "label=com.docker.swarm.service.name=evweb") == ""
	})
	self := strings.TrimSpace(d.MustDocker("info", "--format", "{{.Swarm.NodeID}}"))
	d.MustDocker("node", "update", "--availability", "drain", self)
	if r := d.Run(strings.NewReader("s3cret"), time.Minute, "docker", "secret", "create", "evsecret", "-"); r.Code != 0 {
		t.Fatalf("secret create: %s", r)
	}
	d.MustDocker("secret", "rm", "evsecret")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)

	lines := func(format string, args ...string) []string {
		out := d.MustDocker(append([]string{"events", "--since", start, "--until", until, "--format", format}, args...)...)
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	got := lines(`{{.Scope}} {{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "replicas.old"}}>{{index .Actor.Attributes "replicas.new"}}`,
		"--filter", "type=service")
	var actions []string
	scaled := false
	for _, l := range got {
		f := strings.Fields(l)
		if len(f) < 6 || f[0] != "swarm" || f[1] != "service" || f[3] != id || f[4] != "evweb" {
			t.Fatalf("service event %q of %q", l, got)
		}
		if len(actions) == 0 || actions[len(actions)-1] != f[2] {
			actions = append(actions, f[2])
		}
		scaled = scaled || (f[2] == "update" && f[5] == "1>3")
	}
	if strings.Join(actions, ",") != "create,update,remove" || !scaled {
		t.Errorf("service events:\n%s", strings.Join(got, "\n"))
	}
	if got := lines(`{{.Scope}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "availability.old"}}>{{index .Actor.Attributes "availability.new"}}`,
		"--filter", "type=node", "--filter", "event=update"); !slices.Contains(got, "swarm update "+self+" active>drain") {
		t.Errorf("node events:\n%s", strings.Join(got, "\n"))
	}
	if got := lines(`{{.Type}} {{.Action}} {{.Actor.Attributes.name}}`, "--filter", "type=secret"); strings.Join(got, ",") != "secret create evsecret,secret remove evsecret" {
		t.Errorf("secret events: %q", got)
	}
	// The scope filter: swarm events only, and no container event among them.
	for _, l := range lines(`{{.Scope}} {{.Type}}`, "--filter", "scope=swarm") {
		if !strings.HasPrefix(l, "swarm ") || l == "swarm container" {
			t.Errorf("scope=swarm gave %q", l)
		}
	}
}
