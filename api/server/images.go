package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	apicontainer "github.com/moby/moby/api/types/container"
	apiimage "github.com/moby/moby/api/types/image"
)

// imageCreate is POST /images/create: import (fromSrc) or pull (fromImage).
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "" {
		if src != "-" {
			return &statusError{http.StatusNotImplemented, "importing from a URL is not supported yet; pipe the tar to `import -`"}
		}
		repo, tag := q.Get("repo"), q.Get("tag")
		id, err := s.b.ImageImport(r.Context(), r.Body, ImageImportOptions{
			Repo: repo, Tag: tag, Changes: q["changes"], Message: q.Get("message"), Platform: q.Get("platform"),
		})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": id})
		return nil
	}
	if img := q.Get("fromImage"); img != "" {
		return s.imagePull(w, r, img)
	}
	return badRequest("fromSrc or fromImage is required")
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	if fl := q.Get("filter"); fl != "" {
		// Legacy single reference filter.
		if f["reference"] == nil {
			f["reference"] = map[string]bool{}
		}
		f["reference"][fl] = true
	}
	imgs, err := s.b.ImageList(r.Context(), ImageListOptions{All: boolQuery(q.Get("all")), Filters: f, Digests: boolQuery(q.Get("digests"))})
	if err != nil {
		return err
	}
	writeJSON(w, 200, imgs)
	return nil
}

// imageGetDispatch serves GET /images/{name}/json|history|get.
func (s *Server) imageGetDispatch(w http.ResponseWriter, r *http.Request) error {
	p := r.PathValue("name")
	switch {
	case strings.HasSuffix(p, "/json"):
		img, err := s.b.ImageInspect(r.Context(), strings.TrimSuffix(p, "/json"))
		if err != nil {
			return err
		}
		if v := apiVersion(r); versionLess(v, "1.52") {
			out, err := legacyImageInspect(img, v)
			if err != nil {
				return err
			}
			writeJSON(w, 200, out)
			return nil
		}
		writeJSON(w, 200, img)
	case strings.HasSuffix(p, "/history"):
		h, err := s.b.ImageHistory(r.Context(), strings.TrimSuffix(p, "/history"))
		if err != nil {
			return err
		}
		if h == nil {
			h = []apiimage.HistoryResponseItem{}
		}
		writeJSON(w, 200, h)
	case strings.HasSuffix(p, "/get"):
		return s.export(w, r, []string{strings.TrimSuffix(p, "/get")})
	default:
		return &statusError{http.StatusNotFound, "page not found"}
	}
	return nil
}

func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) error {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		return badRequest("no images specified")
	}
	return s.export(w, r, names)
}

// export streams a save. Errors found before any byte was written are
// reported normally; later ones cut the stream.
func (s *Server) export(w http.ResponseWriter, r *http.Request, names []string) error {
	for _, n := range names {
		if _, err := s.b.ImageInspect(r.Context(), n); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(200)
	if err := s.b.ImageExport(r.Context(), names, w); err != nil {
		s.log.Warn("image save failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	// "quiet" only silences progress bars; the "Loaded image" lines are
	// always sent, as dockerd does.
	w.Header().Set("Content-Type", "application/json")
	var lines []string
	err := s.b.ImageLoad(r.Context(), r.Body, func(line string) { lines = append(lines, line) })
	if err != nil {
		return err
	}
	w.WriteHeader(200)
	enc := json.NewEncoder(w)
	for _, l := range lines {
		_ = enc.Encode(map[string]string{"stream": l + "\n"})
	}
	return nil
}

// imagePostDispatch serves POST /images/{name}/tag and /push.
func (s *Server) imagePostDispatch(w http.ResponseWriter, r *http.Request) error {
	p := r.PathValue("name")
	switch {
	case strings.HasSuffix(p, "/tag"):
		q := r.URL.Query()
		if q.Get("repo") == "" {
			return badRequest("repo is required")
		}
		if err := s.b.ImageTag(r.Context(), strings.TrimSuffix(p, "/tag"), q.Get("repo"), q.Get("tag")); err != nil {
			return err
		}
		w.WriteHeader(201)
		return nil
	case strings.HasSuffix(p, "/push"):
		return s.imagePush(w, r, strings.TrimSuffix(p, "/push"))
	}
	return &statusError{http.StatusNotFound, "page not found"}
}

func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	resp, err := s.b.ImageDelete(r.Context(), r.PathValue("name"), boolQuery(q.Get("force")), boolQuery(q.Get("noprune")))
	if err != nil {
		return err
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) commit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var cfg apicontainer.Config
	hasCfg := false
	if r.ContentLength != 0 {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(body))) > 0 && string(body) != "null" {
			if err := json.Unmarshal(body, &cfg); err != nil {
				return badRequest("invalid JSON body: " + err.Error())
			}
			hasCfg = true
		}
	}
	opts := CommitOptions{
		Repo: q.Get("repo"), Tag: q.Get("tag"), Author: q.Get("author"), Comment: q.Get("comment"),
		Changes: q["changes"], Pause: q.Get("pause") == "" || boolQuery(q.Get("pause")),
	}
	if hasCfg {
		opts.Config = &cfg
	}
	id, err := s.b.ContainerCommit(r.Context(), q.Get("container"), opts)
	if err != nil {
		return err
	}
	writeJSON(w, 201, map[string]string{"Id": id})
	return nil
}

// legacyImageInspect adds the fields that older API versions had and
// clients still read: Parent and DockerVersion (before 1.52),
// VirtualSize (before 1.44), and Container and ContainerConfig. Docker
// dropped those two at 1.45, but docker-compose 1.29 negotiates the
// newest version and reads ContainerConfig.Volumes on every recreate (it
// crashes on Docker 25+ for that), so berth keeps them below 1.52. Its
// images have no building container: they are empty, as Docker's are for
// images the classic builder did not make.
func legacyImageInspect(img *apiimage.InspectResponse, version string) (map[string]any, error) {
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	for _, k := range []string{"Parent", "DockerVersion", "Author", "Comment"} {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	if _, ok := out["ContainerConfig"]; !ok {
		out["Container"] = ""
		out["ContainerConfig"] = emptyContainerConfig()
	}
	if versionLess(version, "1.44") {
		out["VirtualSize"] = img.Size
	}
	return out, nil
}

// emptyContainerConfig is a container config with nothing set, in the
// shape Docker gave an image's ContainerConfig.
func emptyContainerConfig() map[string]any {
	return map[string]any{
		"Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
		"AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": nil,
		"Cmd": nil, "Image": "", "Volumes": nil, "WorkingDir": "", "Entrypoint": nil, "OnBuild": nil,
		"Labels": nil,
	}
}
