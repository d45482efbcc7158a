package machine

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-project/berth/machine"
)

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"1024", 1 << 30, true}, {"512m", 512 << 20, true}, {"2g", 2 << 30, true}, {"2GB", 2 << 30, true},
		{"0", 0, false}, {"-5", 0, false}, {"lots", 0, false}, {"1k", 0, false}, {"63m", 0, false},
	} {
		got, err := parseMemory(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseMemory(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestEngineArgs(t *testing.T) {
	got, err := engineArgs(localOwned, []string{"bip=10.1.0.1/16", "--debug=true"}, []string{"10.0.0.1:5000"}, []string{"https://m.example"})
	want := "--bip=10.1.0.1/16 --debug=true --insecure-registry=10.0.0.1:5000 --registry-mirror=https://m.example"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("engineArgs = %q, %v", got, err)
	}
	for _, bad := range []string{"debug", "=x", "host=tcp://0.0.0.0:1", "H=x", "data-root=/", "tlsverify=false", "cgroup-parent=x"} {
		if _, err := engineArgs(localOwned, []string{bad}, nil, nil); err == nil {
			t.Errorf("--engine-opt %q was taken", bad)
		}
	}
}

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in, machine, path string
	}{
		{"file.yml", "", "file.yml"}, {"myvm1:~", "myvm1", "~"}, {"myvm1:/tmp/x", "myvm1", "/tmp/x"},
		{"./a:b", "", "./a:b"}, {"/abs/a:b", "", "/abs/a:b"}, {":x", "", ":x"}, {"vm:", "vm", ""},
	} {
		got := parseLocation(tc.in)
		if got.machine != tc.machine || got.path != tc.path {
			t.Errorf("parseLocation(%q) = %+v", tc.in, got)
		}
	}
}

// shellPath's output, given to sh, is the path itself (with ~ as $HOME):
// no quoting trick in a file name runs anything.
func TestShellPath(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for _, p := range []string{"plain", "with space", "it's", `a"b`, "$(touch /tmp/pwned)", "`id`", "a\nb", "~/sub dir/f", "~", "", "-rf", `\`} {
		script := "HOME=/home/docker; printf '%s' " + shellPath(p)
		out, err := exec.Command("sh", "-c", script).Output()
		if err != nil {
			t.Errorf("%q: %v", p, err)
			continue
		}
		want := p
		switch {
		case p == "" || p == "~":
			want = "/home/docker"
		case strings.HasPrefix(p, "~/"):
			want = "/home/docker/" + p[2:]
		}
		if string(out) != want {
			t.Errorf("shellPath(%q) gave %q to sh", p, out)
		}
	}
}

func FuzzShellPath(f *testing.F) {
	for _, s := range []string{"a", "it's", "~/x", "$(x)", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if strings.ContainsRune(p, 0) || strings.HasPrefix(p, "~") || p == "" {
			return
		}
		out, err := exec.Command("sh", "-c", "printf '%s' "+shellPath(p)).Output()
		if err != nil || string(out) != p {
			t.Fatalf("shellPath(%q) gave %q (%v)", p, out, err)
		}
	})
}

func TestListFilters(t *testing.T) {
	items := []listItem{{Name: "myvm1", DriverName: "local", State: "Running"}, {Name: "web2", DriverName: "ssh", State: "Stopped"}}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "myvm1 web2"}, {[]string{"driver=ssh"}, "web2"}, {[]string{"state=running"}, "myvm1"},
		{[]string{"name=^my"}, "myvm1"}, {[]string{"name=vm", "driver=local"}, "myvm1"},
	} {
		match, err := parseListFilters(tc.filters)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			if match(it) {
				got = append(got, it.Name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: %v", tc.filters, got)
		}
	}
	for _, bad := range []string{"driver", "colour=red", "name=("} {
		if _, err := parseListFilters([]string{bad}); err == nil {
			t.Errorf("filter %q was taken", bad)
		}
	}
}

func TestDetectShell(t *testing.T) {
	t.Setenv("SHELL", "/usr/bin/fish")
	if sh, _ := detectShell(""); sh != "fish" {
		t.Errorf("from $SHELL: %s", sh)
	}
	t.Setenv("SHELL", "/bin/zsh")
	if sh, _ := detectShell(""); sh != "bash" {
		t.Errorf("zsh: %s", sh)
	}
	if _, err := detectShell("nushell"); err == nil {
		t.Error("an unknown shell was taken")
	}
}

// create's flags are checked against the driver: the ssh flags only with
// the ssh driver, the local sizes only with the local one.
func TestCreateOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--ssh-host", "h"}, "--ssh-host is only for the ssh driver"},
		{[]string{"--engine-port", "1"}, "--engine-port is only for the ssh driver"},
		{[]string{"--engine-opt", "cgroup-parent=x"}, "sets --cgroup-parent itself"},
		{[]string{"-d", "ssh"}, "ssh driver requires the --ssh-host option"},
		{[]string{"-d", "ssh", "--ssh-host", "h", "--cpus", "1"}, "--cpus is not supported by the ssh driver"},
		{[]string{"-d", "generic", "--ssh-host", "h", "--memory", "1g"}, "--memory is not supported by the ssh driver"},
		{[]string{"-d", "ssh", "--ssh-host", "h", "--ssh-port", "0"}, "invalid port"},
		{[]string{"-d", "ssh", "--ssh-host", "h", "--engine-opt", "tlsverify=false"}, "sets --tlsverify itself"},
		{[]string{"-d", "ssh", "--ssh-host", "h", "--ssh-key", "/k", "--ssh-user", "u", "--ssh-port", "2222", "--engine-port", "2377", "--engine-opt", "cgroup-parent=x"}, ""},
	} {
		cmd := newCreateCommand(&env{})
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		o := &createOptions{}
		// The command's flags are bound to its own options: read them back.
		o.driver, _ = cmd.Flags().GetString("driver")
		o.cpus, _ = cmd.Flags().GetFloat64("cpus")
		o.memory, _ = cmd.Flags().GetString("memory")
		o.engineOpts, _ = cmd.Flags().GetStringArray("engine-opt")
		o.sshHost, _ = cmd.Flags().GetString("ssh-host")
		o.sshUser, _ = cmd.Flags().GetString("ssh-user")
		o.sshKey, _ = cmd.Flags().GetString("ssh-key")
		o.sshPort, _ = cmd.Flags().GetInt("ssh-port")
		o.enginePort, _ = cmd.Flags().GetInt("engine-port")
		m := &machine.Machine{}
		err := o.configure(cmd, m)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.args, err)
			} else if m.SSH == nil || *m.SSH != (machine.SSH{Host: "h", User: "u", Port: 2222, Key: "/k"}) || m.Port != 2377 || strings.Join(m.EngineArgs, " ") != "--cgroup-parent=x" {
				t.Errorf("%v: machine %+v %+v", tc.args, m, m.SSH)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
}
