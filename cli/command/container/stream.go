package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/term"

	"github.com/berth-project/berth/cli/command"
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
func stream(ctx context.Context, cli *command.Cli, resp *client.HijackedResponse, o streamOpts) error {
	defer resp.Close()
	inFd, inTerm := term.GetFdInfo(cli.In)
	if o.tty && o.stdin && inTerm {
		state, err := term.SetRawTerminal(inFd)
		if err == nil {
			defer term.RestoreTerminal(inFd, state)
		}
	}
	outFd, outTerm := term.GetFdInfo(cli.Out)
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
			_, err = io.Copy(cli.Out, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(cli.Out, cli.Err, resp.Reader)
		}
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if o.stdin && cli.In != nil {
		var once sync.Once
		go func() {
			in := cli.In
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
func proxySignals(ctx context.Context, api client.APIClient, id string) func() {
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

// parseDetachKeys validates a detach key sequence ("ctrl-p,ctrl-q", "a,ctrl-@")
// and returns the bytes it matches.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("detach keys: empty")
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			// ctrl-a…ctrl-z are 1…26; ctrl-@ [ \ ] ^ _ are 0 and 27…31.
			const specials = "@[\\]^_"
			switch i := strings.IndexByte(specials, c); {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case i >= 0:
				out = append(out, []byte{0, 27, 28, 29, 30, 31}[i])
			default:
				return nil, fmt.Errorf("Unknown character: '%s'", k)
			}
		default:
			return nil, fmt.Errorf("Unknown character: '%s'", k)
		}
	}
	return out, nil
}

// attachConfigured attaches to a container's output, and to its stdin when
// wantStdin and the container keeps stdin open; tty and stdin say what
// the session is.
func attachConfigured(ctx context.Context, api client.APIClient, id string, c containertypes.InspectResponse, wantStdin bool, detachKeys string) (res client.ContainerAttachResult, tty, stdin bool, err error) {
	tty = c.Config != nil && c.Config.Tty
	stdin = wantStdin && c.Config != nil && c.Config.OpenStdin
	res, err = api.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: detachKeys})
	return res, tty, stdin, err
}

// streamContainer pumps an attached container's streams, resizing its tty
// with the terminal, until they end; detached reports that the user typed
// the detach keys.
func streamContainer(ctx context.Context, cli *command.Cli, api client.APIClient, id string, resp *client.HijackedResponse, tty, stdin bool, detachKeys string) (detached bool, err error) {
	err = stream(ctx, cli, resp, streamOpts{tty: tty, stdin: stdin, detachKeys: detachKeys,
		resize: func(ctx context.Context, h, w uint) {
			_, _ = api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
		}})
	if errors.Is(err, errDetached) {
		return true, nil
	}
	return false, err
}
