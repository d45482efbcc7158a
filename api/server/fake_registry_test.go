package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func (f *fakeBackend) ImagePull(ctx context.Context, ref, platform, auth string, out func(ProgressMessage)) error {
	f.hit("ImagePull")
	if strings.Contains(ref, "nosuch") {
		return fmt.Errorf("pull access denied for nosuch: %w", errdefs.ErrNotFound)
	}
	out(ProgressMessage{Status: "Pulling from library/" + ref})
	return nil
}

func (f *fakeBackend) ImagePush(ctx context.Context, ref, auth string, out func(ProgressMessage)) error {
	f.hit("ImagePush")
	out(ProgressMessage{Status: "The push refers to repository [" + ref + "]"})
	return nil
}

func (f *fakeBackend) RegistryLogin(ctx context.Context, ac registry.AuthConfig) (string, error) {
	f.hit("RegistryLogin")
	if ac.Password != "secret" {
		return "", fmt.Errorf("unauthorized: incorrect username or password: %w", errdefs.ErrUnauthenticated)
	}
	return "Login Succeeded", nil
}

// DistributionInspect: "nosuch" repositories are not found, "private"
// ones refuse requests without an auth header; others have one manifest
// for linux/amd64. The arguments are recorded.
func (f *fakeBackend) DistributionInspect(ctx context.Context, ref, auth string) (registry.DistributionInspect, error) {
	_ = f.record("DistributionInspect", ref, auth)
	switch {
	case strings.Contains(ref, "nosuch"):
		return registry.DistributionInspect{}, fmt.Errorf("manifest unknown: manifest unknown: %w", errdefs.ErrNotFound)
	case strings.Contains(ref, "private") && auth == "":
		return registry.DistributionInspect{}, fmt.Errorf("unauthorized: authentication required: %w", errdefs.ErrUnauthenticated)
	}
	return registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digest.Digest("sha256:" + strings.Repeat("ab", 32)),
			Size:      528,
		},
		Platforms: []ocispec.Platform{{OS: "linux", Architecture: "amd64"}},
	}, nil
}

// ImageSearch: "nothing" finds nothing, others one official result.
func (f *fakeBackend) ImageSearch(ctx context.Context, term string, limit int, fl Filters, auth string) ([]registry.SearchResult, error) {
	f.hit("ImageSearch")
	if term == "nothing" {
		return []registry.SearchResult{}, nil
	}
	return []registry.SearchResult{{Name: term, Description: "limit " + fmt.Sprint(limit), StarCount: 3, IsOfficial: true}}, nil
}
