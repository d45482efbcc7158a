package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
)

func TestValidateCreate(t *testing.T) {
	type req struct {
		cfg apicontainer.Config
		hc  apicontainer.HostConfig
	}
	res := func(r apicontainer.Resources) req { return req{hc: apicontainer.HostConfig{Resources: r}} }
	hcOnly := func(hc apicontainer.HostConfig) req { return req{hc: hc} }
	cfgOnly := func(cfg apicontainer.Config) req { return req{cfg: cfg} }
	logCfg := func(typ string, opts map[string]string) req {
		return hcOnly(apicontainer.HostConfig{LogConfig: apicontainer.LogConfig{Type: typ, Config: opts}})
	}
	tests := []struct {
		name string
		in   req
		want string // "" = valid
	}{
		{"empty", req{}, ""},
		{"everything valid", req{
			cfg: apicontainer.Config{WorkingDir: "/app", StopSignal: "SIGUSR1", Healthcheck: &apicontainer.HealthConfig{Interval: time.Second, Retries: 3}},
			hc: apicontainer.HostConfig{
				Resources:   apicontainer.Resources{NanoCPUs: 1e9, CpusetCpus: "0-1", Memory: 64 << 20, MemorySwap: 128 << 20, Ulimits: []*apicontainer.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}},
				CapAdd:      []string{"NET_ADMIN", "cap_sys_time", "ALL"},
				SecurityOpt: []string{"no-new-privileges", "no-new-privileges=true", "seccomp=unconfined", "seccomp=/some/profile.json", "apparmor=x", "label=disable", "label:disable", "systempaths=unconfined"},
				LogConfig:   apicontainer.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
				Binds:       []string{"/tmp:/x", "vol:/y:ro", "/z"},
				ExtraHosts:  []string{"a:1.2.3.4", "b:::1", "c:[::1]", "d=5.6.7.8", "e:host-gateway"},
			},
		}, ""},
		{"nanocpus too many", res(apicontainer.Resources{NanoCPUs: 3e9}), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"nanocpus negative", res(apicontainer.Resources{NanoCPUs: -1}), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"nanocpus and period", res(apicontainer.Resources{NanoCPUs: 1e9, CPUPeriod: 100000}), "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{"nanocpus and quota", res(apicontainer.Resources{NanoCPUs: 1e9, CPUQuota: 50000}), "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{"cpuset syntax", res(apicontainer.Resources{CpusetCpus: "1-x"}), "Invalid value 1-x for cpuset cpus"},
		{"cpuset backwards", res(apicontainer.Resources{CpusetCpus: "1-0"}), "Invalid value 1-0 for cpuset cpus"},
		{"cpuset beyond host", res(apicontainer.Resources{CpusetCpus: "0,7"}), "Invalid value 0,7 for cpuset cpus"},
		{"cpuset mems", res(apicontainer.Resources{CpusetMems: "a"}), "Invalid value a for cpuset mems"},
		{"swap below memory", res(apicontainer.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}), "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{"swap without memory", res(apicontainer.Resources{MemorySwap: 32 << 20}), "You should always set the Memory limit when using Memoryswap limit, see usage"},
		{"ulimit name", res(apicontainer.Resources{Ulimits: []*apicontainer.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}}), "invalid ulimit type: bogus"},
		{"ulimit soft > hard", res(apicontainer.Resources{Ulimits: []*apicontainer.Ulimit{{Name: "nofile", Soft: 10, Hard: 5}}}), "ulimit soft limit must be less than or equal to hard limit: 10 > 5"},
		{"shm negative", hcOnly(apicontainer.HostConfig{ShmSize: -1}), "SHM size can not be less than 0"},
		{"cap add unknown", hcOnly(apicontainer.HostConfig{CapAdd: []string{"FOO"}}), `unknown capability: "CAP_FOO"`},
		{"cap drop unknown", hcOnly(apicontainer.HostConfig{CapDrop: []string{"CAP_FOO"}}), `invalid CapDrop: unknown capability: "CAP_FOO"`},
		{"security-opt no value", hcOnly(apicontainer.HostConfig{SecurityOpt: []string{"foo"}}), `invalid --security-opt 1: "foo"`},
		{"security-opt unknown key", hcOnly(apicontainer.HostConfig{SecurityOpt: []string{"foo=bar"}}), `invalid --security-opt 2: "foo=bar"`},
		{"security-opt nnp value", hcOnly(apicontainer.HostConfig{SecurityOpt: []string{"no-new-privileges=maybe"}}), `invalid --security-opt 2: "no-new-privileges=maybe"`},
		{"security-opt systempaths", hcOnly(apicontainer.HostConfig{SecurityOpt: []string{"systempaths=x"}}), `invalid --security-opt 2: "systempaths=x"`},
		{"stop signal", cfgOnly(apicontainer.Config{StopSignal: "SIGFOO"}), "invalid signal: SIGFOO"},
		{"stop signal number", cfgOnly(apicontainer.Config{StopSignal: "99"}), "invalid signal: 99"},
		{"log opt unknown", logCfg("json-file", map[string]string{"foo": "1"}), "unknown log opt 'foo' for json-file log driver"},
		{"log opt default driver", logCfg("", map[string]string{"foo": "1"}), "unknown log opt 'foo' for json-file log driver"},
		{"log max-size", logCfg("json-file", map[string]string{"max-size": "lots"}), `invalid max-size "lots"`},
		{"log driver unknown", logCfg("bogus", nil), "logger: no log driver named 'bogus' is registered"},
		{"log driver unsupported", logCfg("syslog", nil), `logging driver "syslog" is not supported`},
		{"health interval", cfgOnly(apicontainer.Config{Healthcheck: &apicontainer.HealthConfig{Interval: -time.Second}}), "Interval in Healthcheck cannot be less than 1ms"},
		{"health timeout", cfgOnly(apicontainer.Config{Healthcheck: &apicontainer.HealthConfig{Timeout: time.Microsecond}}), "Timeout in Healthcheck cannot be less than 1ms"},
		{"health start period", cfgOnly(apicontainer.Config{Healthcheck: &apicontainer.HealthConfig{StartPeriod: -1}}), "StartPeriod in Healthcheck cannot be less than 1ms"},
		{"health start interval", cfgOnly(apicontainer.Config{Healthcheck: &apicontainer.HealthConfig{StartInterval: -1}}), "StartInterval in Healthcheck cannot be less than 1ms"},
		{"health retries", cfgOnly(apicontainer.Config{Healthcheck: &apicontainer.HealthConfig{Retries: -1}}), "Retries in Healthcheck cannot be negative"},
		{"workdir relative", cfgOnly(apicontainer.Config{WorkingDir: "x"}), "the working directory 'x' is invalid, it needs to be an absolute path"},
		{"bind empty source", hcOnly(apicontainer.HostConfig{Binds: []string{":/x"}}), "invalid volume specification: ':/x'"},
		{"bind relative dest", hcOnly(apicontainer.HostConfig{Binds: []string{"/a:b"}}), "invalid volume specification: '/a:b'"},
		{"bind too many parts", hcOnly(apicontainer.HostConfig{Binds: []string{"/a:/b:ro:x"}}), "invalid volume specification: '/a:/b:ro:x'"},
		{"extra host bad ip", hcOnly(apicontainer.HostConfig{ExtraHosts: []string{"foo:1.2.3"}}), `invalid IP address in add-host: "1.2.3"`},
		{"extra host no ip", hcOnly(apicontainer.HostConfig{ExtraHosts: []string{"foo"}}), `bad format for add-host: "foo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, hc := tt.in.cfg, tt.in.hc
			err := validateCreate(&cfg, &hc, 2)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error = %v, want invalid argument containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateImageRef(t *testing.T) {
	tests := []struct {
		ref  string
		want string
	}{
		{"busybox", ""},
		{"busybox:1.36", ""},
		{"localhost:5000/a/b:c", ""},
		{"sha256:" + strings.Repeat("a", 64), ""},
		{"abc123", ""},
		// A first component with capitals is a registry host to the
		// reference library (hosts are case-insensitive), as for docker.
		{"UPPER/x", ""},
		{"UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"x/UPPER", "invalid reference format: repository name (x/UPPER) must be lowercase"},
		{"a@@b", "invalid reference format"},
		{"x:y:z", "invalid reference format"},
	}
	for _, tt := range tests {
		err := validateImageRef(tt.ref)
		if tt.want == "" {
			if err != nil {
				t.Errorf("validateImageRef(%q) = %v", tt.ref, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("validateImageRef(%q) = %v, want %q", tt.ref, err, tt.want)
		}
	}
}
