// Package apitest is a canned Engine API for the tests of berth's
// commands: a test server answering "METHOD /path" routes (without the
// /vX.Y prefix), a command.Cli talking to it, and Run, which runs a
// command line through a noun's command as the berth root would.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// Request is one call the server received.
type Request struct {
	Method, Path, Query string
	Body                []byte
}

// Server is the fake daemon.
type Server struct {
	mu       sync.Mutex
	requests []Request
	routes   map[string]http.HandlerFunc
}

// Requests returns the calls made so far (but /_ping).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Find returns the last call to "METHOD /path", if any.
func (s *Server) Find(route string) (Request, bool) {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method+" "+reqs[i].Path == route {
			return reqs[i], true
		}
	}
	return Request{}, false
}

// JSON answers v as JSON with status 200.
func JSON(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// Error answers status with the daemon's {"message": msg}.
func Error(status int, msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
}

// New starts a server with routes ("GET /swarm" → handler) and returns a
// Cli using it, with stdin in and its stdout and stderr.
func New(t *testing.T, in string, routes map[string]http.HandlerFunc) (*Server, *command.Cli, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	s := &Server{routes: routes}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(ts.Close)
	var out, errOut bytes.Buffer
	c := command.New(strings.NewReader(in), &out, &errOut)
	c.Host = "tcp://" + strings.TrimPrefix(ts.URL, "http://")
	t.Cleanup(c.Close)
	return s, c, &out, &errOut
}

// Run runs args ("node", "ls"…) under a "berth" root holding noun (the
// noun's management command, as made with c), its usage lines without
// "[flags]" as the real root makes them, and returns the command's error.
func Run(c *command.Cli, noun *cobra.Command, args ...string) error {
	root := &cobra.Command{Use: "berth", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(noun)
	for _, sub := range noun.Commands() {
		sub.DisableFlagsInUseLine = true
	}
	root.SetArgs(args)
	root.SetOut(c.Out)
	return root.ExecuteContext(context.Background())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/v1.") {
		if i := strings.Index(p[1:], "/"); i > 0 {
			p = p[i+1:]
		}
	}
	if p == "/_ping" {
		w.Header().Set("Api-Version", "1.51")
		_, _ = w.Write([]byte("OK"))
		return
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: p, Query: r.URL.RawQuery, Body: body.Bytes()})
	h, ok := s.routes[r.Method+" "+p]
	s.mu.Unlock()
	if !ok {
		Error(http.StatusNotFound, "page not found: "+r.Method+" "+p)(w, r)
		return
	}
	h(w, r)
}
