package sshdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berth-project/berth/machine"
)

// dialTimeout bounds the TCP connect and the SSH handshake.
const dialTimeout = 10 * time.Second

// conn is an SSH connection to a machine's host.
type conn struct {
	*ssh.Client
	root bool // the login user is root: no sudo
}

// dial connects to the host with the machine's key (or the ssh agent when
// it has none) and checks the host key against the one recorded in
// knownFile; a missing knownFile records the key (trust on first use).
func dial(ctx context.Context, s *machine.SSH, knownFile string) (*conn, error) {
	auth, closeAuth, err := authMethods(s.Key)
	if err != nil {
		return nil, err
	}
	defer closeAuth()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	cfg := &ssh.ClientConfig{
		User:              s.User,
		Auth:              auth,
		HostKeyCallback:   hostKeyCallback(knownFile),
		HostKeyAlgorithms: recordedAlgorithms(knownFile),
		Timeout:           dialTimeout,
	}
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(dialTimeout))
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stop()
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return &conn{Client: ssh.NewClient(cc, chans, reqs), root: s.User == "root"}, nil
}

// authMethods is public-key authentication with the key at path, or with
// the ssh agent's keys when path is "".
func authMethods(path string) ([]ssh.AuthMethod, func(), error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read SSH key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, nil, fmt.Errorf("SSH key %s is protected by a passphrase: add it to ssh-agent and create the machine without --ssh-key", path)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("SSH key %s: %w", path, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, func() {}, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("no SSH key: give one with --ssh-key (none of ~/.ssh/id_ed25519, ~/.ssh/id_rsa exists and no ssh agent runs)")
	}
	ac, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh agent: %w", err)
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(agent.NewClient(ac).Signers)}, func() { ac.Close() }, nil
}

// hostKeyCallback trusts the host key recorded in file, and records the
// host's key when there is none yet. A key other than the recorded one is
// refused.
func hostKeyCallback(file string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
			if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
				return fmt.Errorf("record the host key: %w", err)
			}
			return nil
		}
		check, err := knownhosts.New(file)
		if err != nil {
			return fmt.Errorf("recorded host key: %w", err)
		}
		err = check(hostname, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 {
			return fmt.Errorf("%s presents a host key (%s %s) that %s does not record: refusing to connect; delete %s to trust it",
				hostname, key.Type(), ssh.FingerprintSHA256(key), file, file)
		}
		if errors.As(err, &ke) {
			return fmt.Errorf("the host key of %s has changed (it is now %s %s, recorded: %s %s in %s): refusing to connect; if the host was reinstalled, delete %s to trust its new key",
				hostname, key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Key.Type(), ssh.FingerprintSHA256(ke.Want[0].Key), file, file)
		}
		return err
	}
}

// recordedAlgorithms asks the server for the kind of host key recorded in
// file, so that a host with several keys shows the one recorded.
func recordedAlgorithms(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	_, _, key, _, _, err := ssh.ParseKnownHosts(b)
	if err != nil {
		return nil
	}
	switch t := key.Type(); t {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	default:
		return []string{t}
	}
}

// quote makes s one word for sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// priv is script as root: through sudo when the login user is not root.
func (c *conn) priv(script string) string {
	if c.root {
		return script
	}
	return "sudo -n sh -c " + quote(script)
}

// run runs script as root on the host, with stdin, and returns its
// standard output. A failure carries the script's standard error.
func (c *conn) run(script string, stdin io.Reader) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh session: %w", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = stdin, &out, &errb
	if err := s.Run(c.priv(script)); err != nil {
		msg := strings.TrimSpace(errb.String())
		var ee *ssh.ExitError
		if errors.As(err, &ee) && msg != "" {
			return out.String(), fmt.Errorf("%s", msg)
		}
		if msg != "" {
			return out.String(), fmt.Errorf("%w: %s", err, msg)
		}
		return out.String(), err
	}
	return out.String(), nil
}

// upload writes the local file src to dst on the host with the given
// mode, atomically.
func (c *conn) upload(src, dst string, mode os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp := dst + ".berth-tmp"
	script := fmt.Sprintf("set -e; umask 077; mkdir -p %s; cat > %s; chmod %o %s; mv -f %s %s",
		quote(dirOf(dst)), quote(tmp), mode, quote(tmp), quote(tmp), quote(dst))
	if _, err := c.run(script, f); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// write puts content at dst on the host with the given mode.
func (c *conn) write(dst string, content []byte, mode os.FileMode) error {
	tmp := dst + ".berth-tmp"
	script := fmt.Sprintf("set -e; umask 077; mkdir -p %s; cat > %s; chmod %o %s; mv -f %s %s",
		quote(dirOf(dst)), quote(tmp), mode, quote(tmp), quote(tmp), quote(dst))
	if _, err := c.run(script, bytes.NewReader(content)); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}
