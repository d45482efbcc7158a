package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	registrytypes "github.com/moby/moby/api/types/registry"
)

// SearchOptions narrow a search (`docker search --limit --filter`).
type SearchOptions struct {
	Limit      int   // 1–100; 0 means 25, as Docker
	IsOfficial *bool // --filter is-official=
	Stars      int   // --filter stars=N: at least N
}

// hubIndex is where Docker Hub answers searches.
const hubIndex = "index.docker.io"

// Search asks a registry's v1 search API for term, as dockerd does: term
// is "name" (Docker Hub) or "host[:port]/name" (that registry, over plain
// HTTP when it is insecure). Registries that only speak the v2 API have
// no search and answer with an error, which is passed on.
func (c *Client) Search(ctx context.Context, term string, opts SearchOptions, ac registrytypes.AuthConfig) ([]registrytypes.SearchResult, error) {
	if opts.Limit == 0 {
		opts.Limit = 25
	}
	if opts.Limit < 1 || opts.Limit > 100 {
		return nil, fmt.Errorf("limit %d is outside the range of [1, 100]", opts.Limit)
	}
	host, query := hubIndex, term
	if i := strings.IndexByte(term, '/'); i > 0 && strings.ContainsAny(term[:i], ".:") || strings.HasPrefix(term, "localhost/") {
		host, query = term[:i], term[i+1:]
	}
	if host == "docker.io" || host == "registry-1.docker.io" {
		host = hubIndex
	}
	scheme := "https"
	if c.insecure(host) {
		scheme = "http"
	}
	u := fmt.Sprintf("%s://%s/v1/search?q=%s&n=%d", scheme, host, url.QueryEscape(query), opts.Limit)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "berth")
	if ac.Username != "" {
		req.SetBasicAuth(ac.Username, ac.Password)
	}
	resp, err := (&http.Client{Transport: c.transport(host)}).Do(req)
	if err != nil {
		return nil, err // dockerd's words: Get "https://index.docker.io/v1/search?…": dial tcp: …
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("unexpected status code %d from %s: %s", resp.StatusCode, u, strings.TrimSpace(string(body)))
	}
	var out registrytypes.SearchResults
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("search %s: bad answer from %s: %w", term, host, err)
	}
	res := make([]registrytypes.SearchResult, 0, len(out.Results))
	for _, r := range out.Results {
		if opts.IsOfficial != nil && r.IsOfficial != *opts.IsOfficial {
			continue
		}
		if r.StarCount < opts.Stars {
			continue
		}
		res = append(res, r)
		if len(res) == opts.Limit {
			break
		}
	}
	return res, nil
}

// ParseSearchFilters reads `docker search`'s filters: is-official and
// is-automated (booleans; automated builds are gone from Docker Hub, so
// is-automated=true matches nothing) and stars (a number).
func ParseSearchFilters(f map[string][]string) (SearchOptions, bool, error) {
	var o SearchOptions
	automatedOnly := false
	for k, vs := range f {
		for _, v := range vs {
			switch k {
			case "is-official":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return o, false, fmt.Errorf("invalid filter 'is-official=%s'", v)
				}
				o.IsOfficial = &b
			case "is-automated":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return o, false, fmt.Errorf("invalid filter 'is-automated=%s'", v)
				}
				automatedOnly = b
			case "stars":
				n, err := strconv.Atoi(v)
				if err != nil {
					return o, false, fmt.Errorf("invalid filter 'stars=%s'", v)
				}
				if n > o.Stars {
					o.Stars = n
				}
			default:
				return o, false, fmt.Errorf("invalid filter '%s'", k)
			}
		}
	}
	return o, automatedOnly, nil
}
