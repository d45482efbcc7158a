package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/internal/apitest"
)

func run(c *command.Cli, args ...string) error { return apitest.Run(c, NewServiceCommand(c), args...) }

// frame is one stdcopy frame of a log stream.
func frame(stream stdcopy.StdType, line string) []byte {
	hdr := make([]byte, 8)
	hdr[0] = byte(stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(line)))
	return append(hdr, line...)
}

func logRoutes(svc swarmtypes.Service, lines ...[]byte) map[string]http.HandlerFunc {
	t1 := swarmtypes.Task{ID: "t1aaaaaaaaaaaaaaaaaaaaaaa", Slot: 1}
	t10 := swarmtypes.Task{ID: "t10bbbbbbbbbbbbbbbbbbbbbb", Slot: 10}
	return map[string]http.HandlerFunc{
		"GET /services/web": apitest.JSON(svc),
		"GET /services/s1":  apitest.JSON(svc),
		"GET /nodes/n1":     apitest.JSON(swarmtypes.Node{ID: "n1", Description: swarmtypes.NodeDescription{Hostname: "node-1"}}),
		"GET /tasks/t1":     apitest.JSON(t1),
		"GET /tasks/t10":    apitest.JSON(t10),
		"GET /services/web/logs": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
			for _, l := range lines {
				_, _ = w.Write(l)
			}
		},
	}
}

func TestLogs(t *testing.T) {
	web := swarmtypes.Service{ID: "s1"}
	web.Spec.Name = "web"
	web.Spec.Mode.Replicated = &swarmtypes.ReplicatedService{Replicas: u64(10)}
	web.Spec.TaskTemplate.ContainerSpec = &swarmtypes.ContainerSpec{}
	ctx := func(task string) string {
		return "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=" + task
	}
	s, c, out, errOut := apitest.New(t, "", logRoutes(web,
		frame(stdcopy.Stdout, ctx("t1")+" hello\n"),
		frame(stdcopy.Stderr, ctx("t10")+",env=prod oops\n"),
	))
	if err := run(c, "service", "logs", "web"); err != nil {
		t.Fatal(err)
	}
	if want := "web.1.t1aaaaaaaaaa@node-1     | hello\n"; out.String() != want {
		t.Errorf("stdout %q want %q", out.String(), want)
	}
	if want := "web.10.t10bbbbbbbbb@node-1    | oops\n"; errOut.String() != want {
		t.Errorf("stderr %q want %q", errOut.String(), want)
	}
	req, _ := s.Find("GET /services/web/logs")
	if !strings.Contains(req.Query, "details=1") || strings.Contains(req.Query, "tail=") {
		t.Errorf("logs query %q", req.Query)
	}

	_, c, out, errOut = apitest.New(t, "", logRoutes(web,
		frame(stdcopy.Stdout, "2025-06-01T12:00:00.000000000Z "+ctx("t1")+",env=prod hello\n")))
	if err := run(c, "service", "logs", "--no-task-ids", "--details", "-t", "--no-resolve", "web"); err != nil {
		t.Fatal(err)
	}
	if want := "2025-06-01T12:00:00.000000000Z s1.1@n1     | env=prod hello\n"; out.String() != want {
		t.Errorf("stdout %q want %q (stderr %q)", out.String(), want, errOut.String())
	}

	_, c, out, _ = apitest.New(t, "", logRoutes(web, frame(stdcopy.Stdout, "raw line\n")))
	if err := run(c, "service", "logs", "--raw", "web"); err != nil || out.String() != "raw line\n" {
		t.Errorf("--raw: %q %v", out.String(), err)
	}

	tty := web
	tty.Spec.TaskTemplate.ContainerSpec = &swarmtypes.ContainerSpec{TTY: true}
	_, c, _, _ = apitest.New(t, "", logRoutes(tty))
	if err := run(c, "service", "logs", "web"); err == nil || err.Error() != "tty service logs only supported with --raw" {
		t.Errorf("tty: %v", err)
	}

	_, c, _, _ = apitest.New(t, "", map[string]http.HandlerFunc{})
	if err := run(c, "service", "logs", "nope"); err == nil || err.Error() != "no such task or service: nope" {
		t.Errorf("unknown: %v", err)
	}
}

func TestParseLogDetails(t *testing.T) {
	d, err := parseLogDetails("a=1,b%3Dc=x%2Cy")
	if err != nil || d["a"] != "1" || d["b=c"] != "x,y" {
		t.Errorf("details = %v, %v", d, err)
	}
	if _, err := parseLogDetails("novalue"); err == nil || err.Error() != "invalid details format" {
		t.Errorf("novalue: %v", err)
	}
	if _, err := logContextOf(map[string]string{"com.docker.swarm.node.id": "n"}); err == nil || !strings.HasPrefix(err.Error(), "missing service id in details") {
		t.Errorf("missing service: %v", err)
	}
}

func TestScale(t *testing.T) {
	web := replicated(1)
	web.Spec.Name = "web"
	global := swarmtypes.Service{ID: "g1"}
	global.Spec.Mode.Global = &swarmtypes.GlobalService{}
	s, c, out, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /services/web":        apitest.JSON(web),
		"POST /services/s1/update": apitest.JSON(swarmtypes.ServiceUpdateResponse{}),
		"GET /services/agent":      apitest.JSON(global),
	})
	err := run(c, "service", "scale", "-d", "web=3", "agent=2", "web=x")
	if out.String() != "web scaled to 3\n" {
		t.Errorf("stdout %q", out.String())
	}
	want := "agent: scale can only be used with replicated or replicated-job mode\n" +
		`web: invalid replicas value x: strconv.ParseUint: parsing "x": invalid syntax`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	req, _ := s.Find("POST /services/s1/update")
	var spec swarmtypes.ServiceSpec
	if err := json.Unmarshal(req.Body, &spec); err != nil || *spec.Mode.Replicated.Replicas != 3 {
		t.Errorf("update body %s", req.Body)
	}

	if err := run(c, "service", "scale", "web"); err == nil || err.Error() != "invalid scale specifier 'web'.\nSee 'berth service scale --help'.\n\n"+
		"Usage:  berth service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services" {
		t.Errorf("bad specifier: %v", err)
	}
}

func TestServiceFilter(t *testing.T) {
	a := swarmtypes.Service{ID: "aaa111"}
	a.Spec.Name = "web"
	b := swarmtypes.Service{ID: "aab222"}
	b.Spec.Name = "db"
	_, api := fakeAPI(t, map[string]http.HandlerFunc{"GET /services": apitest.JSON([]swarmtypes.Service{a, b})})
	tests := []struct {
		names          []string
		want, notFound []string
		err            string
	}{
		{names: []string{"web", "aab222"}, want: []string{"aaa111", "aab222"}},
		{names: []string{"aaa"}, want: []string{"aaa111"}},
		{names: []string{"web", "nope"}, want: []string{"aaa111"}, notFound: []string{"no such service: nope"}},
		{names: []string{"nope", "gone"}, err: "no such service: nope\nno such service: gone"},
		{names: []string{"aa"}, err: "multiple services found with provided prefix: aa"},
	}
	for _, tt := range tests {
		f := map[string]map[string]bool{}
		notFound, err := serviceFilter(context.Background(), api, f, tt.names)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%v: err = %v", tt.names, err)
			}
			continue
		}
		if err != nil || len(f["service"]) != len(tt.want) || strings.Join(notFound, ",") != strings.Join(tt.notFound, ",") {
			t.Errorf("%v: filter %v, notFound %v, %v", tt.names, f, notFound, err)
		}
		for _, id := range tt.want {
			if !f["service"][id] {
				t.Errorf("%v: %s not in filter %v", tt.names, id, f)
			}
		}
	}
}

func TestInspectErrors(t *testing.T) {
	web := replicated(1)
	web.Spec.Name = "web"
	_, c, out, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /services/web": apitest.JSON(web),
	})
	if err := run(c, "service", "inspect", "--pretty", "-f", "{{.ID}}", "web"); err == nil || err.Error() != "--format is incompatible with human friendly format" {
		t.Errorf("pretty+format: %v", err)
	}
	if err := run(c, "service", "inspect", "-f", "prettyish", "web"); err == nil || err.Error() != "Cannot supply extra formatting options to the pretty template" {
		t.Errorf("prettyish: %v", err)
	}
	out.Reset()
	err := run(c, "service", "inspect", "-f", "{{.ID}}", "web", "nope")
	if out.String() != "s1\n" {
		t.Errorf("stdout %q", out.String())
	}
	if se, ok := err.(*command.StatusError); !ok || se.Code != 1 || se.Status != "Error: no such service: nope" {
		t.Errorf("err = %#v", err)
	}
	out.Reset()
	if err := run(c, "service", "inspect", "--pretty", "web"); err != nil || !strings.HasPrefix(out.String(), "\nID:\t\ts1\nName:\t\tweb\nService Mode:\tReplicated\n") {
		t.Errorf("pretty: %q %v", out.String(), err)
	}
}

func TestUpdateRollbackFlag(t *testing.T) {
	web := replicated(1)
	s, c, out, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /services/web":        apitest.JSON(web),
		"POST /services/s1/update": apitest.JSON(swarmtypes.ServiceUpdateResponse{Warnings: []string{"careful"}}),
	})
	if err := run(c, "service", "update", "--rollback", "--image", "x", "web"); err == nil || err.Error() != "other flags may not be combined with --rollback" {
		t.Errorf("rollback+image: %v", err)
	}
	if err := run(c, "service", "update", "--rollback", "-d", "web"); err != nil || out.String() != "web\n" {
		t.Errorf("rollback: %q %v", out.String(), err)
	}
	req, _ := s.Find("POST /services/s1/update")
	if !strings.Contains(req.Query, "rollback=previous") || !strings.Contains(req.Query, "registryAuthFrom=spec") {
		t.Errorf("query %q", req.Query)
	}
}

func TestCreateCommand(t *testing.T) {
	created := replicated(1)
	created.Spec.UpdateConfig = &swarmtypes.UpdateConfig{Monitor: time.Millisecond}
	s, c, out, errOut := apitest.New(t, "", map[string]http.HandlerFunc{
		"POST /services/create": apitest.JSON(swarmtypes.ServiceCreateResponse{ID: "s1", Warnings: []string{"a warning"}}),
		"GET /services/s1":      apitest.JSON(created),
		"GET /tasks":            apitest.JSON([]swarmtypes.Task{tk(1, "n1", "running", "running")}),
		"GET /nodes":            apitest.JSON([]swarmtypes.Node{{ID: "n1", Status: swarmtypes.NodeStatus{State: "ready"}}}),
	})
	if err := run(c, "service", "create", "--name", "web", "-p", "8080:80", "nginx", "nginx", "-g", "daemon off;"); err != nil {
		t.Fatal(err)
	}
	bar := "[==================================================>]"
	if want := "s1\noverall progress: 1 out of 1 tasks\n1/1: running   " + bar + "\nverify: Service s1 converged\n"; out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if errOut.String() != "a warning\n" {
		t.Errorf("stderr %q", errOut.String())
	}
	req, _ := s.Find("POST /services/create")
	var spec swarmtypes.ServiceSpec
	if err := json.Unmarshal(req.Body, &spec); err != nil {
		t.Fatal(err)
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs.Image != "nginx:latest" || strings.Join(cs.Args, "|") != "nginx|-g|daemon off;" || spec.Name != "web" {
		t.Errorf("spec %s", req.Body)
	}
	out.Reset()
	if err := run(c, "service", "create", "-d", "nginx"); err != nil || out.String() != "s1\n" {
		t.Errorf("-d: %q %v", out.String(), err)
	}
}
