package daemon

import (
	"net/netip"
	"testing"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func TestPortRequests(t *testing.T) {
	p80 := network.MustParsePort("80/tcp")
	p53 := network.MustParsePort("53/udp")
	p443 := network.MustParsePort("443/tcp")
	tests := []struct {
		name    string
		cfg     apicontainer.Config
		hc      apicontainer.HostConfig
		want    []string
		wantErr bool
	}{
		{"host port", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p80: {{HostPort: "4000"}}}},
			[]string{"tcp invalid IP 4000-4000 -> 80"}, false},
		{"random port and address", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p53: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}},
			[]string{"udp 127.0.0.1 0-0 -> 53"}, false},
		{"range", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p80: {{HostPort: "8000-8010"}}}},
			[]string{"tcp invalid IP 8000-8010 -> 80"}, false},
		{"-P adds exposed ports", apicontainer.Config{ExposedPorts: network.PortSet{p443: {}, p80: {}}},
			apicontainer.HostConfig{PublishAllPorts: true, PortBindings: network.PortMap{p80: {{HostPort: "4000"}}}},
			[]string{"tcp invalid IP 0-0 -> 443", "tcp invalid IP 4000-4000 -> 80"}, false},
		{"IPv6 binding skipped", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p80: {{HostIP: netip.IPv6Unspecified(), HostPort: "1"}}}},
			nil, false},
		{"bad port", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p80: {{HostPort: "x"}}}}, nil, true},
		{"bad range", apicontainer.Config{}, apicontainer.HostConfig{PortBindings: network.PortMap{p80: {{HostPort: "9-1"}}}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := portRequests(&tt.cfg, &tt.hc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var s []string
			for _, r := range got {
				s = append(s, r.Proto+" "+r.HostIP.String()+" "+itoa(r.HostPortStart)+"-"+itoa(r.HostPortEnd)+" -> "+itoa(r.ContainerPort))
			}
			if len(s) != len(tt.want) {
				t.Fatalf("got %v, want %v", s, tt.want)
			}
			for i := range s {
				if s[i] != tt.want[i] {
					t.Errorf("got %v, want %v", s, tt.want)
				}
			}
		})
	}
}

func itoa(n uint16) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// FuzzParsePortRange: host ports come from API clients.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"80", "8000-8010", "-", "65535-65536", "1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := parsePortRange(s)
		if err == nil && end < start {
			t.Fatalf("%q: end %d < start %d", s, end, start)
		}
	})
}
