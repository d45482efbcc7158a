package sshdriver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/moby/term"
	"golang.org/x/crypto/ssh"

	"github.com/berth-project/berth/machine"
)

// runEnv is the environment of `machine ssh` on the host, set by the
// command itself (SSH servers mostly refuse setenv requests).
const runEnv = "export DOCKER_HOST=unix://" + remoteSocket + " PATH=" + remoteBin + ":\"$PATH\"; "

// Run runs cmd on the host in an SSH session (an interactive shell when
// cmd is ""), with the machine's daemon in DOCKER_HOST and berth (and
// docker) on PATH. With stdio.TTY it asks for a terminal, puts the local
// one in raw mode and forwards its size.
func (d *Driver) Run(ctx context.Context, m *machine.Machine, cmd string, stdio machine.Stdio) (int, error) {
	c, err := d.dial(ctx, m)
	if err != nil {
		return 1, fmt.Errorf("Error: Cannot run SSH command: %w", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return 1, fmt.Errorf("ssh session: %w", err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	s.Stdin, s.Stdout, s.Stderr = stdio.In, stdio.Out, stdio.Err
	if cmd == "" {
		cmd = `exec "${SHELL:-/bin/sh}" -i`
	}
	if stdio.TTY {
		restore, err := d.pty(s, stdio)
		if err != nil {
			return 1, err
		}
		defer restore()
	}
	err = s.Run(runEnv + cmd)
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), nil // 128+n for a signal
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return 255, nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// pty asks for a terminal of the local one's size, makes the local one
// raw and forwards its size changes; restore undoes it.
func (d *Driver) pty(s *ssh.Session, stdio machine.Stdio) (restore func(), err error) {
	inFd, inTerm := term.GetFdInfo(stdio.In)
	w, h := 80, 24
	if outFd, ok := term.GetFdInfo(stdio.Out); ok {
		if ws, err := term.GetWinsize(outFd); err == nil && ws.Width > 0 {
			w, h = int(ws.Width), int(ws.Height)
		}
	}
	t := os.Getenv("TERM")
	if t == "" {
		t = "xterm"
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := s.RequestPty(t, h, w, modes); err != nil {
		return nil, fmt.Errorf("request a terminal: %w", err)
	}
	var state *term.State
	if inTerm {
		if state, err = term.MakeRaw(inFd); err != nil {
			return nil, fmt.Errorf("raw terminal: %w", err)
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-winch:
				if outFd, ok := term.GetFdInfo(stdio.Out); ok {
					if ws, err := term.GetWinsize(outFd); err == nil {
						_ = s.WindowChange(int(ws.Height), int(ws.Width))
					}
				}
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		if state != nil {
			_ = term.RestoreTerminal(inFd, state)
		}
	}, nil
}
