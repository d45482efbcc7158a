package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/api/backend"
)

// The swarm-mode endpoints: /swarm, /nodes, /services, /tasks, /secrets
// and /configs, served by backend.Cluster. Handlers here only translate
// HTTP: the query and body are parsed and checked the way dockerd does
// (its words in the 400s), and the API version of the request strips the
// fields older clients could not have meant.

// swarmLogTimeFormat is how dockerd prints log timestamps: RFC3339 with
// the nanoseconds padded, so every stamp has the same width.
const swarmLogTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// swarmLogContext are the details keys dockerd gives every swarm log line
// (the CLI's `service logs` reads them to name the task and node).
const (
	attrNodeID    = "com.docker.swarm.node.id"
	attrServiceID = "com.docker.swarm.service.id"
	attrTaskID    = "com.docker.swarm.task.id"
)

// swarmRoutes registers the swarm-mode endpoints through h.
func (s *Server) swarmRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	// The swarm itself.
	h("GET /swarm", func(w http.ResponseWriter, r *http.Request) error {
		sw, err := s.b.SwarmInspect(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, sw)
		return nil
	})
	h("POST /swarm/init", s.swarmInit)
	h("POST /swarm/join", func(w http.ResponseWriter, r *http.Request) error {
		var req swarm.JoinRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		return ok200(w, s.b.SwarmJoin(r.Context(), req))
	})
	h("POST /swarm/leave", func(w http.ResponseWriter, r *http.Request) error {
		return ok200(w, s.b.SwarmLeave(r.Context(), boolQuery(r.URL.Query().Get("force"))))
	})
	h("POST /swarm/update", s.swarmUpdate)
	h("GET /swarm/unlockkey", func(w http.ResponseWriter, r *http.Request) error {
		key, err := s.b.SwarmUnlockKey(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, swarm.UnlockKeyResponse{UnlockKey: key})
		return nil
	})
	h("POST /swarm/unlock", func(w http.ResponseWriter, r *http.Request) error {
		var req swarm.UnlockRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		return ok200(w, s.b.SwarmUnlock(r.Context(), req))
	})

	// Nodes.
	h("GET /nodes", filteredList(s.b.NodeList))
	h("GET /nodes/{id}", inspect(s.b.NodeInspect))
	h("DELETE /nodes/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return ok200(w, s.b.NodeRemove(r.Context(), r.PathValue("id"), boolQuery(r.URL.Query().Get("force"))))
	})
	h("POST /nodes/{id}/update", func(w http.ResponseWriter, r *http.Request) error {
		var spec swarm.NodeSpec
		if err := decodeBody(r, &spec); err != nil {
			return err
		}
		version, err := objectVersion(r, "node")
		if err != nil {
			return err
		}
		return ok200(w, s.b.NodeUpdate(r.Context(), r.PathValue("id"), version, spec))
	})

	// Services.
	h("GET /services", s.serviceList)
	h("POST /services/create", s.serviceCreate)
	h("GET /services/{id}", s.serviceInspect)
	h("POST /services/{id}/update", s.serviceUpdate)
	h("DELETE /services/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return ok200(w, s.b.ServiceRemove(r.Context(), r.PathValue("id")))
	})
	h("GET /services/{id}/logs", s.swarmLogs(false))

	// Tasks.
	h("GET /tasks", filteredList(s.b.TaskList))
	h("GET /tasks/{id}", inspect(s.b.TaskInspect))
	h("GET /tasks/{id}/logs", s.swarmLogs(true))

	// Secrets.
	h("GET /secrets", filteredList(s.b.SecretList))
	h("POST /secrets/create", func(w http.ResponseWriter, r *http.Request) error {
		var spec swarm.SecretSpec
		if err := decodeBody(r, &spec); err != nil {
			return err
		}
		if err := templatingSupported(r, "secret", spec.Templating); err != nil {
			return err
		}
		id, err := s.b.SecretCreate(r.Context(), spec)
		if err != nil {
			return err
		}
		writeJSON(w, 201, swarm.SecretCreateResponse{ID: id})
		return nil
	})
	h("GET /secrets/{id}", inspect(s.b.SecretInspect))
	h("POST /secrets/{id}/update", func(w http.ResponseWriter, r *http.Request) error {
		var spec swarm.SecretSpec
		if err := decodeBody(r, &spec); err != nil {
			return err
		}
		version, err := objectVersion(r, "secret")
		if err != nil {
			return err
		}
		return ok200(w, s.b.SecretUpdate(r.Context(), r.PathValue("id"), version, spec))
	})
	h("DELETE /secrets/{id}", s.simple(func(r *http.Request, id string) error { return s.b.SecretRemove(r.Context(), id) }, 204))

	// Configs.
	h("GET /configs", filteredList(s.b.ConfigList))
	h("POST /configs/create", func(w http.ResponseWriter, r *http.Request) error {
		var spec swarm.ConfigSpec
		if err := decodeBody(r, &spec); err != nil {
			return err
		}
		if err := templatingSupported(r, "config", spec.Templating); err != nil {
			return err
		}
		id, err := s.b.ConfigCreate(r.Context(), spec)
		if err != nil {
			return err
		}
		writeJSON(w, 201, swarm.ConfigCreateResponse{ID: id})
		return nil
	})
	h("GET /configs/{id}", inspect(s.b.ConfigInspect))
	h("POST /configs/{id}/update", func(w http.ResponseWriter, r *http.Request) error {
		var spec swarm.ConfigSpec
		if err := decodeBody(r, &spec); err != nil {
			return err
		}
		version, err := objectVersion(r, "config")
		if err != nil {
			return err
		}
		return ok200(w, s.b.ConfigUpdate(r.Context(), r.PathValue("id"), version, spec))
	})
	h("DELETE /configs/{id}", s.simple(func(r *http.Request, id string) error { return s.b.ConfigRemove(r.Context(), id) }, 204))
}

// ok200 answers an empty 200, as dockerd does for the swarm calls that
// return nothing (join, leave, update, unlock, node and service removal),
// or passes err on.
func ok200(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(200)
	return nil
}

// filteredList serves a list whose only input is the filters query; an
// empty result is [] rather than null.
func filteredList[T any](list func(context.Context, Filters) ([]T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseFilters(r.URL.Query().Get("filters"))
		if err != nil {
			return err
		}
		items, err := list(r.Context(), f)
		if err != nil {
			return err
		}
		if items == nil {
			items = []T{}
		}
		writeJSON(w, 200, items)
		return nil
	}
}

// inspect serves GET /{kind}/{id}.
func inspect[T any](get func(context.Context, string) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	}
}

// apiVersion is the API version the request was made with (the server's
// own for an unversioned path).
func apiVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey).(string); ok && v != "" {
		return v
	}
	return APIVersion
}

// objectVersion reads the version query of an update: the Version.Index
// of the object as the client read it, without which swarm refuses the
// write. The error is dockerd's, which says less for secrets and configs.
func objectVersion(r *http.Request, kind string) (uint64, error) {
	raw := r.URL.Query().Get("version")
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		if kind == "secret" || kind == "config" {
			return 0, badRequest("invalid " + kind + " version")
		}
		return 0, badRequest(fmt.Sprintf("invalid %s version '%s': %v", kind, raw, err))
	}
	return v, nil
}

// strictBool reads a boolean query parameter the way dockerd reads the
// swarm flags: absent is false, anything strconv.ParseBool refuses is a
// 400 "invalid value for NAME: VALUE" (with the parse error after it when
// withCause is set, as for status and insertDefaults).
func strictBool(q url.Values, name string, withCause bool) (bool, error) {
	raw := q.Get(name)
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		msg := fmt.Sprintf("invalid value for %s: %s", name, raw)
		if withCause {
			msg += ": " + err.Error()
		}
		return false, badRequest(msg)
	}
	return v, nil
}

// templatingSupported refuses a secret or config template from a client
// older than API 1.37, which could not have asked for one.
func templatingSupported(r *http.Request, kind string, templating *swarm.Driver) error {
	if v := apiVersion(r); templating != nil && versionLess(v, "1.37") {
		return badRequest(fmt.Sprintf("%s templating is not supported on the specified API version: %s", kind, v))
	}
	return nil
}

func (s *Server) swarmInit(w http.ResponseWriter, r *http.Request) error {
	var req swarm.InitRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v := apiVersion(r)
	if versionLess(v, "1.39") { // address pools came in 1.39
		req.DefaultAddrPool = nil
		req.SubnetSize = 0
	}
	if versionLess(v, "1.40") { // the data path port in 1.40
		req.DataPathPort = 0
	}
	id, err := s.b.SwarmInit(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, 200, id)
	return nil
}

func (s *Server) swarmUpdate(w http.ResponseWriter, r *http.Request) error {
	var spec swarm.Spec
	if err := decodeBody(r, &spec); err != nil {
		return err
	}
	version, err := objectVersion(r, "swarm")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var flags backend.SwarmUpdateFlags
	for _, f := range []struct {
		name string
		v    *bool
	}{
		{"rotateWorkerToken", &flags.RotateWorkerToken},
		{"rotateManagerToken", &flags.RotateManagerToken},
		{"rotateManagerUnlockKey", &flags.RotateManagerUnlockKey},
	} {
		if *f.v, err = strictBool(q, f.name, false); err != nil {
			return err
		}
	}
	return ok200(w, s.b.SwarmUpdate(r.Context(), version, spec, flags))
}

func (s *Server) serviceList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	var status bool
	if !versionLess(apiVersion(r), "1.41") { // older clients cannot ask for it
		if status, err = strictBool(q, "status", true); err != nil {
			return err
		}
	}
	services, err := s.b.ServiceList(r.Context(), f, status)
	if err != nil {
		return err
	}
	if services == nil {
		services = []swarm.Service{}
	}
	writeJSON(w, 200, services)
	return nil
}

func (s *Server) serviceInspect(w http.ResponseWriter, r *http.Request) error {
	insertDefaults, err := strictBool(r.URL.Query(), "insertDefaults", true)
	if err != nil {
		return err
	}
	svc, err := s.b.ServiceInspect(r.Context(), r.PathValue("id"), insertDefaults)
	if err != nil {
		return err
	}
	writeJSON(w, 200, svc)
	return nil
}

func (s *Server) serviceCreate(w http.ResponseWriter, r *http.Request) error {
	var spec swarm.ServiceSpec
	if err := decodeBody(r, &spec); err != nil {
		return err
	}
	adjustServiceSpec(apiVersion(r), &spec)
	resp, err := s.b.ServiceCreate(r.Context(), spec, r.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	writeJSON(w, 201, resp)
	return nil
}

func (s *Server) serviceUpdate(w http.ResponseWriter, r *http.Request) error {
	var spec swarm.ServiceSpec
	if err := decodeBody(r, &spec); err != nil {
		return err
	}
	version, err := objectVersion(r, "service")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := backend.ServiceUpdateOptions{
		EncodedRegistryAuth: r.Header.Get("X-Registry-Auth"),
		RegistryAuthFrom:    q.Get("registryAuthFrom"),
		Rollback:            q.Get("rollback"),
	}
	adjustServiceSpec(apiVersion(r), &spec)
	resp, err := s.b.ServiceUpdate(r.Context(), r.PathValue("id"), version, spec, opts)
	if err != nil {
		return err
	}
	writeJSON(w, 200, resp)
	return nil
}

// adjustServiceSpec clears the fields of a service spec that the client's
// API version did not have, as dockerd does: an older client cannot have
// meant them, whatever its JSON happens to carry.
func adjustServiceSpec(v string, spec *swarm.ServiceSpec) {
	cs := spec.TaskTemplate.ContainerSpec
	if versionLess(v, "1.40") {
		if cs != nil {
			cs.Sysctls = nil
			if cs.Privileges != nil && cs.Privileges.CredentialSpec != nil {
				cs.Privileges.CredentialSpec.Config = ""
			}
			for _, c := range cs.Configs {
				if c != nil {
					c.Runtime = nil
				}
			}
		}
		if spec.TaskTemplate.Placement != nil {
			spec.TaskTemplate.Placement.MaxReplicas = 0
		}
	}
	if versionLess(v, "1.41") {
		if cs != nil {
			cs.CapabilityAdd, cs.CapabilityDrop, cs.Ulimits = nil, nil, nil
		}
		if res := spec.TaskTemplate.Resources; res != nil && res.Limits != nil {
			res.Limits.Pids = 0
		}
		spec.Mode.ReplicatedJob, spec.Mode.GlobalJob = nil, nil
	}
	if versionLess(v, "1.44") && cs != nil {
		if p := cs.Privileges; p != nil {
			p.Seccomp, p.AppArmor, p.NoNewPrivileges = nil, nil, false
		}
		if cs.Healthcheck != nil {
			cs.Healthcheck.StartInterval = 0
		}
	}
	if versionLess(v, "1.46") && cs != nil {
		cs.OomScoreAdj = 0
		for i := range cs.Mounts {
			if t := cs.Mounts[i].TmpfsOptions; t != nil {
				t.Options = nil
			}
		}
	}
}

// swarmLogs serves GET /services/{id}/logs (task false) and
// /tasks/{id}/logs. The stream is multiplexed as container logs are unless
// the service or task has a tty; each line is prefixed with its details
// (?details=1) and then its time (?timestamps=1).
func (s *Server) swarmLogs(task bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		opts := backend.ServiceLogsOptions{
			Task:       task,
			Stdout:     boolQuery(q.Get("stdout")),
			Stderr:     boolQuery(q.Get("stderr")),
			Follow:     boolQuery(q.Get("follow")),
			Timestamps: boolQuery(q.Get("timestamps")),
			Details:    boolQuery(q.Get("details")),
			Tail:       q.Get("tail"),
		}
		// Everything is checked before the stream starts: after the 200
		// an error can only be a line in the stream.
		if !opts.Stdout && !opts.Stderr {
			return badRequest("Bad parameters: you must choose at least one stream")
		}
		if v := q.Get("since"); v != "" {
			since, err := parseTime(v)
			if err != nil {
				return fmt.Errorf("could not parse since timestamp: %w", err)
			}
			opts.Since = since
		}
		switch opts.Tail {
		case "", "all":
			opts.Tail = "all"
		default:
			n, err := strconv.Atoi(opts.Tail)
			if err != nil {
				return badRequest(`tail value must be a positive integer or "all"`)
			}
			if n < 0 {
				return badRequest("negative tail values not supported")
			}
		}
		id := r.PathValue("id")
		tty, err := s.logsTTY(r.Context(), id, task)
		if err != nil {
			return err
		}
		out := &swarmLogStream{w: w, opts: opts, tty: tty, ctype: "application/vnd.docker.raw-stream"}
		if !tty && !versionLess(apiVersion(r), "1.42") {
			out.ctype = "application/vnd.docker.multiplexed-stream"
		}
		out.flusher, _ = w.(http.Flusher)
		if opts.Follow {
			// A follower may wait long for a first line: answer now.
			out.start()
		}
		err = s.b.ServiceLogs(r.Context(), id, opts, out.write)
		return out.finish(r.Context(), err)
	}
}

// logsTTY reports whether the service's (or task's) container has a tty,
// which makes its logs a raw stream; it also answers 404 or 503 for a
// service or task that cannot be read before any stream starts.
func (s *Server) logsTTY(ctx context.Context, id string, task bool) (bool, error) {
	if task {
		t, err := s.b.TaskInspect(ctx, id)
		if err != nil {
			return false, err
		}
		return t.Spec.ContainerSpec != nil && t.Spec.ContainerSpec.TTY, nil
	}
	svc, err := s.b.ServiceInspect(ctx, id, false)
	if err != nil {
		return false, err
	}
	cs := svc.Spec.TaskTemplate.ContainerSpec
	return cs != nil && cs.TTY, nil
}

// swarmLogStream writes the log messages of one request. The 200 is sent
// with the first line (at once when following), so an error before any
// line is still an ordinary HTTP error.
type swarmLogStream struct {
	w       http.ResponseWriter
	flusher http.Flusher
	opts    backend.ServiceLogsOptions
	tty     bool
	ctype   string

	mu      sync.Mutex
	started bool
	mux     *muxWriter
}

// start sends the response header; it holds no lock (callers do, or run
// before any write can).
func (l *swarmLogStream) start() {
	if l.started {
		return
	}
	l.started = true
	l.w.Header().Set("Content-Type", l.ctype)
	l.w.WriteHeader(200)
	l.mux = &muxWriter{w: l.w}
	if l.flusher != nil {
		l.flusher.Flush()
	}
}

// write sends one message as one frame (the CLI's `service logs` relies on
// a frame being a whole line), dropping the streams not asked for.
func (l *swarmLogStream) write(m backend.ServiceLogMessage) error {
	var stream byte
	switch {
	case m.Stream == "stdout" && l.opts.Stdout:
		stream = 1
	case m.Stream == "stderr" && l.opts.Stderr:
		stream = 2
	default:
		return nil
	}
	line := formatLogLine(m, l.opts)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.start()
	var err error
	if l.tty {
		_, err = l.w.Write(line)
	} else {
		err = l.mux.writeFrame(stream, line)
	}
	if l.flusher != nil && l.opts.Follow {
		l.flusher.Flush()
	}
	return err
}

// finish ends the stream after the backend returned err: before the first
// line err is the response; after it, dockerd's "Error grabbing logs"
// line (on the system-error stream when multiplexed). A client that went
// away gets nothing.
func (l *swarmLogStream) finish(ctx context.Context, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		if err != nil {
			return err
		}
		l.start()
		return nil
	}
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return nil
	}
	msg := []byte("Error grabbing logs: " + errMessage(err) + "\n")
	if l.tty {
		_, _ = l.w.Write(msg)
	} else {
		_ = l.mux.writeFrame(3, msg)
	}
	if l.flusher != nil {
		l.flusher.Flush()
	}
	return nil
}

// formatLogLine is what dockerd sends for one message: with details the
// sorted, query-escaped "key=value" attributes joined by commas and a
// space, and before everything the time when timestamps are asked for.
func formatLogLine(m backend.ServiceLogMessage, opts backend.ServiceLogsOptions) []byte {
	var b []byte
	if opts.Timestamps {
		b = append(b, m.Time.UTC().Format(swarmLogTimeFormat)...)
		b = append(b, ' ')
	}
	if opts.Details {
		b = append(b, logDetails(m)...)
		b = append(b, ' ')
	}
	return append(b, m.Line...)
}

// logDetails renders the attributes of m, adding the node, service and
// task IDs from its fields when Attrs lacks them.
func logDetails(m backend.ServiceLogMessage) string {
	type attr struct{ k, v string }
	attrs := make([]attr, 0, len(m.Attrs)+3)
	have := map[string]bool{}
	for _, a := range m.Attrs {
		k, v, _ := strings.Cut(a, "=")
		attrs = append(attrs, attr{k, v})
		have[k] = true
	}
	for _, a := range []attr{{attrNodeID, m.NodeID}, {attrServiceID, m.ServiceID}, {attrTaskID, m.TaskID}} {
		if !have[a.k] && a.v != "" {
			attrs = append(attrs, a)
		}
	}
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].k < attrs[j].k })
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = url.QueryEscape(a.k) + "=" + url.QueryEscape(a.v)
	}
	return strings.Join(parts, ",")
}

// swarmStatus is the Swarm header of /_ping: "inactive", "pending",
// "error", "locked", "active/worker" or "active/manager" (the docker CLI
// hides the manager-only commands from a node that is not one).
func swarmStatus(info swarm.Info) string {
	switch info.LocalNodeState {
	case "":
		return string(swarm.LocalNodeStateInactive)
	case swarm.LocalNodeStateActive:
		if info.ControlAvailable {
			return "active/manager"
		}
		return "active/worker"
	}
	return string(info.LocalNodeState)
}

// pingSwarmTimeout bounds how long /_ping waits for the swarm state.
const pingSwarmTimeout = time.Second
