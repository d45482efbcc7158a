package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/moby/term"
)

// defaultDetachKeys is docker's Ctrl-P Ctrl-Q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// errDetached reports that the user typed the detach sequence.
var errDetached = errors.New("detached")

// streamOpts say how to pump a hijacked connection.
type streamOpts struct {
	tty        bool
	stdin      bool
	detachKeys string
	// resize is called with (height, width) when the terminal size changes.
	resize func(ctx context.Context, h, w uint)
}

// stream copies the local streams to and from a hijacked connection,
// putting the terminal in raw mode for a tty session. It returns when the
// remote output ends or the user detaches (errDetached).
func (a *app) stream(ctx context.Context, resp *client.HijackedResponse, o streamOpts) error {
	defer resp.Close()
	inFd, inTerm := term.GetFdInfo(a.in)
	if o.tty && o.stdin && inTerm {
		state, err := term.SetRawTerminal(inFd)
		if err == nil {
			defer term.RestoreTerminal(inFd, state)
		}
	}
	outFd, outTerm := term.GetFdInfo(a.out)
	if o.tty && o.resize != nil {
		fd := outFd
		isT := outTerm
		if !isT {
			fd, isT = inFd, inTerm
		}
		if isT {
			resizeOnce := func() {
				if ws, err := term.GetWinsize(fd); err == nil && ws.Height > 0 {
					o.resize(ctx, uint(ws.Height), uint(ws.Width))
				}
			}
			resizeOnce()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case _, ok := <-winch:
						if !ok {
							return
						}
						resizeOnce()
					}
				}
			}()
		}
	}

	outDone := make(chan error, 1)
	go func() {
		var err error
		if o.tty {
			_, err = io.Copy(a.out, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(a.out, a.errOut, resp.Reader)
		}
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if o.stdin && a.in != nil {
		var once sync.Once
		go func() {
			in := a.in
			if o.tty {
				keys := o.detachKeys
				if keys == "" {
					keys = defaultDetachKeys
				}
				if seq, err := parseDetachKeys(keys); err == nil {
					in = term.NewEscapeProxy(in, seq)
				}
			}
			_, err := io.Copy(resp.Conn, in)
			var esc term.EscapeError
			if errors.As(err, &esc) {
				inDone <- errDetached
				return
			}
			once.Do(func() { _ = resp.CloseWrite() })
			inDone <- nil
		}()
	}
	select {
	case err := <-outDone:
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	case err := <-inDone:
		if err != nil {
			return err
		}
		// Stdin ended: wait for the remaining output.
		select {
		case err := <-outDone:
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// proxySignals forwards SIGINT/SIGTERM/SIGHUP… to the container until
// the returned stop function is called.
func (a *app) proxySignals(ctx context.Context, api *client.Client, id string) func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				sig, ok := s.(syscall.Signal)
				if !ok {
					continue
				}
				_, _ = api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signalName(sig)})
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return "SIGTERM"
}
