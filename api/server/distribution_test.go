package server

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// TestDistributionRoute: GET /distribution/{name}/json parses the name as
// dockerd does (400 for a bad one, 500 for a bare image ID, :latest when
// there is no tag), hands the backend the familiar reference and the auth
// header, and answers the backend's errors with their status.
func TestDistributionRoute(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		path, auth string
		code       int
		contains   string
		ref        string // what the backend received ("" = not called)
	}{
		{"/distribution/busybox/json", "", 200, `"Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","size":528}`, "busybox:latest"},
		{"/v1.51/distribution/busybox/json", "", 200, `"Platforms":[{"architecture":"amd64","os":"linux"}]`, "busybox:latest"},
		{"/distribution/docker.io/library/redis:7/json", "", 200, digest, "redis:7"},
		{"/distribution/localhost:5000/a/b/json", "", 200, digest, "localhost:5000/a/b:latest"},
		{"/distribution/localhost:5000/a/b@" + digest + "/json", "", 200, digest, "localhost:5000/a/b@" + digest},
		{"/distribution/UPPER/json", "", 400, "invalid reference format", ""},
		{"/distribution/a:b:c/json", "", 400, "invalid reference format", ""},
		{"/distribution/" + strings.Repeat("ab", 32) + "/json", "", 500, "no manifest found for full image ID", ""},
		{"/distribution/nosuch/app/json", "", 404, `{"message":"manifest unknown: manifest unknown"}`, "nosuch/app:latest"},
		{"/distribution/localhost:5000/private/json", "", 401, `{"message":"unauthorized: authentication required"}`, "localhost:5000/private:latest"},
		{"/distribution/localhost:5000/private/json", "e30=", 200, digest, "localhost:5000/private:latest"},
		{"/distribution/busybox", "", 404, "page not found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f := &fakeBackend{}
			s, _ := newTestServer(t, f)
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("X-Registry-Auth", tt.auth)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("status %d body %q; want %d with %q", rec.Code, rec.Body.String(), tt.code, tt.contains)
			}
			args := f.lastArgs("DistributionInspect")
			switch {
			case tt.ref == "" && args != nil:
				t.Errorf("backend called with %v", args)
			case tt.ref != "" && (len(args) != 2 || args[0] != tt.ref || args[1] != tt.auth):
				t.Errorf("backend called with %v, want [%s %s]", args, tt.ref, tt.auth)
			}
		})
	}
}

// TestDistributionClient: the Engine API client decodes the answer and
// sends its encoded auth.
func TestDistributionClient(t *testing.T) {
	f := &fakeBackend{}
	_, cli := startUnix(t, newServerWith(t, f))
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p"}`))
	res, err := cli.DistributionInspect(context.Background(), "localhost:5000/private/app:v1", client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest.String() != "sha256:"+strings.Repeat("ab", 32) || len(res.Platforms) != 1 || res.Platforms[0].Architecture != "amd64" {
		t.Errorf("DistributionInspect = %+v", res)
	}
	if args := f.lastArgs("DistributionInspect"); len(args) != 2 || args[1] != auth {
		t.Errorf("backend got %v, want the auth header", args)
	}
	if _, err := cli.DistributionInspect(context.Background(), "nosuch", client.DistributionInspectOptions{}); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("DistributionInspect of a missing image: %v", err)
	}
}
