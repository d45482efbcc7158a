package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// buildMessage is one line of the JSON progress stream. "error" is
// deprecated but docker-py still reads it.
type buildMessage struct {
	Stream      string          `json:"stream,omitempty"`
	Aux         any             `json:"aux,omitempty"`
	ErrorDetail *buildErrDetail `json:"errorDetail,omitempty"`
	Error       string          `json:"error,omitempty"`
}

// buildStream writes the build's progress stream (see jsonStream).
type buildStream struct{ jsonStream }

func (b *buildStream) Stream(text string) { b.send(buildMessage{Stream: text}) }
func (b *buildStream) Aux(id string)      { b.send(buildMessage{Aux: map[string]string{"ID": id}}) }

func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if v := q.Get("version"); v == "2" {
		return badRequest("berth has the classic builder only: BuildKit (version=2) is not supported; unset DOCKER_BUILDKIT or set DOCKER_BUILDKIT=0")
	}
	if q.Get("remote") != "" {
		return &statusError{http.StatusNotImplemented, "berth cannot build from a remote context (git or URL) yet: send the context in the request body"}
	}
	opts := BuildOptions{
		Tags:        q["t"],
		Dockerfile:  q.Get("dockerfile"),
		Target:      q.Get("target"),
		NoCache:     boolQuery(q.Get("nocache")),
		Pull:        boolQuery(q.Get("pull")),
		NetworkMode: q.Get("networkmode"),
		Quiet:       boolQuery(q.Get("q")),
	}
	if opts.NetworkMode == "" {
		opts.NetworkMode = "default"
	}
	if v := q.Get("buildargs"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.BuildArgs); err != nil {
			return badRequest("invalid buildargs: " + err.Error())
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.Labels); err != nil {
			return badRequest("invalid labels: " + err.Error())
		}
	}
	for _, t := range opts.Tags {
		if strings.TrimSpace(t) == "" {
			return badRequest("invalid tag: empty")
		}
	}
	out := &buildStream{jsonStream{w: w}}
	id, err := s.b.ImageBuild(r.Context(), r.Body, opts, out)
	if err != nil {
		if !out.isStarted() {
			return err
		}
		msg := errMessage(err)
		out.send(buildMessage{ErrorDetail: &buildErrDetail{Code: statusCodeOrZero(err), Message: msg}, Error: msg})
		return nil
	}
	if opts.Quiet {
		out.Stream(id + "\n")
	}
	return nil
}

// statusCodeOrZero is the exit code Docker puts in a build error's
// detail: the RUN's code when the error says so, else 0.
func statusCodeOrZero(err error) int {
	msg := err.Error()
	const marker = "returned a non-zero code: "
	if i := strings.Index(msg, marker); i >= 0 {
		rest := msg[i+len(marker):]
		if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			rest = rest[:j]
		}
		if n, err := strconv.Atoi(rest); err == nil {
			return n
		}
	}
	return 0
}
