package convert

import (
	"net/netip"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestNetworkFromGRPC(t *testing.T) {
	created := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	allocated := &swarmapi.Network{
		ID:   "net1",
		Meta: swarmapi.Meta{CreatedAt: ts(t, created)},
		Spec: swarmapi.NetworkSpec{
			Annotations:  swarmapi.Annotations{Name: "front", Labels: map[string]string{"l": "v"}},
			DriverConfig: &swarmapi.Driver{Name: "overlay", Options: map[string]string{"encrypted": ""}},
			Ipv6Enabled:  true,
			Internal:     true,
			Attachable:   true,
			IPAM:         &swarmapi.IPAMOptions{Driver: &swarmapi.Driver{Name: "default"}},
			ConfigFrom:   &swarmapi.NetworkSpec_Network{Network: "cfg-only"},
		},
		DriverState: &swarmapi.Driver{Name: "overlay", Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097", "encrypted": ""}},
		IPAM: &swarmapi.IPAMOptions{
			Driver: &swarmapi.Driver{Name: "default", Options: map[string]string{"o": "1"}},
			Configs: []*swarmapi.IPAMConfig{
				{Subnet: "10.0.9.0/24", Range: "10.0.9.128/25", Gateway: "10.0.9.1", Reserved: map[string]string{"host": "10.0.9.2", "bad": "x"}},
				{Subnet: "fd00:1::/64", Gateway: "fd00:1::1"},
			},
		},
	}
	want := network.Inspect{
		Network: network.Network{
			Name: "front", ID: "net1", Created: created, Scope: "swarm", Driver: "overlay",
			EnableIPv4: true, EnableIPv6: true,
			IPAM: network.IPAM{
				Driver: "default", Options: map[string]string{"o": "1"},
				Config: []network.IPAMConfig{
					{
						Subnet: netip.MustParsePrefix("10.0.9.0/24"), IPRange: netip.MustParsePrefix("10.0.9.128/25"),
						Gateway: netip.MustParseAddr("10.0.9.1"), AuxAddress: map[string]netip.Addr{"host": netip.MustParseAddr("10.0.9.2")},
					},
					{Subnet: netip.MustParsePrefix("fd00:1::/64"), Gateway: netip.MustParseAddr("fd00:1::1")},
				},
			},
			Internal: true, Attachable: true,
			ConfigFrom: network.ConfigReference{Network: "cfg-only"},
			Options:    map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097", "encrypted": ""},
			Labels:     map[string]string{"l": "v"},
		},
		Containers: map[string]network.EndpointResource{},
	}
	if d := diff(want, NetworkFromGRPC(allocated)); d != "" {
		t.Errorf("allocated network (-want +got):\n%s", d)
	}

	// Before allocation the requested driver and IPAM show.
	pending := &swarmapi.Network{
		ID: "net2",
		Spec: swarmapi.NetworkSpec{
			Annotations:  swarmapi.Annotations{Name: "back"},
			DriverConfig: &swarmapi.Driver{Name: "overlay", Options: map[string]string{"a": "b"}},
			IPAM:         &swarmapi.IPAMOptions{Driver: &swarmapi.Driver{Name: "default"}},
		},
	}
	got := NetworkFromGRPC(pending)
	if got.Driver != "overlay" || got.Options["a"] != "b" || got.IPAM.Driver != "default" || got.IPAM.Config == nil || got.Scope != "swarm" {
		t.Errorf("pending network = %+v", got)
	}

	// The ingress network, flagged or legacy.
	for _, n := range []*swarmapi.Network{
		{Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "mesh"}, Ingress: true}},
		{Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "ingress", Labels: map[string]string{"com.docker.swarm.internal": "true"}}}},
	} {
		if !NetworkFromGRPC(n).Ingress || !IsIngressNetwork(n) {
			t.Errorf("%q: not ingress", n.Spec.Annotations.Name)
		}
	}
	for _, n := range []*swarmapi.Network{
		nil,
		{Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "ingress"}}},
		{Spec: swarmapi.NetworkSpec{Annotations: swarmapi.Annotations{Name: "other", Labels: map[string]string{"com.docker.swarm.internal": "true"}}}},
	} {
		if IsIngressNetwork(n) {
			t.Errorf("%+v: ingress", n)
		}
	}
	if d := diff(network.Inspect{}, NetworkFromGRPC(nil)); d != "" {
		t.Errorf("NetworkFromGRPC(nil):\n%s", d)
	}
}

func TestNetworkCreateToGRPC(t *testing.T) {
	req := network.CreateRequest{
		Name:       "ignored",
		Driver:     "overlay",
		Scope:      "swarm",
		EnableIPv6: ptr(true),
		IPAM: &network.IPAM{
			Driver:  "custom",
			Options: map[string]string{"i": "j"},
			Config: []network.IPAMConfig{
				{Subnet: netip.MustParsePrefix("10.1.2.3/16"), IPRange: netip.MustParsePrefix("10.1.128.0/17"), Gateway: netip.MustParseAddr("10.1.0.1")},
				{Subnet: netip.MustParsePrefix("::ffff:10.2.0.0/112"), Gateway: netip.MustParseAddr("::ffff:10.2.0.1")},
				{Subnet: netip.MustParsePrefix("fd00::/64")},
			},
		},
		Internal:   true,
		Attachable: true,
		ConfigFrom: &network.ConfigReference{Network: "cfg"},
		Options:    map[string]string{"encrypted": "true"},
		Labels:     map[string]string{"k": "v"},
	}
	want := swarmapi.NetworkSpec{
		Annotations:  swarmapi.Annotations{Name: "front", Labels: map[string]string{"k": "v"}},
		DriverConfig: &swarmapi.Driver{Name: "overlay", Options: map[string]string{"encrypted": "true"}},
		Ipv6Enabled:  true,
		Internal:     true,
		Attachable:   true,
		IPAM: &swarmapi.IPAMOptions{
			Driver: &swarmapi.Driver{Name: "custom", Options: map[string]string{"i": "j"}},
			Configs: []*swarmapi.IPAMConfig{
				{Subnet: "10.1.0.0/16", Range: "10.1.128.0/17", Gateway: "10.1.0.1"},
				{Subnet: "10.2.0.0/16", Gateway: "10.2.0.1"},
				{Subnet: "fd00::/64"},
			},
		},
		ConfigFrom: &swarmapi.NetworkSpec_Network{Network: "cfg"},
	}
	if d := diff(want, NetworkCreateToGRPC("front", req)); d != "" {
		t.Errorf("NetworkCreateToGRPC (-want +got):\n%s", d)
	}

	// Defaults: the request's name, overlay, no IPAM unless asked, the
	// default IPAM driver.
	got := NetworkCreateToGRPC("", network.CreateRequest{Name: "n", Ingress: true})
	want = swarmapi.NetworkSpec{
		Annotations:  swarmapi.Annotations{Name: "n"},
		DriverConfig: &swarmapi.Driver{Name: "overlay"},
		Ingress:      true,
	}
	if d := diff(want, got); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	got = NetworkCreateToGRPC("n", network.CreateRequest{IPAM: &network.IPAM{}})
	if got.IPAM == nil || got.IPAM.Driver.Name != "default" || len(got.IPAM.Configs) != 0 {
		t.Errorf("empty IPAM = %+v", got.IPAM)
	}
}

func TestNetworkCreateRoundTrip(t *testing.T) {
	req := network.CreateRequest{
		Driver:     "overlay",
		EnableIPv6: ptr(true),
		IPAM: &network.IPAM{
			Driver: "default",
			Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.5.0.0/24"), IPRange: netip.MustParsePrefix("10.5.0.0/25"), Gateway: netip.MustParseAddr("10.5.0.1")}},
		},
		Internal:   true,
		Attachable: true,
		Options:    map[string]string{"o": "p"},
		Labels:     map[string]string{"a": "b"},
	}
	spec := NetworkCreateToGRPC("rt", req)
	got := NetworkFromGRPC(&swarmapi.Network{ID: "x", Spec: spec})
	want := network.Network{
		Name: "rt", ID: "x", Scope: "swarm", Driver: "overlay", EnableIPv4: true, EnableIPv6: true,
		IPAM:     network.IPAM{Driver: "default", Config: req.IPAM.Config},
		Internal: true, Attachable: true,
		Options: map[string]string{"o": "p"},
		Labels:  map[string]string{"a": "b"},
	}
	if d := diff(want, got.Network); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}

	// Inside a task's attachments the swarm API shows the spec as well.
	att := NetworkAttachmentFromGRPC(&swarmapi.NetworkAttachment{Network: &swarmapi.Network{ID: "x", Spec: spec}})
	wantSpec := swarm.NetworkSpec{
		Annotations:         swarm.Annotations{Name: "rt", Labels: map[string]string{"a": "b"}},
		DriverConfiguration: &swarm.Driver{Name: "overlay", Options: map[string]string{"o": "p"}},
		IPv6Enabled:         true,
		Internal:            true,
		Attachable:          true,
		IPAMOptions: &swarm.IPAMOptions{
			Driver:  swarm.Driver{Name: "default"},
			Configs: []swarm.IPAMConfig{{Subnet: netip.MustParsePrefix("10.5.0.0/24"), Range: netip.MustParsePrefix("10.5.0.0/25"), Gateway: netip.MustParseAddr("10.5.0.1")}},
		},
		Scope: "swarm",
	}
	if d := diff(wantSpec, att.Network.Spec); d != "" {
		t.Errorf("attachment spec (-want +got):\n%s", d)
	}
}
