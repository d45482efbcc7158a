package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
)

// TestCreateValidation runs create requests dockerd refuses through the
// docker CLI: each must fail (docker run with 125, docker create with 1)
// with dockerd's message and leave no container behind.
func TestCreateValidation(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	ncpu := runtime.NumCPU()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--cpus", fmt.Sprint(ncpu + 1)}, fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)},
		{[]string{"--cpuset-cpus", "1-x"}, "Invalid value 1-x for cpuset cpus"},
		{[]string{"--memory", "64m", "--memory-swap", "32m"}, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{[]string{"--cap-add", "FOO"}, `unknown capability: "CAP_FOO"`},
		{[]string{"--security-opt", "foo=bar"}, `invalid --security-opt 2: "foo=bar"`},
		{[]string{"--stop-signal", "SIGFOO"}, "invalid signal: SIGFOO"},
		{[]string{"--log-opt", "foo=bar"}, "unknown log opt 'foo' for json-file log driver"},
		{[]string{"--log-driver", "bogus"}, "logger: no log driver named 'bogus' is registered"},
		{[]string{"--cpus", "1", "--cpu-period", "100000"}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{[]string{"--health-cmd", "true", "--health-interval", "500us"}, "Interval in Healthcheck cannot be less than 1ms"},
		{[]string{"--workdir", "x"}, "the working directory 'x' is invalid, it needs to be an absolute path"},
	}
	for _, tt := range tests {
		for verb, code := range map[string]int{"create": 1, "run": 125} {
			args := append(append([]string{verb}, tt.args...), "busybox", "true")
			r := d.Docker(args...)
			if r.Code != code || !strings.Contains(r.Stderr, "Error response from daemon: ") || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("docker %s: want exit %d with %q, got %s", strings.Join(args, " "), code, tt.want, r)
			}
		}
	}
	// What the CLI checks itself, straight to the API.
	for _, tt := range []struct{ path, body, want string }{
		{"/containers/create", `{"Image":"x/UPPER","Cmd":["true"]}`, "invalid reference format: repository name (x/UPPER) must be lowercase"},
		{"/images/create?fromImage=a%40%40b", "", "invalid reference format"},
		{"/images/busybox/tag?repo=x%3Ay&tag=z", "", "invalid reference format"},
		{"/networks/create", `{"Name":"lonet","Options":{"com.docker.network.bridge.name":"lo"}}`, "interface lo exists and is not a bridge"},
		{"/networks/create", `{"Name":"loopnet","IPAM":{"Config":[{"Subnet":"127.1.0.0/16"}]}}`, "invalid subnet 127.1.0.0/16: it overlaps with the loopback range 127.0.0.0/8"},
	} {
		resp, err := d.HTTPClient().Post("http://berth/v1.47"+tt.path, "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		var msg struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&msg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || !strings.Contains(msg.Message, tt.want) {
			t.Errorf("POST %s %s: %d %q (%v), want 400 with %q", tt.path, tt.body, resp.StatusCode, msg.Message, err, tt.want)
		}
	}
	if _, err := net.InterfaceByName("lo"); err != nil {
		t.Fatalf("lo is gone after network create with bridge.name=lo: %v", err)
	}
	for _, args := range [][]string{
		{"network", "create", "-o", "com.docker.network.bridge.name=lo", "lonet"},
		{"network", "create", "--subnet", "127.1.0.0/16", "loopnet"},
		{"tag", "busybox", "x:y:z"},
	} {
		if r := d.Docker(args...); r.Code == 0 || !strings.Contains(r.Stderr, "Error response from daemon") && !strings.Contains(r.Stderr, "invalid reference format") {
			t.Errorf("docker %s: %s", strings.Join(args, " "), r)
		}
	}
	if out := d.MustDocker("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "lonet") || strings.Contains(out, "loopnet") {
		t.Errorf("refused networks exist: %s", out)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"SecurityOpt":["foo"]}}`, `invalid --security-opt 1: "foo"`},
		{`{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Retries":-1}}`, "Retries in Healthcheck cannot be negative"},
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"ExtraHosts":["foo:1.2.3"]}}`, `invalid IP address in add-host: "1.2.3"`},
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"ShmSize":-1}}`, "SHM size can not be less than 0"},
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"Binds":[":/x"]}}`, "invalid volume specification: ':/x'"},
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":10,"Hard":5}]}}`, "ulimit soft limit must be less than or equal to hard limit: 10 > 5"},
		{`{"Image":"busybox","Cmd":["true"],"HostConfig":{"Ulimits":[{"Name":"bogus","Soft":1,"Hard":1}]}}`, "invalid ulimit type: bogus"},
	} {
		resp, err := d.HTTPClient().Post("http://berth/v1.47/containers/create", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		var msg struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&msg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || !strings.Contains(msg.Message, tt.want) {
			t.Errorf("create %s: %d %q (%v), want 400 with %q", tt.body, resp.StatusCode, msg.Message, err, tt.want)
		}
	}
	if out := strings.TrimSpace(d.MustDocker("ps", "-a", "-q")); out != "" {
		t.Fatalf("refused creates left containers: %q", out)
	}
	// The same options, valid, still create.
	d.MustDocker("create", "--cpus", "1", "--cpuset-cpus", "0", "--memory", "64m", "--memory-swap", "128m",
		"--cap-add", "NET_ADMIN", "--security-opt", "no-new-privileges", "--stop-signal", "SIGUSR1",
		"--log-opt", "max-size=1m", "--ulimit", "nofile=5:10", "--workdir", "/tmp", "busybox", "true")
	if n := len(strings.Fields(d.MustDocker("ps", "-a", "-q"))); n != 1 {
		t.Fatalf("valid create: %d containers", n)
	}
}
