package server

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBuildRoute(t *testing.T) {
	s, _ := newTestServer(t, &fakeBackend{})
	tests := []struct {
		name, query string
		code        int
		contains    []string
	}{
		{"ok", "t=x&buildargs=%7B%22a%22%3A%22b%22%7D", 200, []string{`{"stream":"Step 1/1 : FROM busybox\n"}`, `{"aux":{"ID":"sha256:abab`}},
		{"quiet prints the ID", "q=1", 200, []string{`{"stream":"sha256:abab`}},
		{"error before output is an HTTP error", "dockerfile=missing", 400, []string{`"message":"Cannot locate specified Dockerfile: missing"`}},
		{"error after output is in the stream", "target=fail", 200, []string{`"errorDetail":{"code":1,"message":"The command`, `"error":"The command`}},
		{"bad buildargs", "buildargs=nope", 400, []string{"invalid buildargs"}},
		{"bad labels", "labels=%5B1%5D", 400, []string{"invalid labels"}},
		{"buildkit", "version=2", 400, []string{"classic builder only"}},
		{"remote", "remote=https://example.com/x.git", 501, []string{"remote context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1.47/build?"+tt.query, strings.NewReader("tar")))
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			for _, c := range tt.contains {
				if !strings.Contains(rec.Body.String(), c) {
					t.Errorf("body lacks %s:\n%s", c, rec.Body)
				}
			}
		})
	}
}
