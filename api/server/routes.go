package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/filters"
)

func (s *Server) routes() {
	m := s.mux
	h := func(pattern string, f func(http.ResponseWriter, *http.Request) error) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := f(w, r); err != nil && err != errHijacked {
				writeError(w, err)
			}
		})
	}
	// System.
	h("GET /_ping", s.ping)
	h("HEAD /_ping", s.ping)
	h("GET /version", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, 200, s.b.SystemVersion(r.Context()))
		return nil
	})
	h("GET /info", func(w http.ResponseWriter, r *http.Request) error {
		info, err := s.b.SystemInfo(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, info)
		return nil
	})
	h("GET /events", s.events)

	// Images.
	h("POST /images/create", s.imageCreate)
	h("GET /images/json", s.imageList)
	h("GET /images/get", s.imageSave)
	h("GET /images/{name...}", s.imageGetDispatch)
	h("POST /images/load", s.imageLoad)
	h("POST /images/prune", filtered(s.b.ImagesPrune))
	h("POST /images/{name...}", s.imagePostDispatch)
	h("DELETE /images/{name...}", s.imageDelete)
	h("POST /commit", s.commit)
	h("POST /build", s.build)
	h("POST /auth", s.auth)
	h("GET /distribution/{name...}", s.distributionInspect)

	// Containers.
	h("POST /containers/create", s.containerCreate)
	h("GET /containers/json", s.containerList)
	h("POST /containers/prune", filtered(s.b.ContainersPrune))
	h("GET /containers/{id}/json", s.containerInspect)
	h("POST /containers/{id}/start", s.simple(func(r *http.Request, id string) error { return s.b.ContainerStart(r.Context(), id) }, 204))
	h("POST /containers/{id}/stop", s.containerStop)
	h("POST /containers/{id}/restart", s.containerRestart)
	h("POST /containers/{id}/kill", s.simple(func(r *http.Request, id string) error {
		return s.b.ContainerKill(r.Context(), id, r.URL.Query().Get("signal"))
	}, 204))
	h("POST /containers/{id}/pause", s.simple(func(r *http.Request, id string) error { return s.b.ContainerPause(r.Context(), id) }, 204))
	h("POST /containers/{id}/unpause", s.simple(func(r *http.Request, id string) error { return s.b.ContainerUnpause(r.Context(), id) }, 204))
	h("POST /containers/{id}/rename", s.simple(func(r *http.Request, id string) error {
		return s.b.ContainerRename(r.Context(), id, r.URL.Query().Get("name"))
	}, 204))
	h("POST /containers/{id}/resize", s.simple(func(r *http.Request, id string) error {
		hgt, wid, err := sizeQuery(r)
		if err != nil {
			return err
		}
		return s.b.ContainerResize(r.Context(), id, hgt, wid)
	}, 200))
	h("POST /containers/{id}/wait", s.containerWait)
	h("DELETE /containers/{id}", s.simple(func(r *http.Request, id string) error {
		q := r.URL.Query()
		return s.b.ContainerRemove(r.Context(), id, boolQuery(q.Get("force")), boolQuery(q.Get("v")))
	}, 204))
	h("GET /containers/{id}/logs", s.containerLogs)
	h("POST /containers/{id}/attach", s.containerAttach)
	h("GET /containers/{id}/top", s.containerTop)
	h("GET /containers/{id}/stats", s.containerStats)
	h("GET /containers/{id}/changes", func(w http.ResponseWriter, r *http.Request) error {
		ch, err := s.b.ContainerChanges(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if ch == nil {
			ch = []apicontainer.FilesystemChange{}
		}
		writeJSON(w, 200, ch)
		return nil
	})
	h("GET /containers/{id}/export", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/x-tar")
		return s.b.ContainerExport(r.Context(), r.PathValue("id"), w)
	})
	h("HEAD /containers/{id}/archive", s.archiveHead)
	h("GET /containers/{id}/archive", s.archiveGet)
	h("PUT /containers/{id}/archive", s.archivePut)
	h("POST /containers/{id}/exec", s.execCreate)
	h("POST /exec/{id}/start", s.execStart)
	h("POST /exec/{id}/resize", func(w http.ResponseWriter, r *http.Request) error {
		hgt, wid, err := sizeQuery(r)
		if err != nil {
			return err
		}
		if err := s.b.ExecResize(r.Context(), r.PathValue("id"), hgt, wid); err != nil {
			return err
		}
		w.WriteHeader(200)
		return nil
	})
	h("GET /exec/{id}/json", func(w http.ResponseWriter, r *http.Request) error {
		e, err := s.b.ExecInspect(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, e)
		return nil
	})

	// Volumes.
	h("POST /volumes/create", s.volumeCreate)
	h("GET /volumes", filtered(s.b.VolumeList))
	h("POST /volumes/prune", filtered(s.b.VolumesPrune))
	h("GET /volumes/{name}", func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.b.VolumeInspect(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	})
	h("DELETE /volumes/{name}", s.simple(func(r *http.Request, name string) error {
		return s.b.VolumeRemove(r.Context(), name, boolQuery(r.URL.Query().Get("force")))
	}, 204))

	// Networks.
	h("GET /networks", filtered(s.b.NetworkList))
	h("GET /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		n, err := s.b.NetworkInspect(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, n)
		return nil
	})
	h("POST /networks/create", func(w http.ResponseWriter, r *http.Request) error {
		var req network.CreateRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		resp, err := s.b.NetworkCreate(r.Context(), req)
		if err != nil {
			return err
		}
		writeJSON(w, 201, resp)
		return nil
	})
	h("DELETE /networks/{id}", s.simple(func(r *http.Request, id string) error { return s.b.NetworkRemove(r.Context(), id) }, 204))
	h("POST /networks/{id}/connect", s.simple(func(r *http.Request, id string) error {
		var req network.ConnectRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		return s.b.NetworkConnect(r.Context(), id, req)
	}, 200))
	h("POST /networks/{id}/disconnect", s.simple(func(r *http.Request, id string) error {
		var req network.DisconnectRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		return s.b.NetworkDisconnect(r.Context(), id, req)
	}, 200))
	h("POST /networks/prune", filtered(s.b.NetworksPrune))

	// Swarm mode (swarm.go).
	s.swarmRoutes(h)

	h("GET /images/search", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f, err := parseFilters(q.Get("filters"))
		if err != nil {
			return err
		}
		limit := 0
		if v := q.Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil {
				return badRequest("invalid limit: " + v)
			}
		}
		res, err := s.b.ImageSearch(r.Context(), q.Get("term"), limit, f, r.Header.Get("X-Registry-Auth"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, res)
		return nil
	})

	// Plugins: berth runs none (its drivers are built in), so the list is
	// empty and every name is unknown — which `docker inspect NAME` needs,
	// as it asks for a plugin last. Installing one stays a 501 below.
	h("GET /plugins", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, 200, []struct{}{})
		return nil
	})
	h("GET /plugins/{name}/json", func(w http.ResponseWriter, r *http.Request) error {
		return &statusError{http.StatusNotFound, fmt.Sprintf("plugin %q not found", r.PathValue("name"))}
	})

	// Known Docker endpoints berth does not serve yet: a clear 501 rather
	// than a 404 that reads like a client bug.
	for _, p := range []string{
		"POST /containers/{id}/update", "GET /containers/{id}/attach/ws", "GET /system/df",
		"POST /session",
		"POST /build/prune", "/plugins/",
	} {
		h(p, func(w http.ResponseWriter, r *http.Request) error {
			return &statusError{http.StatusNotImplemented, fmt.Sprintf("%s %s is not implemented by berth yet", r.Method, r.URL.Path)}
		})
	}

	h("/", func(w http.ResponseWriter, r *http.Request) error {
		return &statusError{http.StatusNotFound, fmt.Sprintf("page not found: %s %s", r.Method, r.URL.Path)}
	})
}

// filtered serves the endpoints whose only input is the filters query:
// the lists and prunes of volumes and networks, container and image prune.
func filtered[T any](call func(context.Context, Filters) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseFilters(r.URL.Query().Get("filters"))
		if err != nil {
			return err
		}
		v, err := call(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	}
}

func notImplemented(msg string) func(http.ResponseWriter, *http.Request) error {
	return func(http.ResponseWriter, *http.Request) error { return &statusError{http.StatusNotImplemented, msg} }
}

// simple wraps a call on {id}/{name} that answers with an empty body.
func (s *Server) simple(f func(*http.Request, string) error, code int) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if id == "" {
			id = r.PathValue("name")
		}
		if err := f(r, id); err != nil {
			return err
		}
		w.WriteHeader(code)
		return nil
	}
}

func boolQuery(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func sizeQuery(r *http.Request) (uint, uint, error) {
	q := r.URL.Query()
	h, err1 := strconv.ParseUint(q.Get("h"), 10, 32)
	w, err2 := strconv.ParseUint(q.Get("w"), 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, badRequest("invalid resize height or width")
	}
	return uint(h), uint(w), nil
}

// parseFilters decodes the filters query; the shared parser answers 400
// for malformed JSON.
func parseFilters(raw string) (Filters, error) {
	return filters.Parse(raw)
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Docker-Experimental", "false")
	h.Set("Builder-Version", "1")
	sctx, cancel := context.WithTimeout(r.Context(), pingSwarmTimeout)
	h.Set("Swarm", swarmStatus(s.b.SwarmInfo(sctx)))
	cancel()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(200)
		return nil
	}
	w.WriteHeader(200)
	_, _ = io.WriteString(w, "OK")
	return nil
}

// parseTime reads a since/until value of /events as dockerd does (see
// filters.ParseTime); empty is no bound.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return filters.ParseTime(v, time.Now())
}

// eventFilters are the filter keys /events accepts, as dockerd's.
var eventFilters = []string{
	"config", "container", "daemon", "event", "image", "label", "network", "node",
	"plugin", "scope", "secret", "service", "type", "volume",
}

// eventTypes are the values of the type filter.
var eventTypes = []string{
	"builder", "config", "container", "daemon", "image", "network", "node", "plugin", "secret", "service", "volume",
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		return err
	}
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	if err := f.Validate(eventFilters...); err != nil {
		return err
	}
	if err := f.OneOf("type", eventTypes...); err != nil {
		return err
	}
	live := until.IsZero() || until.After(time.Now())
	past, future, cancel := s.b.SubscribeEvents(r.Context(), since, until, f, live)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	enc := json.NewEncoder(w)
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	for _, m := range past {
		_ = enc.Encode(m)
	}
	flush()
	if future == nil {
		return nil
	}
	var timeout <-chan time.Time
	if !until.IsZero() {
		timeout = time.After(time.Until(until))
	}
	for {
		select {
		case m, ok := <-future:
			if !ok {
				return nil
			}
			if err := enc.Encode(events.Message(m)); err != nil {
				return nil
			}
			flush()
		case <-timeout:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v, err := s.b.VolumeCreate(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

// decodeBody decodes a JSON body; an empty body leaves v as is.
func decodeBody(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return nil
		}
		return badRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

// archivePath is the path query of the archive endpoints; dockerd refuses
// an empty one rather than reading it as the container's root.
func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", badRequest("no path specified")
	}
	return p, nil
}

func (s *Server) archiveHead(w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := s.b.ContainerStatPath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(200)
	return nil
}

func setPathStat(w http.ResponseWriter, st *apicontainer.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
	return nil
}

func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	rc, st, err := s.b.ContainerArchivePath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(200)
	_, _ = io.Copy(w, rc)
	return nil
}

func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	err = s.b.ContainerExtractToDir(r.Context(), r.PathValue("id"), p, boolQuery(q.Get("copyUIDGID")), boolQuery(q.Get("noOverwriteDirNonDir")), r.Body)
	if err != nil {
		return err
	}
	w.WriteHeader(200)
	return nil
}
