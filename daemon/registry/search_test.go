package registry

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	registrytypes "github.com/moby/moby/api/types/registry"
)

func TestSearch(t *testing.T) {
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/search" {
			http.NotFound(w, r)
			return
		}
		gotQuery = r.URL.RawQuery
		_ = json.NewEncoder(w).Encode(registrytypes.SearchResults{Query: r.URL.Query().Get("q"), Results: []registrytypes.SearchResult{
			{Name: "redis", StarCount: 100, IsOfficial: true},
			{Name: "someone/redis", StarCount: 2},
			{Name: "other/redis", StarCount: 50},
		}})
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://") // 127.0.0.1:PORT is insecure: plain HTTP
	c, err := New(Config{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, tc := range []struct {
		name  string
		opts  SearchOptions
		want  []string
		query string
	}{
		{"all", SearchOptions{}, []string{"redis", "someone/redis", "other/redis"}, "q=redis&n=25"},
		{"official", SearchOptions{IsOfficial: &yes}, []string{"redis"}, ""},
		{"stars", SearchOptions{Stars: 10}, []string{"redis", "other/redis"}, ""},
		{"limit", SearchOptions{Limit: 2}, []string{"redis", "someone/redis"}, "q=redis&n=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Search(context.Background(), host+"/redis", tc.opts, registrytypes.AuthConfig{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range res {
				names = append(names, r.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("results %v, want %v", names, tc.want)
			}
			if tc.query != "" && gotQuery != tc.query {
				t.Errorf("query %q, want %q", gotQuery, tc.query)
			}
		})
	}
	if _, err := c.Search(context.Background(), "x", SearchOptions{Limit: 101}, registrytypes.AuthConfig{}); err == nil || !strings.Contains(err.Error(), "outside the range") {
		t.Errorf("limit 101: %v", err)
	}
	// A registry without the v1 search API (v2 only): its answer is the error.
	v2only := httptest.NewServer(http.NotFoundHandler())
	defer v2only.Close()
	if _, err := c.Search(context.Background(), strings.TrimPrefix(v2only.URL, "http://")+"/x", SearchOptions{}, registrytypes.AuthConfig{}); err == nil || !strings.Contains(err.Error(), "unexpected status code 404") {
		t.Errorf("search on a v2-only registry: %v", err)
	}
}

func TestParseSearchFilters(t *testing.T) {
	for _, tc := range []struct {
		in        map[string][]string
		stars     int
		official  string
		automated bool
		bad       bool
	}{
		{in: map[string][]string{}, official: "unset"},
		{in: map[string][]string{"stars": {"3", "10"}}, stars: 10, official: "unset"},
		{in: map[string][]string{"is-official": {"true"}}, official: "true"},
		{in: map[string][]string{"is-automated": {"true"}}, official: "unset", automated: true},
		{in: map[string][]string{"stars": {"many"}}, bad: true},
		{in: map[string][]string{"is-official": {"maybe"}}, bad: true},
		{in: map[string][]string{"colour": {"red"}}, bad: true},
	} {
		o, auto, err := ParseSearchFilters(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%v: err %v", tc.in, err)
			continue
		}
		if tc.bad {
			continue
		}
		off := "unset"
		if o.IsOfficial != nil {
			off = map[bool]string{true: "true", false: "false"}[*o.IsOfficial]
		}
		if o.Stars != tc.stars || off != tc.official || auto != tc.automated {
			t.Errorf("%v: stars %d official %s automated %v", tc.in, o.Stars, off, auto)
		}
	}
}
