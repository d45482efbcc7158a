package sshdriver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/berth-project/berth/machine"
)

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The first key seen is recorded; the same key is then trusted and any
// other refused.
func TestHostKeyTrustOnFirstUse(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	addr := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 22}
	first, other := newKey(t), newKey(t)
	cb := hostKeyCallback(file)
	if err := cb("10.0.0.5:22", addr, first); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(b), "10.0.0.5 ssh-ed25519 ") {
		t.Fatalf("known_hosts: %q, %v", b, err)
	}
	if got := recordedAlgorithms(file); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Errorf("recorded algorithms %v", got)
	}
	if err := cb("10.0.0.5:22", addr, first); err != nil {
		t.Errorf("the recorded key: %v", err)
	}
	err := cb("10.0.0.5:22", addr, other)
	if err == nil || !strings.Contains(err.Error(), "the host key of 10.0.0.5:22 has changed") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(first)) {
		t.Errorf("another key: %v", err)
	}
	// On another port, the host is another known_hosts entry.
	if err := cb("10.0.0.5:2222", &net.TCPAddr{IP: addr.IP, Port: 2222}, first); err == nil || !strings.Contains(err.Error(), "does not record") {
		t.Error("a key recorded for port 22 was taken for port 2222")
	}
}

func TestAuthMethods(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	plain, _ := ssh.MarshalPrivateKey(priv, "")
	locked, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, _, err := authMethods(write("plain", pem.EncodeToMemory(plain))); err != nil {
		t.Errorf("plain key: %v", err)
	}
	if _, _, err := authMethods(write("locked", pem.EncodeToMemory(locked))); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("passphrase key: %v", err)
	}
	if _, _, err := authMethods(write("junk", []byte("junk"))); err == nil {
		t.Error("junk key taken")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, _, err := authMethods(""); err == nil || !strings.Contains(err.Error(), "--ssh-key") {
		t.Errorf("no key, no agent: %v", err)
	}
}

// The scripts the driver runs on hosts are valid sh, and the daemon's
// command line is the driver's flags and then the engine's.
func TestScripts(t *testing.T) {
	m := &machine.Machine{Name: "node1", Port: 2376, EngineArgs: []string{"--label=a b", "--cgroup-parent=x"}}
	args := strings.Join(daemonArgs(m), " ")
	want := "-H unix:///run/berth/berth.sock -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /var/lib/berth/certs/ca.pem --tlscert /var/lib/berth/certs/server.pem --tlskey /var/lib/berth/certs/server-key.pem --label=a b --cgroup-parent=x"
	if args != want {
		t.Errorf("daemon args:\n%s\nwant:\n%s", args, want)
	}
	ctl := ctlScript(m)
	if !strings.Contains(ctl, `'--label=a b'`) {
		t.Errorf("an engine flag with a space is not one word:\n%s", ctl)
	}
	for name, script := range map[string]string{"machine.sh": ctl, "probe": probeScript, "uninstall": uninstallScript} {
		if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", name, err, out)
		}
	}
	if u := unit(m); !strings.Contains(u, "ExecStart="+remoteCtl+" run") {
		t.Errorf("unit:\n%s", u)
	}
}

func TestQuoteAndPriv(t *testing.T) {
	for _, s := range []string{"plain", "it's", `a "b" $c`, ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("quote(%q): sh read %q, %v", s, out, err)
		}
	}
	if got := (&conn{root: true}).priv("id -u"); got != "id -u" {
		t.Errorf("root: %q", got)
	}
	if got := (&conn{}).priv("echo 'x'"); got != `sudo -n sh -c 'echo '\''x'\'''` {
		t.Errorf("sudo: %q", got)
	}
}

func TestUnameArch(t *testing.T) {
	for goarch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64", "riscv64": "riscv64"} {
		if got := unameArch(goarch); got != want {
			t.Errorf("unameArch(%s) = %s", goarch, got)
		}
	}
}
