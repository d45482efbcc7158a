package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// jsonStream writes a JSON progress stream, one object per line, flushed
// as it goes (build, pull and push). The response header goes out with
// the first message, so an error before any output is an ordinary HTTP
// error.
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func (p *jsonStream) send(m any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(200)
		p.enc = json.NewEncoder(p.w)
		p.started = true
	}
	_ = p.enc.Encode(m)
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *jsonStream) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// progressStream writes the ProgressMessages of a pull or push.
type progressStream struct{ jsonStream }

func (p *progressStream) progress(m ProgressMessage) { p.send(m) }

// finish reports err in the stream when it has started (as Docker does),
// or returns it for an ordinary error response.
func (p *progressStream) finish(err error) error {
	if err == nil {
		return nil
	}
	if !p.isStarted() {
		return err
	}
	p.send(ProgressMessage{ErrorDetail: &buildErrDetail{Message: err.Error()}, Error: err.Error()})
	return nil
}

func (s *Server) imagePull(w http.ResponseWriter, r *http.Request, img string) error {
	q := r.URL.Query()
	ref := img
	if t := q.Get("tag"); t != "" && !strings.Contains(img, "@") {
		if strings.HasPrefix(t, "sha256:") {
			ref += "@" + t
		} else {
			ref += ":" + t
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return badRequest(fmt.Sprintf("invalid reference format: %s", ref))
	}
	named = reference.TagNameOnly(named)
	ps := &progressStream{jsonStream{w: w}}
	err = s.b.ImagePull(r.Context(), reference.FamiliarString(named), q.Get("platform"), r.Header.Get("X-Registry-Auth"), ps.progress)
	return ps.finish(err)
}

func (s *Server) imagePush(w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	ref := name
	if t := q.Get("tag"); t != "" {
		ref += ":" + t
	}
	ps := &progressStream{jsonStream{w: w}}
	err := s.b.ImagePush(r.Context(), ref, r.Header.Get("X-Registry-Auth"), ps.progress)
	return ps.finish(err)
}

func (s *Server) auth(w http.ResponseWriter, r *http.Request) error {
	var ac registry.AuthConfig
	if err := decodeBody(r, &ac); err != nil {
		return err
	}
	status, err := s.b.RegistryLogin(r.Context(), ac)
	if err != nil {
		return err
	}
	writeJSON(w, 200, registry.AuthResponse{Status: status})
	return nil
}

// distributionInspect serves GET /distribution/{name}/json: the registry's
// descriptor and platforms for an image reference. As dockerd, a name that
// does not parse is a 400, a bare image ID a 500 (there is no registry to
// ask), and a reference without tag or digest means :latest.
func (s *Server) distributionInspect(w http.ResponseWriter, r *http.Request) error {
	p := r.PathValue("name")
	if !strings.HasSuffix(p, "/json") {
		return &statusError{http.StatusNotFound, fmt.Sprintf("page not found: %s %s", r.Method, r.URL.Path)}
	}
	name := strings.TrimSuffix(p, "/json")
	ref, err := reference.ParseAnyReference(name)
	if err != nil {
		return badRequest(err.Error())
	}
	named, ok := ref.(reference.Named)
	if !ok {
		if _, ok := ref.(reference.Digested); ok {
			return errors.New("no manifest found for full image ID")
		}
		return badRequest("unknown image reference format: " + name)
	}
	if _, ok := named.(reference.Canonical); !ok {
		named = reference.TagNameOnly(named)
	}
	di, err := s.b.DistributionInspect(r.Context(), reference.FamiliarString(named), r.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, di)
	return nil
}
