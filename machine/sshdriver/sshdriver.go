// Package sshdriver is the machine driver for a host that already runs
// Linux and answers SSH (docker-machine's generic driver): create copies
// this berth binary and the machine's TLS files over SSH and installs a
// berth daemon there (a systemd service where the host runs systemd, else
// a process of its own session with a PID file), listening on
// unix:///run/berth/berth.sock and on tcp://0.0.0.0:2376 with mutual TLS.
// The host's SSH key is trusted on first use: create records it in the
// machine's directory and every later connection must present it.
package sshdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/certs"
	"github.com/berth-project/berth/machine"
)

// Name is the driver's name in `machine create --driver`; Alias is
// docker-machine's name for it.
const (
	Name  = "ssh"
	Alias = "generic"
)

// Driver provisions hosts over SSH for one store.
type Driver struct {
	store string // the store's root
	self  string // the berth binary copied to hosts
}

// New returns the ssh driver of the store at root.
func New(root string) (*Driver, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the berth binary: %w", err)
	}
	return &Driver{store: root, self: self}, nil
}

// Files in the machine's directory.
func knownHostsFile(m *machine.Machine) string { return filepath.Join(m.Dir(), "known_hosts") }
func installedFile(m *machine.Machine) string  { return filepath.Join(m.Dir(), "installed") }

// KeyFile is where create copies the machine's SSH key (docker-machine's
// name for it, whatever its kind).
func KeyFile(m *machine.Machine) string { return filepath.Join(m.Dir(), "id_rsa") }

// DefaultKey is the key used without --ssh-key: ~/.ssh/id_ed25519, else
// ~/.ssh/id_rsa, else "" (the ssh agent's keys).
func DefaultKey() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	for _, k := range []string{"id_ed25519", "id_rsa"} {
		p := filepath.Join(home, ".ssh", k)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func (d *Driver) dial(ctx context.Context, m *machine.Machine) (*conn, error) {
	if m.SSH == nil || m.SSH.Host == "" {
		return nil, fmt.Errorf("machine %s has no SSH host", m.Name)
	}
	return dial(ctx, m.SSH, knownHostsFile(m))
}

// Create connects to the host (recording its key), checks it runs Linux
// on this binary's architecture, makes the machine's certificates,
// installs berth and its TLS files and starts the daemon, then waits for
// it to answer over TLS.
func (d *Driver) Create(ctx context.Context, m *machine.Machine, progress io.Writer) error {
	if m.SSH == nil || m.SSH.Host == "" {
		return errors.New("ssh driver requires the --ssh-host option")
	}
	if m.SSH.Key != "" {
		fmt.Fprintf(progress, "(%s) Importing SSH key...\n", m.Name)
		b, err := os.ReadFile(m.SSH.Key)
		if err != nil {
			return fmt.Errorf("Error importing SSH key: %w", err)
		}
		if err := os.WriteFile(KeyFile(m), b, 0o600); err != nil {
			return fmt.Errorf("Error importing SSH key: %w", err)
		}
		m.SSH.Key = KeyFile(m)
	}
	fmt.Fprintln(progress, "Waiting for SSH to be available...")
	c, err := d.dial(ctx, m)
	if err != nil {
		return &machine.StepError{Step: "detecting OS", Err: err}
	}
	defer c.Close()

	fmt.Fprintln(progress, "Detecting operating system of created instance...")
	out, err := c.run(probeScript, nil)
	if err != nil {
		return &machine.StepError{Step: "detecting OS", Err: err}
	}
	f := strings.Fields(out)
	if len(f) != 5 {
		return &machine.StepError{Step: "detecting OS", Err: fmt.Errorf("unexpected answer %q", strings.TrimSpace(out))}
	}
	kernel, arch, distro, init, owner := f[0], f[1], f[2], f[3], f[4]
	if kernel != "Linux" {
		return &machine.StepError{Step: "detecting OS", Err: fmt.Errorf("the host runs %s: berth needs Linux", kernel)}
	}
	if want := unameArch(runtime.GOARCH); arch != want {
		return &machine.StepError{Step: "detecting OS", Err: fmt.Errorf("the host is %s, this berth binary is %s", arch, want)}
	}
	if owner != "-" {
		return &machine.StepError{Step: "running provisioning", Err: fmt.Errorf("berth is already installed on %s by machine %s: remove that machine first", m.SSH.Host, strings.ReplaceAll(owner, "_", " "))}
	}

	ip, err := resolve(ctx, m.SSH.Host)
	if err != nil {
		return &machine.StepError{Step: "detecting OS", Err: err}
	}
	m.IP = ip
	st, err := machine.OpenStore(d.store)
	if err != nil {
		return err
	}
	if err := st.Save(m); err != nil {
		return err
	}
	fmt.Fprintf(progress, "Provisioning with %s...\n", distro)
	fmt.Fprintln(progress, "Copying certs to the local machine directory...")
	if err := st.WriteCerts(m); err != nil {
		return err
	}
	// From here on the host holds pieces of the machine: Remove takes
	// them away (and only then, so as not to touch another's install).
	if err := os.WriteFile(installedFile(m), []byte(m.SSH.Host+"\n"), 0o600); err != nil {
		return err
	}
	if err := c.write(remoteMarker, []byte(m.Name+" "+d.store+"\n"), 0o644); err != nil {
		return &machine.StepError{Step: "running provisioning", Err: err}
	}
	fmt.Fprintln(progress, "Copying certs to the remote machine...")
	for _, name := range []string{certs.CAFile, certs.ServerFile, certs.ServerKeyFile} {
		if err := c.upload(filepath.Join(m.Dir(), name), remoteCerts+"/"+name, 0o600); err != nil {
			return &machine.StepError{Step: "running provisioning", Err: err}
		}
	}
	fmt.Fprintln(progress, "Installing berth on the remote machine...")
	if err := d.install(c, m, init == "systemd"); err != nil {
		return &machine.StepError{Step: "running provisioning", Err: err}
	}
	fmt.Fprintln(progress, "Starting the remote Docker Engine...")
	return d.start(ctx, c, m)
}

// install copies the binaries, the control script and (with systemd) the
// unit.
func (d *Driver) install(c *conn, m *machine.Machine, systemd bool) error {
	if err := c.upload(d.self, remoteBin+"/berth", 0o755); err != nil {
		return err
	}
	shim := filepath.Join(filepath.Dir(d.self), "berth-shim")
	if fi, err := os.Stat(shim); err == nil && fi.Mode().IsRegular() {
		if err := c.upload(shim, remoteBin+"/berth-shim", 0o755); err != nil {
			return err
		}
	}
	// `docker` in `machine ssh` is the host's docker CLI, or berth.
	if _, err := c.run("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; command -v docker >/dev/null || ln -sf berth "+remoteBin+"/docker", nil); err != nil {
		return fmt.Errorf("link docker: %w", err)
	}
	if err := c.write(remoteCtl, []byte(ctlScript(m)), 0o755); err != nil {
		return err
	}
	if !systemd {
		return nil
	}
	if err := c.write(unitFile, []byte(unit(m)), 0o644); err != nil {
		return err
	}
	if _, err := c.run("systemctl daemon-reload && systemctl enable --quiet "+unitName, nil); err != nil {
		return fmt.Errorf("enable %s: %w", unitName, err)
	}
	return nil
}

// unameArch is `uname -m` of a GOARCH.
func unameArch(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7l"
	}
	return goarch
}

// resolve is host's IPv4 address (or its IPv6 one when it has none).
func resolve(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP.String(), nil
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: no address", host)
	}
	return addrs[0].IP.String(), nil
}

// start starts the daemon and waits until it answers over TLS.
func (d *Driver) start(ctx context.Context, c *conn, m *machine.Machine) error {
	if _, err := c.run(remoteCtl+" start", nil); err != nil {
		return fmt.Errorf("start the berth daemon on %s: %w", m.SSH.Host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		err := ping(ctx, m, 2*time.Second)
		if err == nil {
			return nil
		}
		if _, serr := c.run(remoteCtl+" status", nil); serr != nil {
			log, _ := c.run(remoteCtl+" log", nil)
			return fmt.Errorf("the berth daemon on %s exited:\n%s", m.SSH.Host, strings.TrimSpace(log))
		}
		select {
		case <-ctx.Done():
			log, _ := c.run(remoteCtl+" log", nil)
			return fmt.Errorf("the berth daemon on %s did not answer at %s within 60s (%v):\n%s", m.SSH.Host, m.URL(), err, strings.TrimSpace(log))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ping asks the machine's daemon /_ping over mutual TLS, as a client of
// `machine env` reaches it.
func ping(ctx context.Context, m *machine.Machine, timeout time.Duration) error {
	dir := m.CertPath()
	cfg, err := certs.ClientConfig(filepath.Join(dir, certs.CAFile), filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile), true)
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/_ping", net.JoinHostPort(m.IP, fmt.Sprint(m.Port))), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

// Start starts the host's daemon and waits for it.
func (d *Driver) Start(ctx context.Context, m *machine.Machine) error {
	c, err := d.dial(ctx, m)
	if err != nil {
		return fmt.Errorf("start machine %s: %w", m.Name, err)
	}
	defer c.Close()
	if _, err := c.run(remoteCtl+" status", nil); err == nil {
		return fmt.Errorf("Host %q is already running", m.Name)
	}
	return d.start(ctx, c, m)
}

// Stop stops the host's daemon; its containers keep running (berth's live
// restore) and the next start takes them back.
func (d *Driver) Stop(ctx context.Context, m *machine.Machine) error {
	c, err := d.dial(ctx, m)
	if err != nil {
		return fmt.Errorf("stop machine %s: %w", m.Name, err)
	}
	defer c.Close()
	if _, err := c.run(remoteCtl+" stop", nil); err != nil {
		return fmt.Errorf("stop machine %s: %w", m.Name, err)
	}
	return nil
}

// Remove kills the daemon's containers, stops it and removes what create
// installed; the daemon's data in /var/lib/berth stays. A machine whose
// create failed before installing anything has nothing to remove.
func (d *Driver) Remove(ctx context.Context, m *machine.Machine) error {
	if _, err := os.Stat(installedFile(m)); err != nil {
		return nil
	}
	c, err := d.dial(ctx, m)
	if err != nil {
		return fmt.Errorf("uninstall berth from %s: %w", m.SSH.Host, err)
	}
	defer c.Close()
	if _, err := c.run(uninstallScript, nil); err != nil {
		return fmt.Errorf("uninstall berth from %s: %w", m.SSH.Host, err)
	}
	return os.Remove(installedFile(m))
}

// State is Running when the daemon answers over TLS, Stopped when it does
// not but the host answers SSH, else Error.
func (d *Driver) State(ctx context.Context, m *machine.Machine) (machine.State, error) {
	if m.IP != "" && ping(ctx, m, 3*time.Second) == nil {
		return machine.Running, nil
	}
	c, err := d.dial(ctx, m)
	if err != nil {
		return machine.Error, err
	}
	c.Close()
	return machine.Stopped, nil
}
