package server

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

// Execs: "e1" has no tty and stdin, "et" has a tty.
func (f *fakeBackend) ExecCreate(ctx context.Context, name string, req *container.ExecCreateRequest) (string, error) {
	f.hit("ExecCreate")
	if err := noContainer(name); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.noStdin = !req.AttachStdin
	f.mu.Unlock()
	if req.Tty {
		return "et", nil
	}
	return "e1", nil
}

func noExec(id string) error {
	if id == "e1" || id == "et" {
		return nil
	}
	return fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
}

func (f *fakeBackend) ExecStart(ctx context.Context, id string, opts ExecStartOptions) error {
	f.hit("ExecStart")
	if err := noExec(id); err != nil {
		return err
	}
	if opts.Detach {
		return nil
	}
	if opts.Stdin == nil && opts.Stdout != nil {
		_, _ = io.WriteString(opts.Stdout, "no stdin\n")
	}
	return echo(opts.Stdin, opts.Stdout, opts.Stderr)
}

func (f *fakeBackend) ExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error) {
	f.hit("ExecInspect")
	if err := noExec(id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	stdin := !f.noStdin
	f.mu.Unlock()
	return &container.ExecInspectResponse{ID: id, OpenStdin: stdin, ProcessConfig: &container.ExecProcessConfig{Tty: id == "et"}}, nil
}

func (f *fakeBackend) ExecResize(ctx context.Context, id string, height, width uint) error {
	f.hit("ExecResize")
	return noExec(id)
}
