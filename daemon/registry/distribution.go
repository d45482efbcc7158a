package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	registrytypes "github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrDenied marks a registry that refuses access to a repository the
// client is authenticated for (the registry's DENIED, HTTP 403).
var ErrDenied = errors.New("denied")

// ErrInvalid marks content berth does not accept, such as a schema 1
// manifest.
var ErrInvalid = errors.New("invalid")

// classified is an error worded as dockerd words it, whose class is one
// of the sentinels above (or none).
type classified struct {
	msg   string
	class error
}

func (e *classified) Error() string { return e.msg }
func (e *classified) Unwrap() error { return e.class }

// DistributionInspect asks ref's registry (through the configured mirrors
// first for a Docker Hub image, as a pull does) for the manifest or index
// ref names, without pulling anything. The descriptor is the manifest's
// as the registry serves it: its media type, digest and size. Platforms
// are, for an index, those of each of its manifests and, for a single
// manifest, the one its image config declares.
//
// Registry errors are worded as dockerd's distribution client words them
// ("manifest unknown: manifest unknown", "unauthorized: authentication
// required") and classified ErrNotFound, ErrUnauthorized or ErrDenied by
// the registry's HTTP status.
func (c *Client) DistributionInspect(ctx context.Context, ref name.Reference, ac registrytypes.AuthConfig) (registrytypes.DistributionInspect, error) {
	var di registrytypes.DistributionInspect
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	desc, err := c.getWithMirrors(ctx, ref, ac, host, c.remoteOptions(ctx, ref, ac))
	if err != nil {
		return di, inspectError(ref, err)
	}
	mediaType := manifestMediaType(desc.Manifest, desc.MediaType)
	di.Descriptor = ocispec.Descriptor{
		MediaType: string(mediaType),
		Digest:    digest.Digest(desc.Digest.String()),
		Size:      desc.Size,
	}
	switch mediaType {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return registrytypes.DistributionInspect{}, &classified{
			msg: "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. " +
				"Suggest the author of " + canonicalName(ref) + " to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. " +
				"More information at https://docs.docker.com/go/deprecated-image-specs/",
			class: ErrInvalid,
		}
	case types.DockerManifestList, types.OCIImageIndex:
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return registrytypes.DistributionInspect{}, fmt.Errorf("inspect %s: parse index: %w", ref, err)
		}
		for _, m := range idx.Manifests {
			// Every entry counts, one without a platform too, as dockerd
			// lists them.
			var p ocispec.Platform
			if m.Platform != nil {
				p = ociPlatform(*m.Platform)
			}
			di.Platforms = append(di.Platforms, p)
		}
	case types.DockerManifestSchema2, types.OCIManifestSchema1:
		// The platform is the image config's; a config that cannot be
		// read leaves it out rather than failing the inspect (as dockerd).
		if p, err := configPlatform(desc); err == nil && (p.OS != "" || p.Architecture != "") {
			di.Platforms = append(di.Platforms, p)
		} else if err != nil {
			c.log.Debug("distribution inspect: no platform from the image config", "ref", ref.String(), "err", err)
		}
	}
	return di, nil
}

// manifestMediaType is the media type a manifest declares, else the one
// the registry sent it with.
func manifestMediaType(manifest []byte, served types.MediaType) types.MediaType {
	var m struct {
		MediaType     types.MediaType `json:"mediaType"`
		SchemaVersion int             `json:"schemaVersion"`
	}
	if err := json.Unmarshal(manifest, &m); err == nil {
		if m.MediaType != "" {
			return m.MediaType
		}
		if m.SchemaVersion == 1 && !served.IsSchema1() {
			return types.DockerManifestSchema1
		}
	}
	return served
}

// canonicalName is ref as dockerd prints a fully qualified reference
// ("docker.io/library/redis:7").
func canonicalName(ref name.Reference) string {
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry || reg == "index.docker.io" {
		reg = "docker.io"
	}
	return reg + "/" + ref.Context().RepositoryStr() + refSuffix(ref)
}

// configPlatform reads the platform fields of a manifest's image config.
func configPlatform(desc *remote.Descriptor) (ocispec.Platform, error) {
	var p ocispec.Platform
	img, err := desc.Image()
	if err != nil {
		return p, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("decode image config: %w", err)
	}
	return p, nil
}

func ociPlatform(p v1.Platform) ocispec.Platform {
	return ocispec.Platform{
		Architecture: p.Architecture,
		OS:           p.OS,
		OSVersion:    p.OSVersion,
		OSFeatures:   p.OSFeatures,
		Variant:      p.Variant,
	}
}

// inspectError words a registry's error response as dockerd's
// distribution client does: "code: message" for one error, "errors:\n"
// and one line each for several; the class follows the HTTP status.
// Other failures (an unreachable registry) are returned with context.
func inspectError(ref name.Reference, err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("inspect %s: %w", ref, err)
	}
	var lines []string
	for _, d := range te.Errors {
		code := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		lines = append(lines, code+": "+d.Message)
	}
	var msg string
	switch {
	case len(lines) == 1:
		msg = lines[0]
	case len(lines) > 1:
		msg = "errors:\n" + strings.Join(lines, "\n") + "\n"
	case te.StatusCode == http.StatusUnauthorized:
		msg = "unauthorized: authentication required"
	default:
		msg = fmt.Sprintf("received unexpected HTTP status: %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	}
	var class error
	switch te.StatusCode {
	case http.StatusNotFound:
		class = ErrNotFound
	case http.StatusUnauthorized:
		class = ErrUnauthorized
	case http.StatusForbidden:
		class = ErrDenied
	}
	return &classified{msg: msg, class: class}
}
