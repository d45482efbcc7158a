package server

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	apicontainer "github.com/moby/moby/api/types/container"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
)

func TestLegacyNetworkFields(t *testing.T) {
	mac := network.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	for _, tc := range []struct {
		name string
		nets map[string]*network.EndpointSettings
		want []string
	}{
		{"default bridge", map[string]*network.EndpointSettings{"bridge": {
			EndpointID: "ep1", IPAddress: netip.MustParseAddr("172.17.0.2"), Gateway: netip.MustParseAddr("172.17.0.1"), IPPrefixLen: 16, MacAddress: mac,
		}}, []string{`"IPAddress":"172.17.0.2"`, `"Gateway":"172.17.0.1"`, `"IPPrefixLen":16`, `"MacAddress":"02:42:ac:11:00:02"`, `"EndpointID":"ep1"`, `"IPv6Gateway":""`}},
		{"user network only", map[string]*network.EndpointSettings{"u": {IPAddress: netip.MustParseAddr("10.1.0.2")}},
			[]string{`"IPAddress":""`, `"Gateway":""`, `"Networks":{"u":`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &apicontainer.InspectResponse{NetworkSettings: &apicontainer.NetworkSettings{Networks: tc.nets}}
			b, err := json.Marshal(withLegacyNetworkFields(c))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
			if strings.Count(string(b), `"NetworkSettings"`) != 1 {
				t.Errorf("NetworkSettings twice: %s", b)
			}
		})
	}
}

func TestLegacyImageInspect(t *testing.T) {
	img := &apiimage.InspectResponse{ID: "sha256:x", Size: 42}
	for _, tc := range []struct {
		version string
		has     []string
		lacks   []string
	}{
		{"1.41", []string{"ContainerConfig", "Container", "VirtualSize", "Parent", "DockerVersion"}, nil},
		{"1.44", []string{"ContainerConfig", "Parent"}, []string{"VirtualSize"}},
		{"1.51", []string{"ContainerConfig", "DockerVersion"}, []string{"VirtualSize"}},
	} {
		out, err := legacyImageInspect(img, tc.version)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.has {
			if _, ok := out[k]; !ok {
				t.Errorf("%s: no %s", tc.version, k)
			}
		}
		for _, k := range tc.lacks {
			if _, ok := out[k]; ok {
				t.Errorf("%s: has %s", tc.version, k)
			}
		}
		if cc, ok := out["ContainerConfig"].(map[string]any); !ok || cc["Volumes"] != nil {
			t.Errorf("%s: ContainerConfig = %v", tc.version, out["ContainerConfig"])
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in, os, arch, variant string
		bad                   bool
	}{
		{in: "linux/amd64", os: "linux", arch: "amd64"},
		{in: "linux/x86_64", os: "linux", arch: "amd64"},
		{in: "arm64", os: "linux", arch: "arm64"},
		{in: "linux/arm/v7", os: "linux", arch: "arm", variant: "v7"},
		{in: "Linux/AARCH64", os: "linux", arch: "arm64"},
		{in: "linux/", bad: true},
		{in: "a/b/c/d", bad: true},
	} {
		os, arch, variant, err := parsePlatform(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (os != tc.os || arch != tc.arch || variant != tc.variant)) {
			t.Errorf("parsePlatform(%q) = %q %q %q %v", tc.in, os, arch, variant, err)
		}
	}
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "arm64", "linux/arm/v7", "", "///"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		os, arch, _, err := parsePlatform(s)
		if err == nil && (os == "" || arch == "") {
			t.Fatalf("parsePlatform(%q) accepted an empty part", s)
		}
	})
}
