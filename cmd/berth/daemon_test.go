package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestApplyConfigFile(t *testing.T) {
	tests := []struct {
		name    string
		file    string // "" = no file
		args    []string
		wantErr string
		check   func(o *daemonOptions) string
	}{
		{name: "no file, defaults", check: func(o *daemonOptions) string {
			if o.cfg.DataRoot != "/var/lib/berth" || o.cfg.Bridge != "berth0" || o.debug {
				return "defaults changed"
			}
			return ""
		}},
		{name: "file sets what flags left alone", file: `{"data-root":"/srv/berth","bridge":"br9","bip":"172.31.0.1/16","debug":true,"insecure-registries":["r:5000"],"registry-mirrors":["http://m"]}`,
			check: func(o *daemonOptions) string {
				if o.cfg.DataRoot != "/srv/berth" || o.cfg.Bridge != "br9" || o.cfg.BIP.String() != "172.31.0.1/16" || !o.debug {
					return "file values not applied"
				}
				if len(o.cfg.Registry.Insecure) != 1 || len(o.cfg.Registry.Mirrors) != 1 {
					return "registry lists not applied"
				}
				return ""
			}},
		{name: "flags and file merge where they do not overlap", file: `{"exec-root":"/run/x"}`, args: []string{"--data-root", "/d"},
			check: func(o *daemonOptions) string {
				if o.cfg.DataRoot != "/d" || o.cfg.ExecRoot != "/run/x" {
					return "merge lost a value"
				}
				return ""
			}},
		{name: "conflict between flag and file", file: `{"data-root":"/a"}`, args: []string{"--data-root", "/b"},
			wantErr: "specified both as a flag and in the configuration file: data-root: (from flag: /b, from file: \"/a\")"},
		{name: "list conflict", file: `{"insecure-registries":["a"]}`, args: []string{"--insecure-registry", "b"},
			wantErr: "specified both as a flag and in the configuration file: insecure-registries"},
		{name: "unknown key refused", file: `{"data-root":"/a","storage-driver":"zfs","foo":1}`,
			wantErr: "don't match any configuration option berth supports: foo, storage-driver"},
		{name: "malformed", file: `{not json`, wantErr: "invalid daemon config"},
		{name: "wrong type", file: `{"debug":"yes"}`, wantErr: "invalid daemon config"},
		{name: "bad bip", file: `{"bip":"nonsense"}`, wantErr: "bip"},
		{name: "missing explicit file", args: []string{"--config-file", "/nonexistent/daemon.json"}, wantErr: "read daemon config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o daemonOptions
			f := pflag.NewFlagSet("daemon", pflag.ContinueOnError)
			bindDaemonFlags(f, &o)
			args := tt.args
			if tt.file != "" {
				p := filepath.Join(t.TempDir(), "daemon.json")
				if err := os.WriteFile(p, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config-file", p)
			} else if !strings.Contains(strings.Join(args, " "), "--config-file") {
				args = append(args, "--config-file", filepath.Join(t.TempDir(), "absent.json"))
				// An absent file named on the command line is an error;
				// the default path that is absent is not: emulate it.
			}
			if err := f.Parse(args); err != nil {
				t.Fatal(err)
			}
			if tt.file == "" && tt.wantErr == "" {
				// Default path semantics: not Changed.
				f = pflag.NewFlagSet("daemon", pflag.ContinueOnError)
				o = daemonOptions{}
				bindDaemonFlags(f, &o)
				o.configFile = filepath.Join(t.TempDir(), "absent.json")
			}
			err := applyConfigFile(f, &o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(&o); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestParseHosts(t *testing.T) {
	tlsOn := tlsOptions{verify: true}
	tests := []struct {
		hosts   []string
		tls     tlsOptions
		want    []string // network:addr
		wantErr string
	}{
		{hosts: nil, want: []string{"unix:/run/berth/berth.sock"}},
		{hosts: []string{"unix:///tmp/a.sock", "unix://"}, want: []string{"unix:/tmp/a.sock", "unix:/run/berth/berth.sock"}},
		{hosts: []string{"unix:///tmp/a.sock", "tcp://127.0.0.1:2376"}, tls: tlsOn, want: []string{"unix:/tmp/a.sock", "tcp:127.0.0.1:2376"}},
		{hosts: []string{"tcp://0.0.0.0:12376"}, tls: tlsOptions{enable: true}, want: []string{"tcp:0.0.0.0:12376"}},
		{hosts: []string{"tcp://10.0.0.1"}, tls: tlsOn, want: []string{"tcp:10.0.0.1:2376"}},
		{hosts: []string{"tcp://:2376"}, tls: tlsOn, want: []string{"tcp:127.0.0.1:2376"}},
		{hosts: []string{"tcp://[::1]:2376", "tcp://[::1]"}, tls: tlsOn, want: []string{"tcp:[::1]:2376", "tcp:[::1]:2376"}},
		{hosts: []string{"tcp://h:1"}, tls: tlsOptions{verifySet: true}, want: []string{"tcp:h:1"}},
		{hosts: []string{"tcp://127.0.0.1:2375"}, wantErr: "binding to an unauthenticated TCP address is refused: use --tlsverify"},
		{hosts: []string{"tcp://127.0.0.1:2376/v1"}, tls: tlsOn, wantErr: "not under a path"},
		{hosts: []string{"fd://"}, wantErr: "fd:// (systemd socket activation) is not supported"},
		{hosts: []string{"ssh://x"}, wantErr: "unsupported proto 'ssh'"},
		{hosts: []string{"/run/x.sock"}, wantErr: "invalid bind address format"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.hosts, ","), func(t *testing.T) {
			addrs, err := parseHosts(tt.hosts, tt.tls)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.network+":"+a.addr)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDaemonTLSConfig(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		args  []string
		check func(o *daemonOptions) string
		err   string
	}{
		{name: "defaults", check: func(o *daemonOptions) string {
			if o.tls.on() || len(o.hosts) != 1 || o.hosts[0] != "unix:///run/berth/berth.sock" || filepath.Base(o.tls.caFile) != "ca.pem" || filepath.Base(o.tls.cert) != "cert.pem" || filepath.Base(o.tls.key) != "key.pem" {
				return "unexpected defaults"
			}
			return ""
		}},
		{name: "repeatable -H", args: []string{"-H", "unix:///a", "-H", "tcp://1.2.3.4:2376", "--tlsverify"}, check: func(o *daemonOptions) string {
			if len(o.hosts) != 2 || o.hosts[1] != "tcp://1.2.3.4:2376" || !o.tls.verify || !o.tls.on() {
				return "hosts/tls not parsed"
			}
			return ""
		}},
		{name: "--tlsverify=false still means TLS", args: []string{"--tlsverify=false"}, check: func(o *daemonOptions) string {
			if !o.tls.on() || o.tls.verify {
				return "want TLS without verification"
			}
			return ""
		}},
		{name: "daemon.json keys", file: `{"hosts":["unix:///x","tcp://0.0.0.0:2376"],"tls":true,"tlsverify":true,"tlscacert":"/c/ca.pem","tlscert":"/c/server.pem","tlskey":"/c/server-key.pem"}`,
			check: func(o *daemonOptions) string {
				if len(o.hosts) != 2 || !o.tls.enable || !o.tls.verify || o.tls.caFile != "/c/ca.pem" || o.tls.cert != "/c/server.pem" || o.tls.key != "/c/server-key.pem" {
					return "daemon.json TLS keys not applied"
				}
				return ""
			}},
		{name: "hosts in flag and file", file: `{"hosts":["unix:///x"]}`, args: []string{"-H", "unix:///y"}, err: "specified both as a flag and in the configuration file: hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o daemonOptions
			f := pflag.NewFlagSet("daemon", pflag.ContinueOnError)
			bindDaemonFlags(f, &o)
			if err := f.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			o.configFile = filepath.Join(t.TempDir(), "absent.json")
			if tt.file != "" {
				if err := os.WriteFile(o.configFile, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := applyConfigFile(f, &o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(&o); msg != "" {
				t.Error(msg)
			}
		})
	}
}
