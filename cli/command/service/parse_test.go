package service

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	swarmtypes "github.com/moby/moby/api/types/swarm"
)

func port(proto string, target, published uint32, mode string) swarmtypes.PortConfig {
	return swarmtypes.PortConfig{Protocol: swarmPortProto(proto), TargetPort: target, PublishedPort: published, PublishMode: swarmtypes.PortConfigPublishMode(mode)}
}

// parseCase is one input of a parser's test: what it must give, or the
// error it must fail with.
type parseCase[T any] struct {
	in   string
	want T
	err  string
}

// checkParse runs parse (name, in the failures) on every case.
func checkParse[T any](t *testing.T, name string, parse func(string) (T, error), tests []parseCase[T]) {
	t.Helper()
	for _, tt := range tests {
		got, err := parse(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s(%q) error = %v, want %q", name, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s(%q) = %+v, %v; want %+v", name, tt.in, got, err, tt.want)
		}
	}
}

func TestParsePublish(t *testing.T) {
	checkParse(t, "parsePublish", parsePublish, []parseCase[[]swarmtypes.PortConfig]{
		{in: "8080:80", want: []swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress")}},
		{in: "80", want: []swarmtypes.PortConfig{port("tcp", 80, 0, "ingress")}},
		{in: "53:53/udp", want: []swarmtypes.PortConfig{port("udp", 53, 53, "ingress")}},
		{in: "53:53/UDP", want: []swarmtypes.PortConfig{port("udp", 53, 53, "ingress")}},
		{in: "8080-8081:80-81", want: []swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress"), port("tcp", 81, 8081, "ingress")}},
		{in: "8080-8082:80", want: []swarmtypes.PortConfig{port("tcp", 80, 8080, "ingress"), port("tcp", 80, 8081, "ingress"), port("tcp", 80, 8082, "ingress")}},
		{in: "published=8080,target=80,mode=host,protocol=udp", want: []swarmtypes.PortConfig{port("udp", 80, 8080, "host")}},
		{in: "target=80", want: []swarmtypes.PortConfig{port("tcp", 80, 0, "ingress")}},
		{in: "Target=80,Published=81", want: []swarmtypes.PortConfig{port("tcp", 80, 81, "ingress")}},
		{in: "published=8080", err: "missing mandatory field 'target'"},
		{in: "target=80,mode=bridge", err: "invalid publish mode value (bridge): must be either 'ingress' or 'host'"},
		{in: "target=80,protocol=icmp", err: "invalid protocol value 'icmp'"},
		{in: "target=x", err: "invalid target port (x): value must be an integer: invalid syntax"},
		{in: "target=80,published=70000", err: "invalid published port (70000): value must be an integer: value out of range"},
		{in: "target=80,foo=1", err: "invalid field key: foo"},
		{in: "target=80,nokey", err: "invalid field: nokey"},
		{in: "127.0.0.1:8080:80", err: "hostip is not supported"},
		{in: "8080:80/icmp", err: "invalid proto: icmp"},
		{in: "abc:80", err: "invalid hostPort: abc"},
		{in: "8080:", err: "no port specified: 8080:<empty>"},
		{in: "8080:x", err: "invalid containerPort: x"},
		{in: "8080-8082:80-81", err: "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"},
		{in: "bad.ip:80:80", err: "invalid IP address: bad.ip"},
	})
}

func TestParseMount(t *testing.T) {
	cwd, _ := os.Getwd()
	checkParse(t, "parseMount", parseMount, []parseCase[mount.Mount]{
		{in: "type=bind,source=/src,target=/dst,readonly", want: mount.Mount{Type: "bind", Source: "/src", Target: "/dst", ReadOnly: true}},
		{in: "type=bind,src=./rel,dst=/dst,ro=false,bind-propagation=rshared", want: mount.Mount{Type: "bind", Source: filepath.Join(cwd, "rel"), Target: "/dst",
			BindOptions: &mount.BindOptions{Propagation: "rshared"}}},
		{in: "source=data,target=/data", want: mount.Mount{Type: "volume", Source: "data", Target: "/data"}},
		{in: "type=volume,source=data,destination=/data,volume-driver=local,volume-label=a=b,volume-opt=o=v,volume-nocopy", want: mount.Mount{
			Type: "volume", Source: "data", Target: "/data", VolumeOptions: &mount.VolumeOptions{
				NoCopy: true, Labels: map[string]string{"a": "b"}, DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"o": "v"}},
			}}},
		{in: "type=tmpfs,target=/tmp,tmpfs-size=64m,tmpfs-mode=1777", want: mount.Mount{Type: "tmpfs", Target: "/tmp",
			TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}}},
		{in: "type=Volume,target=/x", want: mount.Mount{Type: "volume", Target: "/x"}},
		{in: "source=/x", err: "target is required"},
		{in: "type=,target=/x", err: "type is required"},
		{in: "type=bind,source=/s,target=/x,volume-nocopy", err: "cannot mix 'volume-*' options with mount type 'bind'"},
		{in: "type=volume,target=/x,bind-propagation=shared", err: "cannot mix 'bind-*' options with mount type 'volume'"},
		{in: "type=bind,target=/x,tmpfs-size=1m", err: "cannot mix 'tmpfs-*' options with mount type 'bind'"},
		{in: "target=/x,foo=bar", err: "unexpected key 'foo' in 'foo=bar'"},
		{in: "target=/x,readonly=maybe", err: "invalid value for readonly: maybe"},
		{in: "target=/x,bogus", err: "invalid field 'bogus' must be a key=value pair"},
		{in: "type=tmpfs,target=/x,tmpfs-size=lots", err: "invalid value for tmpfs-size: lots"},
		{in: "type=tmpfs,target=/x,tmpfs-mode=999", err: "invalid value for tmpfs-mode: 999"},
		{in: `target="/x`, err: `parse error on line 1, column 8: bare " in non-quoted-field`},
	})
}

func TestParseNetwork(t *testing.T) {
	checkParse(t, "parseNetwork", parseNetwork, []parseCase[swarmtypes.NetworkAttachmentConfig]{
		{in: "frontend", want: swarmtypes.NetworkAttachmentConfig{Target: "frontend"}},
		{in: "name=front,alias=web,alias=www,driver-opt=com.docker.network.driver.mtu=1400", want: swarmtypes.NetworkAttachmentConfig{
			Target: "front", Aliases: []string{"web", "www"}, DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}}},
		{in: "alias=web", err: "network name/id is not specified"},
		{in: "name=front,ip=10.0.0.2", err: "invalid field key ip"},
		{in: "name=front,driver-opt=novalue", err: "invalid key value pair format in driver options"},
	})
}

func TestParseFileRef(t *testing.T) {
	tests := []struct {
		in, kind string
		name     string
		file     fileRef
		err      string
	}{
		{in: "db_pass", kind: "secret", name: "db_pass", file: fileRef{Name: "db_pass", UID: "0", GID: "0", Mode: 0o444}},
		{in: "source=db_pass,target=/run/pw,uid=100,gid=101,mode=0400", kind: "secret", name: "db_pass", file: fileRef{Name: "/run/pw", UID: "100", GID: "101", Mode: 0o400}},
		{in: "src=cfg", kind: "config", name: "cfg", file: fileRef{Name: "cfg", UID: "0", GID: "0", Mode: 0o444}},
		{in: "target=/x", kind: "secret", err: "source is required"},
		{in: "source=s,bogus=1", kind: "secret", err: "invalid field in secret request: bogus"},
		{in: "source=s,bogus=1", kind: "config", err: "invalid field in config request: bogus"},
		{in: "source=s,mode=rw", kind: "secret", err: `invalid mode specified: strconv.ParseUint: parsing "rw": invalid syntax`},
		{in: "source=s,novalue", kind: "secret", err: "invalid field 'novalue' must be a key=value pair"},
	}
	for _, tt := range tests {
		name, file, err := parseFileRef(tt.in, tt.kind)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseFileRef(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || name != tt.name || file != tt.file {
			t.Errorf("parseFileRef(%q) = %q, %+v, %v", tt.in, name, file, err)
		}
	}
}

func TestEnvFile(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "FROM_HOST" {
			return "yes", true
		}
		return "", false
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.env")
	content := "\xEF\xBB\xBFFIRST=1\n# a comment\n\n  INDENTED=two words\nFROM_HOST\nUNSET\nEMPTY=\nEQ=a=b\n"
	if err := os.WriteFile(good, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(good, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FIRST=1", "INDENTED=two words", "FROM_HOST=yes", "EMPTY=", "EQ=a=b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readEnvFile = %q, want %q", got, want)
	}
	for content, msg := range map[string]string{
		"=novar\n":       "no variable name on line '=novar'",
		"BAD KEY=1\n":    "variable 'BAD KEY' contains whitespaces",
		"OK=1\n\xff=2\n": "invalid utf8 bytes at line 2: [255 61 50]",
	} {
		p := filepath.Join(dir, "bad.env")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readEnvFile(p, lookup); err == nil || err.Error() != "invalid env file ("+p+"): "+msg {
			t.Errorf("readEnvFile(%q) error = %v, want %q", content, err, msg)
		}
	}
	if _, err := readEnvFile(filepath.Join(dir, "missing"), lookup); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMakeEnv(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "e")
	if err := os.WriteFile(f, []byte("A=file\nB=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := newOptions()
	o.envFile.values = []string{f}
	o.env.values = []string{"B=flag", "C=flag", "A=again"}
	got, err := o.makeEnv()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"B=flag", "C=flag", "A=again"}; !reflect.DeepEqual(got, want) {
		t.Errorf("makeEnv = %q, want %q", got, want)
	}
}

func TestValues(t *testing.T) {
	var cpu cpuValue
	if err := cpu.Set("1.5"); err != nil || cpu != 1500000000 || cpu.String() != "1.500" {
		t.Errorf("cpu 1.5 = %d %q %v", cpu, cpu.String(), err)
	}
	for in, msg := range map[string]string{"0.0000000001": "value is too precise", "x": "failed to parse x as a rational number"} {
		if err := cpu.Set(in); err == nil || err.Error() != msg {
			t.Errorf("cpu %q: %v", in, err)
		}
	}
	var mem bytesValue
	for in, want := range map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1024": 1024, "1.5k": 1536} {
		if err := mem.Set(in); err != nil || int64(mem) != want {
			t.Errorf("bytes %q = %d, %v; want %d", in, mem, err, want)
		}
	}
	if err := mem.Set("lots"); err == nil || err.Error() != "invalid size: 'lots'" {
		t.Errorf("bytes lots: %v", err)
	}
	d := durationValue{positive: true}
	if err := d.Set("90s"); err != nil || *d.v != 90*time.Second {
		t.Errorf("duration 90s: %v", err)
	}
	if err := d.Set("-1s"); err == nil || err.Error() != "duration cannot be negative" {
		t.Errorf("negative duration: %v", err)
	}
	if err := d.Set("5"); err == nil || err.Error() != `time: missing unit in duration "5"` {
		t.Errorf("duration 5: %v", err)
	}
	var u uintValue
	if err := u.Set("0x10"); err != nil || *u.v != 16 || u.String() != "16" {
		t.Errorf("uint 0x10: %v", err)
	}
	if err := u.Set("-1"); err == nil || err.Error() != `strconv.ParseUint: parsing "-1": invalid syntax` {
		t.Errorf("uint -1: %v", err)
	}
	var f floatValue
	if err := f.Set("0.25"); err != nil || f != 0.25 || f.String() != "0.25" {
		t.Errorf("float: %v %v", f, err)
	}
	p := prefsValue()
	if err := p.Set("spread=node.labels.zone"); err != nil || p.items[0].Spread.SpreadDescriptor != "node.labels.zone" {
		t.Errorf("pref: %v", err)
	}
	if err := p.Set("pack=x"); err == nil || err.Error() != "unsupported placement preference pack (only spread is supported)" {
		t.Errorf("pref pack: %v", err)
	}
	if err := p.Set("spread"); err == nil || err.Error() != `placement preference must be of the format "<strategy>=<arg>"` {
		t.Errorf("pref spread: %v", err)
	}
}

func TestShellSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: `sh -c "echo hi"`, want: []string{"sh", "-c", "echo hi"}},
		{in: `'a b' c\ d "e\"f" ''`, want: []string{"a b", "c d", `e"f`, ""}},
		{in: `  spaced   out  `, want: []string{"spaced", "out"}},
		{in: ``, want: nil},
		{in: `"open`, err: "EOF found when expecting closing quote"},
		{in: `trail\`, err: "EOF found after escape character"},
	}
	for _, tt := range tests {
		got, err := shellSplit(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("shellSplit(%q) error = %v", tt.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shellSplit(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestValidators(t *testing.T) {
	tests := []struct {
		name     string
		fn       func(string) (string, error)
		in, want string
		err      string
	}{
		{"label", validateLabel, "a=b", "a=b", ""},
		{"label", validateLabel, "=b", "", "invalid label '=b': empty name"},
		{"label", validateLabel, "a b=c", "", "label 'a b' contains whitespaces"},
		{"dns", validateIP, "8.8.8.8", "8.8.8.8", ""},
		{"dns", validateIP, "0:0::1", "::1", ""},
		{"dns", validateIP, "dns.google", "", "IP address is not correctly formatted: dns.google"},
		{"dns-search", validateDNSSearch, "example.com", "example.com", ""},
		{"dns-search", validateDNSSearch, "example.com.", "example.com", ""},
		{"dns-search", validateDNSSearch, ".", ".", ""},
		{"dns-search", validateDNSSearch, "-bad.com", "", "-bad.com is not a valid domain"},
		{"dns-search", validateDNSSearch, "123", "", "123 is not a valid domain"},
		{"host", validateExtraHost, "db:10.0.0.5", "db:10.0.0.5", ""},
		{"host", validateExtraHost, "db=10.0.0.5", "db:10.0.0.5", ""},
		{"host", validateExtraHost, "v6:[::1]", "v6:::1", ""},
		{"host", validateExtraHost, "gw:host-gateway", "gw:host-gateway", ""},
		{"host", validateExtraHost, "nocolon", "", `bad format for add-host: "nocolon"`},
		{"host", validateExtraHost, "db:notanip", "", `invalid IP address in add-host: "notanip"`},
		{"env", validateEnv(func(string) (string, bool) { return "v", true }), "K", "K=v", ""},
		{"env", validateEnv(func(string) (string, bool) { return "", false }), "K", "K", ""},
		{"env", validateEnv(nil), "=x", "", "invalid environment variable: =x"},
	}
	for _, tt := range tests {
		got, err := tt.fn(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s %q: error = %v, want %q", tt.name, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %q = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	if got := swarmHosts([]string{"db:10.0.0.5", "v6:::1"}); !reflect.DeepEqual(got, []string{"10.0.0.5 db", "::1 v6"}) {
		t.Errorf("swarmHosts = %q", got)
	}
}

func swarmPortProto(p string) network.IPProtocol { return network.IPProtocol(p) }
