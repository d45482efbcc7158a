package container

import (
	"github.com/berth-project/berth/cli/command"

	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

func port(t *testing.T, s string) network.Port {
	t.Helper()
	p, err := network.ParsePort(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePublish(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		spec    string
		want    map[string][]network.PortBinding
		wantErr bool
	}{
		{spec: "80", want: map[string][]network.PortBinding{"80/tcp": {{}}}},
		{spec: "4000:80", want: map[string][]network.PortBinding{"80/tcp": {{HostPort: "4000"}}}},
		{spec: "127.0.0.1:4000:80", want: map[string][]network.PortBinding{"80/tcp": {{HostIP: lo, HostPort: "4000"}}}},
		{spec: "127.0.0.1::80", want: map[string][]network.PortBinding{"80/tcp": {{HostIP: lo}}}},
		{spec: "4000:80/udp", want: map[string][]network.PortBinding{"80/udp": {{HostPort: "4000"}}}},
		{spec: "[::1]:4000:80", want: map[string][]network.PortBinding{"80/tcp": {{HostIP: netip.MustParseAddr("::1"), HostPort: "4000"}}}},
		{spec: "8000-8001:80-81", want: map[string][]network.PortBinding{"80/tcp": {{HostPort: "8000"}}, "81/tcp": {{HostPort: "8001"}}}},
		{spec: "8000-8010:80", want: map[string][]network.PortBinding{"80/tcp": {{HostPort: "8000-8010"}}}},
		{spec: "80-81", want: map[string][]network.PortBinding{"80/tcp": {{}}, "81/tcp": {{}}}},
		{spec: "", wantErr: true},
		{spec: "abc", wantErr: true},
		{spec: "1:2:3:4", wantErr: true},
		{spec: "80/icmp", wantErr: true},
		{spec: "8000-8002:80-81", wantErr: true},
		{spec: "bad:80:80", wantErr: true},
		{spec: "70000:80", wantErr: true},
		{spec: "4000:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			exp, binds, err := parsePublish(tt.spec)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %v", binds)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := network.PortMap{}
			for k, v := range tt.want {
				want[port(t, k)] = v
				if _, ok := exp[port(t, k)]; !ok {
					t.Errorf("port %s not exposed", k)
				}
			}
			if !reflect.DeepEqual(binds, want) {
				t.Errorf("bindings = %v, want %v", binds, want)
			}
		})
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		spec, bind, anon string
		wantErr          bool
	}{
		{spec: "/data", anon: "/data"},
		{spec: "/host:/ctr", bind: "/host:/ctr"},
		{spec: "/host:/ctr:ro", bind: "/host:/ctr:ro"},
		{spec: "named:/ctr:rw", bind: "named:/ctr:rw"},
		{spec: "named:/ctr", bind: "named:/ctr"},
		{spec: "rel", wantErr: true},
		{spec: "a:rel", wantErr: true},
		{spec: ":/ctr", wantErr: true},
		{spec: "/h:/c:bogus", wantErr: true},
		{spec: "/a:/b:ro:x", wantErr: true},
	}
	for _, tt := range tests {
		bind, anon, err := parseVolume(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.spec, err)
			continue
		}
		if bind != tt.bind || anon != tt.anon {
			t.Errorf("%q: got (%q,%q) want (%q,%q)", tt.spec, bind, anon, tt.bind, tt.anon)
		}
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		spec    string
		want    mount.Mount
		wantErr bool
	}{
		{spec: "type=bind,source=/a,target=/b", want: mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b"}},
		{spec: "type=bind,src=/a,dst=/b,readonly", want: mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true}},
		{spec: "source=vol,target=/b", want: mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/b"}},
		{spec: "type=volume,target=/b,ro=false", want: mount.Mount{Type: mount.TypeVolume, Target: "/b"}},
		{spec: "type=tmpfs,target=/t,tmpfs-size=1m", want: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}}},
		{spec: "type=bind,target=/b", wantErr: true},
		{spec: "type=nfs,target=/b", wantErr: true},
		{spec: "type=volume", wantErr: true},
		{spec: "type=tmpfs,source=x,target=/t", wantErr: true},
		{spec: "bogus=1,target=/b", wantErr: true},
		{spec: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseMount(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.spec, err)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParseRestart(t *testing.T) {
	tests := []struct {
		in      string
		want    containertypes.RestartPolicy
		wantErr bool
	}{
		{in: "no", want: containertypes.RestartPolicy{Name: "no"}},
		{in: "always", want: containertypes.RestartPolicy{Name: "always"}},
		{in: "unless-stopped", want: containertypes.RestartPolicy{Name: "unless-stopped"}},
		{in: "on-failure", want: containertypes.RestartPolicy{Name: "on-failure"}},
		{in: "on-failure:3", want: containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{in: "on-failure:x", wantErr: true},
		{in: "always:3", wantErr: true},
		{in: "sometimes", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseRestart(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%q: got %+v, %v", tt.in, got, err)
		}
	}
}

func TestParseCPUsAndMemory(t *testing.T) {
	for in, want := range map[string]int64{"1": 1e9, "1.5": 1.5e9, "0.25": 2.5e8} {
		got, err := parseCPUs(in)
		if err != nil || got != want {
			t.Errorf("cpus %q = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "-1", "0.0000000001"} {
		if _, err := parseCPUs(bad); err == nil {
			t.Errorf("cpus %q: want error", bad)
		}
	}
	for in, want := range map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1024": 1024, "-1": -1, "": 0} {
		got, err := parseMemory(in)
		if err != nil || got != want {
			t.Errorf("memory %q = %d, %v", in, got, err)
		}
	}
	if _, err := parseMemory("lots"); err == nil {
		t.Error("memory lots: want error")
	}
}

func TestEnvAndEnvFile(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "HOME" {
			return "/root", true
		}
		return "", false
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "env")
	if err := os.WriteFile(f, []byte("# comment\nA=1\n\n  B=two words\nHOME\nUNSET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runOpts{envFile: []string{f}, env: []string{"C=3", "HOME", "MISSING"}, restart: "no"}
	cfg, _, _, err := o.containerConfig([]string{"busybox"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B=two words", "HOME=/root", "C=3", "HOME=/root"}
	if !reflect.DeepEqual(cfg.Env, want) {
		t.Errorf("env = %q, want %q", cfg.Env, want)
	}
	if err := os.WriteFile(f, []byte("BAD KEY=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(f, lookup); err == nil {
		t.Error("want error for key with space")
	}
}

func TestContainerConfig(t *testing.T) {
	o := runOpts{
		interactive: true, tty: true, rm: true, name: "x", memory: "64m", cpus: "0.5", restart: "no",
		publish: []string{"8080:80"}, expose: []string{"443"}, volumes: []string{"/h:/c:ro", "/anon"},
		mounts: []string{"type=tmpfs,target=/tmp"}, tmpfs: []string{"/run:size=1m"}, labels: []string{"a=b", "c"},
		entrypoint: "/bin/sh", pidsLimit: 10, ulimits: []string{"nofile=1024:2048"}, sysctls: []string{"net.ipv4.ip_forward=1"},
		netMode: "mynet",
	}
	cfg, hc, nc, err := o.containerConfig([]string{"alpine", "echo", "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Image != "alpine" || !reflect.DeepEqual(cfg.Cmd, []string{"echo", "hi"}) || cfg.Entrypoint[0] != "/bin/sh" {
		t.Errorf("cfg = %+v", cfg)
	}
	if !cfg.Tty || !cfg.OpenStdin || !cfg.AttachStdin || !cfg.StdinOnce || !cfg.AttachStdout {
		t.Errorf("stream flags wrong: %+v", cfg)
	}
	if hc.Memory != 64<<20 || hc.NanoCPUs != 5e8 || !hc.AutoRemove || *hc.PidsLimit != 10 {
		t.Errorf("resources wrong: %+v", hc.Resources)
	}
	if len(cfg.ExposedPorts) != 2 || len(hc.PortBindings) != 1 {
		t.Errorf("ports: %v %v", cfg.ExposedPorts, hc.PortBindings)
	}
	if !reflect.DeepEqual(hc.Binds, []string{"/h:/c:ro"}) || len(cfg.Volumes) != 1 || len(hc.Mounts) != 1 || hc.Tmpfs["/run"] != "size=1m" {
		t.Errorf("mounts: %v %v %v %v", hc.Binds, cfg.Volumes, hc.Mounts, hc.Tmpfs)
	}
	if cfg.Labels["a"] != "b" || cfg.Labels["c"] != "" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if hc.Ulimits[0].Soft != 1024 || hc.Ulimits[0].Hard != 2048 || hc.Sysctls["net.ipv4.ip_forward"] != "1" {
		t.Errorf("ulimits/sysctls %v %v", hc.Ulimits, hc.Sysctls)
	}
	if nc == nil || nc.EndpointsConfig["mynet"] == nil || hc.NetworkMode != "mynet" {
		t.Errorf("network %v %v", nc, hc.NetworkMode)
	}

	bad := []runOpts{
		{restart: "always", rm: true},
		{restart: "no", memory: "x"},
		{restart: "no", publish: []string{"x:y"}},
		{restart: "no", attach: []string{"stdfoo"}},
		{restart: "no", detach: true, attach: []string{"stdout"}},
	}
	for i, b := range bad {
		if _, _, _, err := b.containerConfig([]string{"img"}, nil); err == nil {
			t.Errorf("bad[%d]: want error", i)
		}
	}
	o = runOpts{detach: true, restart: "on-failure:2"}
	cfg, hc, _, err = o.containerConfig([]string{"img"}, nil)
	if err != nil || cfg.AttachStdout || hc.RestartPolicy.MaximumRetryCount != 2 || hc.NetworkMode != "bridge" {
		t.Errorf("detached: %+v %+v %v", cfg, hc.RestartPolicy, err)
	}
}

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{in: "ctrl-p,ctrl-q", want: []byte{16, 17}},
		{in: "a,ctrl-@", want: []byte{'a', 0}},
		{in: "ctrl-[", want: []byte{27}},
		{in: "ctrl-\\,ctrl-],ctrl-^,ctrl-_", want: []byte{28, 29, 30, 31}},
		{in: "", wantErr: true},
		{in: "ctrl-1", wantErr: true},
		{in: "ab", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDetachKeys(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("%q: got %v, %v", tt.in, got, err)
		}
	}
}

func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "4000:80", "127.0.0.1:4000:80/udp", "[::1]:1:2", "1-3:4-6", "8000-8010:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, binds, err := parsePublish(s)
		if err != nil {
			return
		}
		if len(exp) == 0 || len(exp) != len(binds) {
			t.Fatalf("%q: exposed %v bindings %v", s, exp, binds)
		}
	})
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a", "/a:/b", "n:/b:ro", "x:y:z:w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bind, anon, err := parseVolume(s)
		if err != nil {
			return
		}
		if (bind == "") == (anon == "") {
			t.Fatalf("%q: bind %q anon %q", s, bind, anon)
		}
	})
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,source=/a,target=/b", "target=/x,readonly", "type=tmpfs,target=/t,tmpfs-mode=1777"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMount(s)
		if err != nil {
			return
		}
		if m.Target == "" || !strings.Contains(s, m.Target) {
			t.Fatalf("%q: target %q", s, m.Target)
		}
	})
}

func TestParsePlatform(t *testing.T) {
	p, err := command.ParsePlatform("linux/arm64/v8")
	if err != nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("got %+v %v", p, err)
	}
	for _, bad := range []string{"", "a/b/c/d", "/amd64"} {
		if _, err := command.ParsePlatform(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestReadSecurityOpts(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "p.json")
	if err := os.WriteFile(good, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		in   []string
		want []string
		err  string
	}{
		{[]string{"seccomp=unconfined", "no-new-privileges", "seccomp:builtin"}, []string{"seccomp=unconfined", "no-new-privileges", "seccomp:builtin"}, ""},
		{[]string{"seccomp=" + good}, []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}, ""},
		{[]string{"seccomp:" + good}, []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}, ""},
		{[]string{"seccomp=" + missing}, nil, "opening seccomp profile (" + missing + ") failed: open " + missing + ": no such file or directory"},
		{[]string{"seccomp=" + bad}, nil, "compacting json for seccomp profile (" + bad + ") failed"},
	}
	for _, tt := range tests {
		got, err := readSecurityOpts(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestValidateExtraHost(t *testing.T) {
	for in, ok := range map[string]bool{
		"db:10.0.0.5": true, "db=10.0.0.5": true, "gw:host-gateway": true, "v6:::1": true, "v6=[::1]": true,
		"db": false, ":10.0.0.5": false, "db:notanip": false, "": false,
	} {
		if err := validateExtraHost(in); (err == nil) != ok {
			t.Errorf("validateExtraHost(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzValidateExtraHost: --add-host values come from the user.
func FuzzValidateExtraHost(f *testing.F) {
	for _, s := range []string{"db:10.0.0.5", "gw:host-gateway", "v6:::1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := validateExtraHost(s); err == nil && !strings.ContainsAny(s, ":=") {
			t.Fatalf("%q accepted without a separator", s)
		}
	})
}
