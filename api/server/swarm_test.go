package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/api/backend"
)

// serve runs one request through the whole handler.
func serve(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorMessage decodes Docker's {"message": ...} error body.
func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" {
		t.Fatalf("error body %q is not {\"message\": ...}", rec.Body.String())
	}
	return e.Message
}

func TestSwarmRoutes(t *testing.T) {
	one := uint64(1)
	auth := map[string]string{"X-Registry-Auth": "eyJ1c2VybmFtZSI6InUifQ=="}
	initBody := `{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"10.0.0.1","DataPathPort":4789,"DefaultAddrPool":["10.20.0.0/16"],"SubnetSize":26,"Spec":{"Name":"default"}}`
	pool := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}
	newSpec := `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox","CapabilityAdd":["NET_ADMIN"],"Sysctls":{"a":"b"}},"Placement":{"MaxReplicas":2}},"Mode":{"ReplicatedJob":{}}}`
	tests := []struct {
		name               string
		method, path, body string
		header             map[string]string
		code               int
		contains           string // substring of the body
		message            string // exact error message, for codes >= 400
		ctype              string
		call               string // the backend method that must have been called
		args               []any  // and its arguments (nil: not checked)
		empty              bool   // the answer has no body
	}{
		// The swarm.
		{name: "inspect", method: "GET", path: "/swarm", code: 200, contains: `"ID":"swarm1"`, ctype: "application/json", call: "SwarmInspect"},
		{name: "inspect versioned", method: "GET", path: "/v1.24/swarm", code: 200, contains: `"Worker":"SWMTKN-1-worker"`},
		{name: "init", method: "POST", path: "/swarm/init", body: initBody, code: 200, contains: "\"n1\"\n", ctype: "application/json", call: "SwarmInit",
			args: []any{swarm.InitRequest{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.0.0.1", DataPathPort: 4789, DefaultAddrPool: pool, SubnetSize: 26, Spec: swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}}}},
		{name: "init 1.38 drops pools and port", method: "POST", path: "/v1.38/swarm/init", body: initBody, code: 200, call: "SwarmInit",
			args: []any{swarm.InitRequest{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.0.0.1", Spec: swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}}}},
		{name: "init 1.39 drops the port", method: "POST", path: "/v1.39/swarm/init", body: initBody, code: 200, call: "SwarmInit",
			args: []any{swarm.InitRequest{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.0.0.1", DefaultAddrPool: pool, SubnetSize: 26, Spec: swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}}}},
		{name: "init bad JSON", method: "POST", path: "/swarm/init", body: `{`, code: 400, contains: "invalid JSON"},
		{name: "join", method: "POST", path: "/swarm/join", body: `{"RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"SWMTKN-1-worker"}`, code: 200, empty: true, call: "SwarmJoin",
			args: []any{swarm.JoinRequest{RemoteAddrs: []string{"10.0.0.1:2377"}, JoinToken: "SWMTKN-1-worker"}}},
		{name: "join bad JSON", method: "POST", path: "/v1.51/swarm/join", body: `{"RemoteAddrs":"x"}`, code: 400, contains: "invalid JSON"},
		{name: "leave", method: "POST", path: "/swarm/leave", code: 200, empty: true, call: "SwarmLeave", args: []any{false}},
		{name: "leave force", method: "POST", path: "/swarm/leave?force=1", code: 200, empty: true, call: "SwarmLeave", args: []any{true}},
		{name: "leave force python", method: "POST", path: "/swarm/leave?force=True", code: 200, empty: true, call: "SwarmLeave", args: []any{true}},
		{name: "update", method: "POST", path: "/swarm/update?version=7&rotateWorkerToken=true&rotateManagerToken=False&rotateManagerUnlockKey=1", body: `{"Name":"default"}`, code: 200, empty: true, call: "SwarmUpdate",
			args: []any{uint64(7), swarm.Spec{Annotations: swarm.Annotations{Name: "default"}}, backend.SwarmUpdateFlags{RotateWorkerToken: true, RotateManagerUnlockKey: true}}},
		{name: "update no version", method: "POST", path: "/swarm/update", body: `{}`, code: 400, message: `invalid swarm version '': strconv.ParseUint: parsing "": invalid syntax`},
		{name: "update bad version", method: "POST", path: "/swarm/update?version=abc", body: `{}`, code: 400, message: `invalid swarm version 'abc': strconv.ParseUint: parsing "abc": invalid syntax`},
		{name: "update negative version", method: "POST", path: "/swarm/update?version=-1", code: 400, message: `invalid swarm version '-1': strconv.ParseUint: parsing "-1": invalid syntax`},
		{name: "update bad flag", method: "POST", path: "/swarm/update?version=7&rotateManagerToken=maybe", code: 400, message: "invalid value for rotateManagerToken: maybe"},
		{name: "update bad JSON", method: "POST", path: "/swarm/update?version=7", body: `[`, code: 400, contains: "invalid JSON"},
		{name: "unlock key", method: "GET", path: "/swarm/unlockkey", code: 200, contains: `{"UnlockKey":"SWMKEY-1-fake"}`},
		{name: "unlock", method: "POST", path: "/swarm/unlock", body: `{"UnlockKey":"SWMKEY-1-fake"}`, code: 200, empty: true, call: "SwarmUnlock", args: []any{swarm.UnlockRequest{UnlockKey: "SWMKEY-1-fake"}}},
		{name: "wrong method", method: "PUT", path: "/swarm", code: 404, contains: "page not found"},

		// Nodes.
		{name: "nodes", method: "GET", path: "/nodes?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D", code: 200, contains: `"Hostname":"host1"`, call: "NodeList",
			args: []any{Filters{"role": {"manager": true}}}},
		{name: "nodes bad filter", method: "GET", path: "/nodes?filters=%7Bbad", code: 400, contains: "invalid filter"},
		{name: "node", method: "GET", path: "/v1.51/nodes/n1", code: 200, contains: `"ID":"n1"`, call: "NodeInspect", args: []any{"n1"}},
		{name: "node missing", method: "GET", path: "/nodes/zz", code: 404, message: "node zz not found"},
		{name: "node remove", method: "DELETE", path: "/nodes/n1", code: 200, empty: true, call: "NodeRemove", args: []any{"n1", false}},
		{name: "node remove force", method: "DELETE", path: "/nodes/n1?force=true", code: 200, empty: true, call: "NodeRemove", args: []any{"n1", true}},
		{name: "node update", method: "POST", path: "/nodes/n1/update?version=3", body: `{"Availability":"drain","Role":"worker","Labels":{"a":"b"}}`, code: 200, empty: true, call: "NodeUpdate",
			args: []any{"n1", uint64(3), swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"a": "b"}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityDrain}}},
		{name: "node update no version", method: "POST", path: "/nodes/n1/update", body: `{}`, code: 400, message: `invalid node version '': strconv.ParseUint: parsing "": invalid syntax`},
		{name: "node update missing", method: "POST", path: "/nodes/zz/update?version=1", body: `{}`, code: 404, message: "node zz not found"},
		{name: "node sub-path", method: "GET", path: "/nodes/n1/extra", code: 404, contains: "page not found"},

		// Services.
		{name: "services", method: "GET", path: "/services", code: 200, contains: `"Name":"web"`, call: "ServiceList", args: []any{Filters{}, false}},
		{name: "services status", method: "GET", path: "/services?status=true&filters=%7B%22name%22%3A%7B%22web%22%3Atrue%7D%7D", code: 200, contains: `"ServiceStatus":{"RunningTasks":1`, call: "ServiceList",
			args: []any{Filters{"name": {"web": true}}, true}},
		{name: "services status before 1.41", method: "GET", path: "/v1.40/services?status=true", code: 200, call: "ServiceList", args: []any{Filters{}, false}},
		{name: "services bad status", method: "GET", path: "/services?status=x", code: 400, message: `invalid value for status: x: strconv.ParseBool: parsing "x": invalid syntax`},
		{name: "service create", method: "POST", path: "/services/create", header: auth, body: `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}}}`, code: 201, contains: `"ID":"s2"`, ctype: "application/json", call: "ServiceCreate",
			args: []any{swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox"}}}, auth["X-Registry-Auth"]}},
		{name: "service create keeps new fields", method: "POST", path: "/v1.51/services/create", body: newSpec, code: 201, call: "ServiceCreate",
			args: []any{swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox", CapabilityAdd: []string{"NET_ADMIN"}, Sysctls: map[string]string{"a": "b"}}, Placement: &swarm.Placement{MaxReplicas: 2}}}, ""}},
		{name: "service create 1.39 drops newer fields", method: "POST", path: "/v1.39/services/create", body: newSpec, code: 201, call: "ServiceCreate",
			args: []any{swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox"}, Placement: &swarm.Placement{}}}, ""}},
		{name: "service create bad JSON", method: "POST", path: "/services/create", body: `{"Name":1}`, code: 400, contains: "invalid JSON"},
		{name: "service", method: "GET", path: "/services/web", code: 200, contains: `"ID":"s1"`, call: "ServiceInspect", args: []any{"web", false}},
		{name: "service defaults", method: "GET", path: "/services/s1?insertDefaults=true", code: 200, call: "ServiceInspect", args: []any{"s1", true}},
		{name: "service bad defaults", method: "GET", path: "/services/s1?insertDefaults=nope", code: 400, message: `invalid value for insertDefaults: nope: strconv.ParseBool: parsing "nope": invalid syntax`},
		{name: "service missing", method: "GET", path: "/services/zz", code: 404, message: "service zz not found"},
		{name: "service update", method: "POST", path: "/services/s1/update?version=4&registryAuthFrom=previous-spec&rollback=previous", header: auth, body: `{"Name":"web","Mode":{"Replicated":{"Replicas":1}}}`,
			code: 200, contains: `{"Warnings":["image busybox could not be accessed`, ctype: "application/json", call: "ServiceUpdate",
			args: []any{"s1", uint64(4), swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}},
				backend.ServiceUpdateOptions{EncodedRegistryAuth: auth["X-Registry-Auth"], RegistryAuthFrom: "previous-spec", Rollback: "previous"}}},
		{name: "service update no version", method: "POST", path: "/services/s1/update", body: `{}`, code: 400, message: `invalid service version '': strconv.ParseUint: parsing "": invalid syntax`},
		{name: "service update missing", method: "POST", path: "/services/zz/update?version=1", body: `{}`, code: 404, message: "service zz not found"},
		{name: "service remove", method: "DELETE", path: "/services/s1", code: 200, empty: true, call: "ServiceRemove", args: []any{"s1"}},
		{name: "service remove missing", method: "DELETE", path: "/services/zz", code: 404, message: "service zz not found"},

		// Tasks.
		{name: "tasks", method: "GET", path: "/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D", code: 200, contains: `"ID":"tk1"`, call: "TaskList", args: []any{Filters{"service": {"web": true}}}},
		{name: "tasks bad filter", method: "GET", path: "/tasks?filters=x", code: 400, contains: "invalid filter"},
		{name: "task", method: "GET", path: "/tasks/tk1", code: 200, contains: `"ServiceID":"s1"`, call: "TaskInspect", args: []any{"tk1"}},
		{name: "task missing", method: "GET", path: "/tasks/zz", code: 404, message: "task zz not found"},

		// Secrets.
		{name: "secrets empty", method: "GET", path: "/secrets", code: 200, contains: "[]\n", call: "SecretList", args: []any{Filters{}}},
		{name: "secret create", method: "POST", path: "/secrets/create", body: `{"Name":"pw","Data":"c2VjcmV0","Labels":{"a":"b"}}`, code: 201, contains: `{"ID":"sec1"}`, ctype: "application/json", call: "SecretCreate",
			args: []any{swarm.SecretSpec{Annotations: swarm.Annotations{Name: "pw", Labels: map[string]string{"a": "b"}}, Data: []byte("secret")}}},
		{name: "secret create template", method: "POST", path: "/secrets/create", body: `{"Name":"pw","Templating":{"Name":"golang"}}`, code: 201, call: "SecretCreate",
			args: []any{swarm.SecretSpec{Annotations: swarm.Annotations{Name: "pw"}, Templating: &swarm.Driver{Name: "golang"}}}},
		{name: "secret create template 1.36", method: "POST", path: "/v1.36/secrets/create", body: `{"Name":"pw","Templating":{"Name":"golang"}}`, code: 400,
			message: "secret templating is not supported on the specified API version: 1.36"},
		{name: "secret create bad JSON", method: "POST", path: "/secrets/create", body: `{"Data":"not base64!"}`, code: 400, contains: "invalid JSON"},
		{name: "secret", method: "GET", path: "/secrets/sec1", code: 200, contains: `"Name":"pw"`, call: "SecretInspect", args: []any{"sec1"}},
		{name: "secret missing", method: "GET", path: "/secrets/zz", code: 404, message: "secret zz not found"},
		{name: "secret update", method: "POST", path: "/secrets/sec1/update?version=2", body: `{"Name":"pw","Labels":{"x":"y"}}`, code: 200, empty: true, call: "SecretUpdate",
			args: []any{"sec1", uint64(2), swarm.SecretSpec{Annotations: swarm.Annotations{Name: "pw", Labels: map[string]string{"x": "y"}}}}},
		{name: "secret update no version", method: "POST", path: "/secrets/sec1/update", body: `{}`, code: 400, message: "invalid secret version"},
		{name: "secret remove", method: "DELETE", path: "/secrets/sec1", code: 204, call: "SecretRemove", args: []any{"sec1"}},
		{name: "secret remove missing", method: "DELETE", path: "/secrets/zz", code: 404, message: "secret zz not found"},

		// Configs.
		{name: "configs", method: "GET", path: "/configs?filters=%7B%22name%22%3A%5B%22app%22%5D%7D", code: 200, contains: `"Name":"app.conf"`, call: "ConfigList", args: []any{Filters{"name": {"app": true}}}},
		{name: "config create", method: "POST", path: "/configs/create", body: `{"Name":"app.conf","Data":"eA=="}`, code: 201, contains: `{"ID":"cfg1"}`, call: "ConfigCreate",
			args: []any{swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "app.conf"}, Data: []byte("x")}}},
		{name: "config create template 1.30", method: "POST", path: "/v1.30/configs/create", body: `{"Name":"c","Templating":{"Name":"golang"}}`, code: 400,
			message: "config templating is not supported on the specified API version: 1.30"},
		{name: "config", method: "GET", path: "/configs/cfg1", code: 200, contains: `"ID":"cfg1"`},
		{name: "config missing", method: "GET", path: "/configs/zz", code: 404, message: "config zz not found"},
		{name: "config update", method: "POST", path: "/configs/cfg1/update?version=9", body: `{"Name":"app.conf"}`, code: 200, empty: true, call: "ConfigUpdate",
			args: []any{"cfg1", uint64(9), swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "app.conf"}}}},
		{name: "config update bad version", method: "POST", path: "/configs/cfg1/update?version=x", body: `{}`, code: 400, message: "invalid config version"},
		{name: "config remove", method: "DELETE", path: "/configs/cfg1", code: 204, call: "ConfigRemove", args: []any{"cfg1"}},
		{name: "config remove missing", method: "DELETE", path: "/v1.51/configs/zz", code: 404, message: "config zz not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeBackend{}
			s, _ := newTestServer(t, fb)
			rec := serve(t, s.Handler(), tt.method, tt.path, tt.body, tt.header)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.code, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tt.contains)
			}
			if tt.ctype != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if rec.Code >= 400 {
				if msg := errorMessage(t, rec); tt.message != "" && msg != tt.message {
					t.Errorf("message %q, want %q", msg, tt.message)
				}
			} else if (rec.Code == 204 || tt.empty) && rec.Body.Len() != 0 {
				t.Errorf("body %q, want none", rec.Body.String())
			}
			if tt.call != "" {
				got := fb.lastArgs(tt.call)
				if got == nil {
					t.Fatalf("%s was not called (calls: %v)", tt.call, fb.calls)
				}
				if tt.args != nil && !reflect.DeepEqual(got, tt.args) {
					t.Errorf("%s got\n%#v\nwant\n%#v", tt.call, got, tt.args)
				}
			}
		})
	}
}

// TestSwarmErrors: the backend's errdefs classes become dockerd's statuses
// with the message untouched, on every kind of route.
func TestSwarmErrors(t *testing.T) {
	notManager := "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
	tests := []struct {
		err  error
		code int
		msg  string
	}{
		{errdefs.ErrUnavailable.WithMessage(notManager), 503, notManager},
		{fmt.Errorf("%s: %w", notManager, errdefs.ErrUnavailable), 503, notManager},
		{fmt.Errorf("no such thing: %w", errdefs.ErrNotFound), 404, "no such thing"},
		{errdefs.ErrInvalidArgument.WithMessage("rpc error: code = InvalidArgument desc = name must be valid as a DNS name component"), 400,
			"rpc error: code = InvalidArgument desc = name must be valid as a DNS name component"},
		{errdefs.ErrAlreadyExists.WithMessage("rpc error: code = AlreadyExists desc = secret pw already exists"), 409, "rpc error: code = AlreadyExists desc = secret pw already exists"},
		{errors.New("boom"), 500, "boom"},
	}
	routes := []struct{ method, path, body string }{
		{"GET", "/swarm", ""},
		{"POST", "/swarm/init", "{}"},
		{"POST", "/swarm/leave", ""},
		{"GET", "/swarm/unlockkey", ""},
		{"GET", "/nodes", ""},
		{"POST", "/nodes/n1/update?version=1", "{}"},
		{"GET", "/services", ""},
		{"POST", "/services/create", "{}"},
		{"GET", "/services/s1/logs?stdout=1", ""},
		{"GET", "/tasks/tk1/logs?stderr=1&follow=1", ""},
		{"GET", "/tasks", ""},
		{"DELETE", "/secrets/sec1", ""},
		{"POST", "/configs/create", "{}"},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			t.Run(fmt.Sprintf("%d %s %s", tt.code, rt.method, rt.path), func(t *testing.T) {
				s, _ := newTestServer(t, &fakeBackend{swarmErr: tt.err})
				rec := serve(t, s.Handler(), rt.method, rt.path, rt.body, nil)
				if rec.Code != tt.code {
					t.Fatalf("status %d, want %d; body %q", rec.Code, tt.code, rec.Body.String())
				}
				if msg := errorMessage(t, rec); msg != tt.msg {
					t.Errorf("message %q, want %q", msg, tt.msg)
				}
			})
		}
	}
}

func TestSwarmLogs(t *testing.T) {
	const (
		ctx3     = "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=tk1"
		ts       = "2024-01-02T03:04:05.500000000Z"
		muxed    = "application/vnd.docker.multiplexed-stream"
		rawCtype = "application/vnd.docker.raw-stream"
	)
	tests := []struct {
		name           string
		path           string
		fb             *fakeBackend
		code           int
		ctype          string
		stdout, stderr string // demultiplexed (or, raw, the whole body in stdout)
		raw            bool
		message        string // exact error message
		streamErr      string // error stdcopy reports from the stream
		opts           *backend.ServiceLogsOptions
		id             string
	}{
		{name: "both streams", path: "/services/s1/logs?stdout=1&stderr=1", code: 200, ctype: muxed, stdout: "out line\n", stderr: "err line\n",
			opts: &backend.ServiceLogsOptions{Stdout: true, Stderr: true, Tail: "all"}, id: "s1"},
		{name: "stdout only", path: "/v1.51/services/web/logs?stdout=true", code: 200, ctype: muxed, stdout: "out line\n", id: "web"},
		{name: "stderr only", path: "/services/s1/logs?stderr=1", code: 200, stderr: "err line\n"},
		{name: "details", path: "/services/s1/logs?stdout=1&stderr=1&details=1", code: 200,
			stdout: ctx3 + " out line\n", stderr: ctx3 + ",tag=a+b err line\n"},
		{name: "timestamps and details", path: "/services/s1/logs?stdout=1&stderr=1&details=1&timestamps=1", code: 200,
			stdout: ts + " " + ctx3 + " out line\n", stderr: ts + " " + ctx3 + ",tag=a+b err line\n"},
		{name: "timestamps", path: "/services/s1/logs?stdout=1&timestamps=1", code: 200, stdout: ts + " out line\n"},
		{name: "options", path: "/services/s1/logs?stdout=1&follow=1&tail=5&since=1700000000.5&details=1&timestamps=1", code: 200,
			stdout: ts + " " + ctx3 + " out line\n",
			opts:   &backend.ServiceLogsOptions{Stdout: true, Follow: true, Timestamps: true, Details: true, Tail: "5", Since: time.Unix(1700000000, 500000000)}},
		{name: "task", path: "/tasks/tk1/logs?stdout=1&stderr=1", code: 200, ctype: muxed, stdout: "out line\n", stderr: "err line\n",
			opts: &backend.ServiceLogsOptions{Task: true, Stdout: true, Stderr: true, Tail: "all"}, id: "tk1"},
		{name: "tail all", path: "/tasks/tk1/logs?stdout=1&tail=all", code: 200, stdout: "out line\n", opts: &backend.ServiceLogsOptions{Task: true, Stdout: true, Tail: "all"}},
		{name: "tty service is raw", path: "/services/st/logs?stdout=1&stderr=1", code: 200, ctype: rawCtype, raw: true, stdout: "out line\nerr line\n"},
		{name: "tty task is raw", path: "/tasks/tktty/logs?stdout=1", code: 200, ctype: rawCtype, raw: true, stdout: "out line\n"},
		{name: "before 1.42 says raw", path: "/v1.41/services/s1/logs?stdout=1", code: 200, ctype: rawCtype, stdout: "out line\n"},
		{name: "no stream", path: "/services/s1/logs", code: 400, message: "Bad parameters: you must choose at least one stream"},
		{name: "no stream false", path: "/tasks/tk1/logs?stdout=0&stderr=false", code: 400, message: "Bad parameters: you must choose at least one stream"},
		{name: "bad tail", path: "/services/s1/logs?stdout=1&tail=x", code: 400, message: `tail value must be a positive integer or "all"`},
		{name: "negative tail", path: "/services/s1/logs?stdout=1&tail=-1", code: 400, message: "negative tail values not supported"},
		{name: "bad since", path: "/services/s1/logs?stdout=1&since=garbage", code: 400, message: `could not parse since timestamp: failed to parse value as time or duration: "garbage"`},
		{name: "missing service", path: "/services/zz/logs?stdout=1", code: 404, message: "service zz not found"},
		{name: "missing task", path: "/tasks/zz/logs?stdout=1", code: 404, message: "task zz not found"},
		{name: "error before any line", path: "/services/s1/logs?stdout=1", fb: &fakeBackend{logsErrBefore: errdefs.ErrUnavailable.WithMessage("not a manager")}, code: 503, message: "not a manager"},
		{name: "error after lines", path: "/services/s1/logs?stdout=1", fb: &fakeBackend{logsErrAfter: errors.New("node n2 went away")}, code: 200, stdout: "out line\n",
			streamErr: "error from daemon in stream: Error grabbing logs: node n2 went away\n"},
		{name: "error after lines raw", path: "/services/st/logs?stdout=1", fb: &fakeBackend{logsErrAfter: errors.New("node n2 went away")}, code: 200, raw: true,
			stdout: "out line\nError grabbing logs: node n2 went away\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := tt.fb
			if fb == nil {
				fb = &fakeBackend{}
			}
			s, _ := newTestServer(t, fb)
			rec := serve(t, s.Handler(), "GET", tt.path, "", nil)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.code, rec.Body.String())
			}
			if tt.code >= 400 {
				if msg := errorMessage(t, rec); msg != tt.message {
					t.Errorf("message %q, want %q", msg, tt.message)
				}
				return
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if tt.raw {
				if rec.Body.String() != tt.stdout {
					t.Errorf("raw body %q, want %q", rec.Body.String(), tt.stdout)
				}
			} else {
				var out, errb bytes.Buffer
				_, err := stdcopy.StdCopy(&out, &errb, bytes.NewReader(rec.Body.Bytes()))
				if tt.streamErr != "" {
					if err == nil || err.Error() != tt.streamErr {
						t.Errorf("stream error %v, want %q", err, tt.streamErr)
					}
				} else if err != nil {
					t.Fatalf("demultiplexing %q: %v", rec.Body.String(), err)
				}
				if out.String() != tt.stdout || errb.String() != tt.stderr {
					t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errb.String(), tt.stdout, tt.stderr)
				}
			}
			if tt.opts != nil || tt.id != "" {
				args := fb.lastArgs("ServiceLogs")
				if len(args) != 2 {
					t.Fatalf("ServiceLogs args %v", args)
				}
				if tt.id != "" && args[0] != tt.id {
					t.Errorf("ServiceLogs id %v, want %s", args[0], tt.id)
				}
				if tt.opts != nil {
					got := args[1].(backend.ServiceLogsOptions)
					if !got.Since.Equal(tt.opts.Since) {
						t.Errorf("since %v, want %v", got.Since, tt.opts.Since)
					}
					got.Since, tt.opts.Since = time.Time{}, time.Time{}
					if got != *tt.opts {
						t.Errorf("options %+v, want %+v", got, *tt.opts)
					}
				}
			}
		})
	}
}

// TestSwarmLogsFrames: each message is one whole frame, which the CLI's
// `service logs` needs to split details from the line.
func TestSwarmLogsFrames(t *testing.T) {
	s, _ := newTestServer(t, &fakeBackend{})
	rec := serve(t, s.Handler(), "GET", "/services/s1/logs?stdout=1&stderr=1&details=1", "", nil)
	b := rec.Body.Bytes()
	var frames []string
	for len(b) >= 8 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		if b[1] != 0 || b[2] != 0 || b[3] != 0 || len(b) < 8+n {
			t.Fatalf("bad frame header % x", b[:8])
		}
		frames = append(frames, fmt.Sprintf("%d:%s", b[0], b[8:8+n]))
		b = b[8+n:]
	}
	want := []string{
		"1:com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=tk1 out line\n",
		"2:com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=tk1,tag=a+b err line\n",
	}
	if len(b) != 0 || !reflect.DeepEqual(frames, want) {
		t.Errorf("frames %q (rest %q), want %q", frames, b, want)
	}
}

// followLogs writes nothing until the request ends.
type followLogs struct{ *fakeBackend }

func (followLogs) ServiceLogs(ctx context.Context, id string, opts backend.ServiceLogsOptions, write func(backend.ServiceLogMessage) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestSwarmLogsFollowAnswersAtOnce: with follow the 200 is sent before the
// first line, so a client with a read timeout does not give up on a quiet
// service; closing the request ends the backend's stream.
func TestSwarmLogsFollowAnswersAtOnce(t *testing.T) {
	s, _ := newTestServer(t, followLogs{&fakeBackend{}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1.51/services/s1/logs?stdout=1&follow=1", nil)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("request: %v", err)
			done <- nil
			return
		}
		done <- resp
	}()
	select {
	case resp := <-done:
		if resp == nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// Ending the request must end the handler (srv.Close waits).
		cancel()
		_, _ = io.Copy(io.Discard, resp.Body)
	case <-time.After(5 * time.Second):
		t.Fatal("no response header while following a quiet service")
	}
}

func TestPingSwarmHeader(t *testing.T) {
	tests := []struct {
		info swarm.Info
		want string
	}{
		{swarm.Info{}, "inactive"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, "inactive"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStatePending}, "pending"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, "locked"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateError}, "error"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}, "active/worker"},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}, "active/manager"},
	}
	for _, tt := range tests {
		for _, m := range []string{"GET", "HEAD"} {
			s, _ := newTestServer(t, &fakeBackend{swarmInfo: tt.info})
			rec := serve(t, s.Handler(), m, "/_ping", "", nil)
			if got := rec.Header().Get("Swarm"); rec.Code != 200 || got != tt.want {
				t.Errorf("%s %+v: status %d, Swarm %q, want %q", m, tt.info, rec.Code, got, tt.want)
			}
		}
	}
}

// TestDockerCLISwarm runs the real docker CLI's swarm commands against the
// fake: init, inspection, lists, service logs (details parsed back into
// task and node names), secrets and the unlock key.
func TestDockerCLISwarm(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed")
	}
	fb := &fakeBackend{swarmInfo: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "n1"}}
	sock, _ := startUnix(t, newServerWith(t, fb))
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("", "swarm", "init", "--advertise-addr", "10.0.0.1"); !strings.Contains(out, "Swarm initialized: current node (n1) is now a manager.") ||
		!strings.Contains(out, "docker swarm join --token SWMTKN-1-worker 10.0.0.1:2377") {
		t.Errorf("docker swarm init: %q", out)
	}
	if req := fb.lastArgs("SwarmInit"); len(req) != 1 || req[0].(swarm.InitRequest).AdvertiseAddr != "10.0.0.1" {
		t.Errorf("swarm init request %+v", req)
	}
	if out := run("", "node", "ls", "--format", "{{.ID}} {{.Hostname}} {{.ManagerStatus}}"); strings.TrimSpace(out) != "n1 host1 Leader" {
		t.Errorf("docker node ls: %q", out)
	}
	if out := run("", "service", "ls", "--format", "{{.ID}} {{.Name}} {{.Replicas}}"); strings.TrimSpace(out) != "s1 web 1/1" {
		t.Errorf("docker service ls: %q", out)
	}
	if out := run("", "service", "inspect", "--format", "{{.Spec.Name}} {{.Version.Index}}", "s1"); strings.TrimSpace(out) != "web 4" {
		t.Errorf("docker service inspect: %q", out)
	}
	out := run("", "service", "logs", "s1")
	t.Logf("docker service logs s1:\n%s", out)
	if !strings.Contains(out, "web.1.tk1@host1    | out line") || !strings.Contains(out, "web.1.tk1@host1    | err line") {
		t.Errorf("docker service logs: %q", out)
	}
	if out := run("", "service", "logs", "--raw", "--timestamps", "tk1"); !strings.Contains(out, "2024-01-02T03:04:05.500000000Z out line") {
		t.Errorf("docker service logs --raw (task): %q", out)
	}
	if out := run("secret\n", "secret", "create", "pw", "-"); strings.TrimSpace(out) != "sec1" {
		t.Errorf("docker secret create: %q", out)
	}
	if spec := fb.lastArgs("SecretCreate"); len(spec) != 1 || string(spec[0].(swarm.SecretSpec).Data) != "secret\n" {
		t.Errorf("secret spec %+v", spec)
	}
	if out := run("", "swarm", "unlock-key", "-q"); strings.TrimSpace(out) != "SWMKEY-1-fake" {
		t.Errorf("docker swarm unlock-key: %q", out)
	}
	run("", "node", "update", "--availability", "drain", "n1")
	if a := fb.lastArgs("NodeUpdate"); len(a) != 3 || a[1] != uint64(3) || a[2].(swarm.NodeSpec).Availability != swarm.NodeAvailabilityDrain {
		t.Errorf("node update %+v", a)
	}
	run("", "service", "scale", "web=3")
	if a := fb.lastArgs("ServiceUpdate"); len(a) != 4 || a[1] != uint64(4) || *a[2].(swarm.ServiceSpec).Mode.Replicated.Replicas != 3 {
		t.Errorf("service update %+v", a)
	}
	run("", "service", "rm", "web")
	run("", "config", "rm", "cfg1")
	cmd := exec.Command(docker, "service", "logs", "nosuch")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "no such task or service: nosuch") {
		t.Errorf("docker service logs nosuch: %v %q", err, b)
	}
}

// TestDockerPySwarm drives the swarm routes with docker-py 7.1.
func TestDockerPySwarm(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("docker-py not installed")
	}
	sock, _ := startUnix(t, newServerOnly(t))
	script := `
import docker, sys
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto", timeout=20)
assert c.swarm.init(advertise_addr="10.0.0.1") == "n1"
assert c.swarm.attrs["ID"] == "swarm1", c.swarm.attrs
assert c.swarm.update(rotate_worker_token=True)
assert c.api.get_unlock_key() == {"UnlockKey": "SWMKEY-1-fake"}
assert [n.id for n in c.nodes.list(filters={"role": "manager"})] == ["n1"]
n = c.nodes.get("n1")
assert n.update({"Availability": "drain", "Role": "manager"})
svcs = c.services.list()
assert [s.name for s in svcs] == ["web"], svcs
s = c.services.get("s1")
logs = b"".join(s.logs(stdout=True, stderr=True))
assert logs == b"out line\nerr line\n", logs
assert [t["ID"] for t in s.tasks()] == ["tk1"]
sec = c.secrets.create(name="pw", data=b"secret")
assert sec.id == "sec1", sec
assert [x.name for x in c.configs.list()] == ["app.conf"]
s.remove()
try:
    c.services.get("zz")
    raise SystemExit("no error for a missing service")
except docker.errors.NotFound as e:
    assert "service zz not found" in str(e), e
assert c.swarm.leave(force=True)
print("ok")
`
	out, err := exec.Command("python3", "-c", script, sock).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
}
