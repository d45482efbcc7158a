package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
)

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	var req apicontainer.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Config == nil {
		return badRequest("config cannot be empty in order to create a container")
	}
	if p := r.URL.Query().Get("platform"); p != "" {
		if err := s.checkPlatform(r, req.Config.Image, p); err != nil {
			return err
		}
	}
	resp, err := s.b.ContainerCreate(r.Context(), r.URL.Query().Get("name"), req.Config, req.HostConfig, req.NetworkingConfig)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, 201, resp)
	return nil
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil {
			return badRequest("invalid limit")
		}
	}
	list, err := s.b.ContainerList(r.Context(), ContainerListOptions{All: boolQuery(q.Get("all")), Limit: limit, Size: boolQuery(q.Get("size")), Filters: f})
	if err != nil {
		return err
	}
	writeJSON(w, 200, list)
	return nil
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	c, err := s.b.ContainerInspect(r.Context(), r.PathValue("id"), boolQuery(r.URL.Query().Get("size")))
	if err != nil {
		return err
	}
	if c != nil && c.NetworkSettings != nil && versionLess(apiVersion(r), "1.52") {
		writeJSON(w, 200, withLegacyNetworkFields(c))
		return nil
	}
	writeJSON(w, 200, c)
	return nil
}

// legacyInspect is a container's inspect answer for API versions before
// 1.52, whose NetworkSettings also carry the default bridge network's
// endpoint at the top level (`{{.NetworkSettings.IPAddress}}`), as
// Docker's do; empty when the container is not on that network.
type legacyInspect struct {
	*apicontainer.InspectResponse
	NetworkSettings legacyNetworkSettings
}

type legacyNetworkSettings struct {
	*apicontainer.NetworkSettings
	EndpointID          string
	Gateway             string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	MacAddress          string
}

func withLegacyNetworkFields(c *apicontainer.InspectResponse) legacyInspect {
	ns := legacyNetworkSettings{NetworkSettings: c.NetworkSettings}
	if ep := c.NetworkSettings.Networks["bridge"]; ep != nil {
		ns.EndpointID = ep.EndpointID
		ns.IPPrefixLen, ns.GlobalIPv6PrefixLen = ep.IPPrefixLen, ep.GlobalIPv6PrefixLen
		ns.MacAddress = ep.MacAddress.String()
		for dst, a := range map[*string]netip.Addr{&ns.Gateway: ep.Gateway, &ns.IPAddress: ep.IPAddress, &ns.IPv6Gateway: ep.IPv6Gateway, &ns.GlobalIPv6Address: ep.GlobalIPv6Address} {
			if a.IsValid() {
				*dst = a.String()
			}
		}
	}
	return legacyInspect{InspectResponse: c, NetworkSettings: ns}
}

func timeoutQuery(r *http.Request) (*int, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		v = r.URL.Query().Get("timeout")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, badRequest("invalid timeout: " + v)
	}
	return &n, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	t, err := timeoutQuery(r)
	if err != nil {
		return err
	}
	if err := s.b.ContainerStop(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal"), t); err != nil {
		return err
	}
	w.WriteHeader(204)
	return nil
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	t, err := timeoutQuery(r)
	if err != nil {
		return err
	}
	if err := s.b.ContainerRestart(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal"), t); err != nil {
		return err
	}
	w.WriteHeader(204)
	return nil
}

// containerWait flushes the headers at once (clients rely on it to know
// the wait is registered), then sends the result when it comes.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	cond := apicontainer.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", apicontainer.WaitConditionNotRunning, apicontainer.WaitConditionNextExit, apicontainer.WaitConditionRemoved:
	default:
		return badRequest("invalid condition: " + string(cond))
	}
	ch, err := s.b.ContainerWait(r.Context(), r.PathValue("id"), cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil
		}
		_ = json.NewEncoder(w).Encode(resp)
	case <-r.Context().Done():
	}
	return nil
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		return err
	}
	tail := -1
	if t := q.Get("tail"); t != "" && t != "all" {
		if tail, err = strconv.Atoi(t); err != nil || tail < 0 {
			return badRequest("invalid tail: " + t)
		}
	}
	opts := LogsOptions{Stdout: boolQuery(q.Get("stdout")), Stderr: boolQuery(q.Get("stderr")), Follow: boolQuery(q.Get("follow")),
		Since: since, Until: until, Tail: tail, Timestamps: boolQuery(q.Get("timestamps"))}
	started := false
	var tty bool
	var out *muxWriter
	flusher, _ := w.(http.Flusher)
	begin := func(isTTY bool) {
		if started {
			return
		}
		tty = isTTY
		if tty {
			w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
		} else {
			w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		}
		w.WriteHeader(200)
		started = true
		out = &muxWriter{w: w}
		if flusher != nil {
			flusher.Flush()
		}
	}
	err = s.b.ContainerLogs(r.Context(), r.PathValue("id"), opts, begin, func(stream string, line []byte, t time.Time) error {
		begin(false) // a backend that never said: assume no tty
		if opts.Timestamps {
			line = append([]byte(t.UTC().Format(time.RFC3339Nano)+" "), line...)
		}
		var err error
		if tty {
			_, err = w.Write(line)
		} else {
			err = out.writeFrame(streamByte(stream), line)
		}
		if flusher != nil && opts.Follow {
			flusher.Flush()
		}
		return err
	})
	if err != nil && !started {
		return err
	}
	return nil
}

func streamByte(stream string) byte {
	if stream == "stderr" {
		return 2
	}
	return 1
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	t, err := s.b.ContainerTop(r.Context(), r.PathValue("id"), r.URL.Query().Get("ps_args"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, t)
	return nil
}

func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	stream := q.Get("stream") == "" || boolQuery(q.Get("stream"))
	if boolQuery(q.Get("one-shot")) {
		stream = false
	}
	started := false
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	err := s.b.ContainerStats(r.Context(), r.PathValue("id"), stream, func(st *apicontainer.StatsResponse) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			started = true
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	return nil
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	var req apicontainer.ExecCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	id, err := s.b.ExecCreate(r.Context(), r.PathValue("id"), &req)
	if err != nil {
		return err
	}
	writeJSON(w, 201, map[string]string{"Id": id})
	return nil
}

// checkPlatform refuses a create whose --platform the local image does
// not provide, in dockerd's words. dockerd answers 404, after which the
// docker CLI pulls that platform to run it under emulation; berth has no
// emulation, so it answers 400 and the CLI shows the reason instead of a
// pull. A missing image is left to the create.
func (s *Server) checkPlatform(r *http.Request, ref, want string) error {
	wantOS, wantArch, wantVariant, err := parsePlatform(want)
	if err != nil {
		return badRequest(fmt.Sprintf("invalid platform %q: %v", want, err))
	}
	img, err := s.b.ImageInspect(r.Context(), ref)
	if err != nil || img == nil {
		return nil
	}
	_, arch, _, _ := parsePlatform(img.Os + "/" + img.Architecture)
	if img.Os == wantOS && arch == wantArch && (wantVariant == "" || img.Variant == "" || img.Variant == wantVariant) {
		return nil
	}
	actual := img.Os + "/" + img.Architecture
	if img.Variant != "" {
		actual += "/" + img.Variant
	}
	return &statusError{http.StatusBadRequest, fmt.Sprintf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", ref, want, actual)}
}

// parsePlatform reads "os/arch[/variant]" (or an architecture alone,
// meaning linux), with the common architecture aliases.
func parsePlatform(p string) (os, arch, variant string, err error) {
	parts := strings.Split(strings.ToLower(p), "/")
	switch len(parts) {
	case 1:
		os, arch = "linux", parts[0]
	case 2:
		os, arch = parts[0], parts[1]
	case 3:
		os, arch, variant = parts[0], parts[1], parts[2]
	default:
		return "", "", "", fmt.Errorf("too many parts")
	}
	if os == "" || arch == "" {
		return "", "", "", fmt.Errorf("empty part")
	}
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	case "i386", "i686":
		arch = "386"
	}
	return os, arch, variant, nil
}
