package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

func testApp() (*command.Cli, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return command.New(strings.NewReader(""), &out, &errOut), &out, &errOut
}

func TestMainErrors(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stderr   string
		stdout   string
		extraCmd bool
	}{
		{args: []string{"frobnicate"}, code: 1, stderr: "berth: 'frobnicate' is not a berth command.\nSee 'berth --help'\n"},
		{args: []string{"ps", "--bogus"}, code: 125, stderr: "unknown flag: --bogus\nSee 'berth ps --help'.\n"},
		{args: []string{"run"}, code: 1, stderr: "\"berth run\" requires at least 1 argument.\nSee 'berth run --help'.\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n"},
		{args: []string{"--version"}, code: 0, stdout: "berth version " + Version + "\n"},
		{args: []string{"-H", "unix:///nonexistent/berth.sock", "ps"}, code: 1, stderr: "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock"},
		{args: []string{"-H", "unix:///nonexistent/berth.sock", "run", "busybox"}, code: 125, stderr: "berth: Cannot connect to the berth daemon"},
		{args: []string{"run", "--restart", "bogus", "busybox"}, code: 125, stderr: "berth: invalid restart policy format"},
		{args: []string{"hello"}, code: 0, stdout: "hi\n", extraCmd: true},
		{args: []string{"service", "scale", "web"}, code: 1, stderr: "invalid scale specifier 'web'.\nSee 'berth service scale --help'."},
		{args: []string{"service", "create", "--mode", "global", "--replicas", "x", "nginx"}, code: 125, stderr: `invalid argument "x" for "--replicas" flag`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, out, errOut := testApp()
			var extra []*cobra.Command
			if tt.extraCmd {
				extra = append(extra, &cobra.Command{Use: "hello", Hidden: true, Run: func(cmd *cobra.Command, _ []string) { cmd.Print("hi\n") }})
			}
			code := mainWith(a, tt.args, extra...)
			if code != tt.code {
				t.Errorf("code = %d want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.stderr)
			}
			if tt.stdout != "" && out.String() != tt.stdout {
				t.Errorf("stdout = %q want %q", out.String(), tt.stdout)
			}
		})
	}
}

func TestCommandTree(t *testing.T) {
	root := NewRootCommand()
	for _, path := range [][]string{
		{"run"}, {"create"}, {"ps"}, {"container", "ls"}, {"container", "list"}, {"container", "prune"}, {"container", "inspect"},
		{"image", "ls"}, {"image", "rm"}, {"image", "prune"}, {"image", "inspect"}, {"images"}, {"rmi"}, {"history"},
		{"volume", "ls"}, {"volume", "create"}, {"volume", "prune"}, {"system", "prune"}, {"system", "info"},
		{"network", "ls"}, {"version"}, {"info"}, {"events"}, {"exec"}, {"cp"}, {"stats"}, {"commit"}, {"save"}, {"load"}, {"import"},
		{"login"}, {"logout"}, {"build"}, {"pull"}, {"push"}, {"attach"}, {"top"}, {"port"}, {"diff"}, {"export"}, {"wait"},
		{"swarm", "init"}, {"swarm", "join-token"}, {"node", "ls"}, {"node", "list"}, {"node", "ps"}, {"node", "remove"},
		{"service", "create"}, {"service", "ls"}, {"service", "ps"}, {"service", "remove"}, {"service", "logs"},
	} {
		c, rest, err := root.Find(path)
		if err != nil || len(rest) != 0 || c == root {
			t.Errorf("%v: not found (%v)", path, err)
		}
	}
	run, _, _ := root.Find([]string{"run"})
	for _, f := range []string{"detach", "interactive", "tty", "rm", "name", "env", "env-file", "workdir", "user", "entrypoint",
		"hostname", "volume", "mount", "tmpfs", "read-only", "memory", "memory-swap", "cpus", "cpu-shares", "cpuset-cpus",
		"pids-limit", "restart", "stop-timeout", "stop-signal", "privileged", "cap-add", "cap-drop", "security-opt", "network",
		"net", "publish", "publish-all", "expose", "label", "log-driver", "log-opt", "ulimit", "sysctl", "shm-size", "group-add",
		"init", "platform", "pull", "detach-keys", "sig-proxy", "attach"} {
		if run.Flags().Lookup(f) == nil {
			t.Errorf("run: missing --%s", f)
		}
	}
	if run.Flags().ShorthandLookup("h").Name != "hostname" {
		t.Error("run -h should be --hostname")
	}
}

func TestExtraCommandWithOwnHostFlag(t *testing.T) {
	a, out, errOut := testApp()
	var host string
	var debug bool
	d := &cobra.Command{Use: "daemon", RunE: func(cmd *cobra.Command, _ []string) error {
		cmd.Printf("%s %t\n", host, debug)
		return nil
	}}
	d.Flags().StringVarP(&host, "host", "H", "unix:///default", "")
	d.Flags().BoolVarP(&debug, "debug", "D", false, "")
	if code := mainWith(a, []string{"daemon", "-H", "unix:///x", "-D"}, d); code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if out.String() != "unix:///x true\n" {
		t.Errorf("out = %q", out.String())
	}
}

func TestSplitGlobalFlags(t *testing.T) {
	g, rest, err := splitGlobalFlags([]string{"-H", "unix:///a", "-D", "--log-level=debug", "ps", "-a"})
	if err != nil || strings.Join(g, " ") != "-H unix:///a -D --log-level=debug" || strings.Join(rest, " ") != "ps -a" {
		t.Errorf("got %q %q %v", g, rest, err)
	}
	if _, _, err := splitGlobalFlags([]string{"--host"}); err == nil {
		t.Error("want error for missing value")
	}
}
