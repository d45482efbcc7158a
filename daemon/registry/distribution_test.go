package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	registrytypes "github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-project/berth/registry/server"
)

// startRegistry serves berth's embedded registry on a free loopback port
// for the test; htpasswd, when set, turns on basic auth.
func startRegistry(t *testing.T, htpasswd string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Serve(ctx, server.Options{
			Addr: "127.0.0.1:0", Root: t.TempDir(), Htpasswd: htpasswd, Log: discardLog(),
		}, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("registry: %v", err)
	}
	t.Cleanup(func() {
		// The test's pushes leave dialled but unused connections, which
		// the server's Shutdown would wait 5s for.
		remote.DefaultTransport.(*http.Transport).CloseIdleConnections()
		cancel()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Error("registry did not stop")
		}
	})
	return addr
}

// imageFor is a random one-layer image whose config declares p.
func imageFor(t *testing.T, p v1.Platform, mt types.MediaType) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if mt == types.OCIManifestSchema1 {
		img = mutate.MediaType(mutate.ConfigMediaType(img, types.OCIConfigJSON), mt)
	}
	return img
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// descriptorOf is what the registry holds for ref, read independently.
func descriptorOf(t *testing.T, ref string, opts ...remote.Option) ocispec.Descriptor {
	t.Helper()
	d, err := remote.Head(mustRef(t, ref), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

func TestDistributionInspect(t *testing.T) {
	addr := startRegistry(t, "")
	c, err := New(Config{}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	arm := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	amd := v1.Platform{OS: "linux", Architecture: "amd64"}
	win := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}

	single := addr + "/app/single:v1"
	if err := remote.Write(mustRef(t, single), imageFor(t, arm, types.DockerManifestSchema2)); err != nil {
		t.Fatal(err)
	}
	oci := addr + "/app/oci:v1"
	if err := remote.Write(mustRef(t, oci), imageFor(t, amd, types.OCIManifestSchema1)); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: imageFor(t, amd, types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &amd}},
		mutate.IndexAddendum{Add: imageFor(t, arm, types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &arm}},
		mutate.IndexAddendum{Add: imageFor(t, win, types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &win}},
	)
	index := addr + "/app/multi:v1"
	if err := remote.WriteIndex(mustRef(t, index), idx); err != nil {
		t.Fatal(err)
	}
	list := addr + "/app/list:v1"
	dockerList := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList),
		mutate.IndexAddendum{Add: imageFor(t, amd, types.DockerManifestSchema2), Descriptor: v1.Descriptor{Platform: &amd}},
	)
	if err := remote.WriteIndex(mustRef(t, list), dockerList); err != nil {
		t.Fatal(err)
	}
	singleDesc := descriptorOf(t, single)

	tests := []struct {
		name      string
		ref       string
		want      ocispec.Descriptor // zero: not checked (an error is wanted)
		platforms []ocispec.Platform
		class     error  // nil: success
		msg       string // the error's text
	}{
		{
			name: "docker manifest", ref: single, want: singleDesc,
			platforms: []ocispec.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		},
		{
			name: "by digest", ref: addr + "/app/single@" + singleDesc.Digest.String(), want: singleDesc,
			platforms: []ocispec.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		},
		{
			name: "oci manifest", ref: oci, want: descriptorOf(t, oci),
			platforms: []ocispec.Platform{{OS: "linux", Architecture: "amd64"}},
		},
		{
			name: "oci index", ref: index, want: descriptorOf(t, index),
			platforms: []ocispec.Platform{
				{OS: "linux", Architecture: "amd64"},
				{OS: "linux", Architecture: "arm64", Variant: "v8"},
				{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"},
			},
		},
		{
			name: "docker manifest list", ref: list, want: descriptorOf(t, list),
			platforms: []ocispec.Platform{{OS: "linux", Architecture: "amd64"}},
		},
		{
			name: "unknown tag", ref: addr + "/app/single:nope",
			class: ErrNotFound, msg: "manifest unknown: manifest unknown",
		},
		{
			name: "unknown repository", ref: addr + "/no/such:v1",
			class: ErrNotFound, msg: "manifest unknown: manifest unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := c.ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			di, err := c.DistributionInspect(context.Background(), ref, registrytypes.AuthConfig{})
			if tt.class != nil {
				if !errors.Is(err, tt.class) || err.Error() != tt.msg {
					t.Fatalf("DistributionInspect(%s) = %+v, %v; want %q (%v)", tt.ref, di, err, tt.msg, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatalf("DistributionInspect(%s): %v", tt.ref, err)
			}
			if !reflect.DeepEqual(di.Descriptor, tt.want) {
				t.Errorf("descriptor = %+v, want %+v", di.Descriptor, tt.want)
			}
			if !reflect.DeepEqual(di.Platforms, tt.platforms) {
				t.Errorf("platforms = %+v, want %+v", di.Platforms, tt.platforms)
			}
		})
	}
}

// TestDistributionInspectAuth: the credentials reach the registry, and a
// refusal is unauthorized in the registry's words; an unreachable
// registry is a plain error.
func TestDistributionInspectAuth(t *testing.T) {
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htp := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htp, []byte(fmt.Sprintf("u:%s\n", h)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRegistry(t, htp)
	ref := addr + "/private/app:v1"
	basic := remote.WithAuth(&authn.Basic{Username: "u", Password: "pw"})
	if err := remote.Write(mustRef(t, ref), imageFor(t, v1.Platform{OS: "linux", Architecture: "amd64"}, types.DockerManifestSchema2), basic); err != nil {
		t.Fatal(err)
	}
	want := descriptorOf(t, ref, basic)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := l.Addr().String() + "/x/y:z"
	l.Close()

	c, err := New(Config{}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ref   string
		ac    registrytypes.AuthConfig
		class error // nil with msg "": success
		msg   string
	}{
		{"good credentials", ref, registrytypes.AuthConfig{Username: "u", Password: "pw"}, nil, ""},
		{"anonymous", ref, registrytypes.AuthConfig{}, ErrUnauthorized, "unauthorized: authentication required"},
		{"wrong password", ref, registrytypes.AuthConfig{Username: "u", Password: "nope"}, ErrUnauthorized, "unauthorized: authentication required"},
		{"unreachable", unreachable, registrytypes.AuthConfig{}, nil, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			di, err := c.DistributionInspect(context.Background(), r, tt.ac)
			switch {
			case tt.msg == "":
				if err != nil || di.Descriptor.Digest != want.Digest {
					t.Errorf("DistributionInspect = %+v, %v; want digest %s", di, err, want.Digest)
				}
			case tt.class != nil:
				if !errors.Is(err, tt.class) || err.Error() != tt.msg {
					t.Errorf("DistributionInspect = %v; want %q (%v)", err, tt.msg, tt.class)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.msg) ||
					errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrDenied) {
					t.Errorf("DistributionInspect = %v; want an unclassified error with %q", err, tt.msg)
				}
			}
		})
	}
}
