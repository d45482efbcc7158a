package server

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func noContainer(name string) error {
	if name == "c1" || name == "t1" {
		return nil
	}
	return fmt.Errorf("No such container: %s: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (container.CreateResponse, error) {
	f.hit("ContainerCreate")
	if err := noImage(cfg.Image); err != nil {
		return container.CreateResponse{}, err
	}
	return container.CreateResponse{ID: "c1"}, nil
}

func (f *fakeBackend) ContainerStart(ctx context.Context, name string) error {
	f.hit("ContainerStart")
	return noContainer(name)
}

func (f *fakeBackend) ContainerStop(ctx context.Context, name string, signal string, timeout *int) error {
	f.hit("ContainerStop")
	return noContainer(name)
}

func (f *fakeBackend) ContainerRestart(ctx context.Context, name string, signal string, timeout *int) error {
	f.hit("ContainerRestart")
	return noContainer(name)
}

func (f *fakeBackend) ContainerKill(ctx context.Context, name string, signal string) error {
	f.hit("ContainerKill")
	if err := noContainer(name); err != nil {
		return err
	}
	return fmt.Errorf("container %s is not running: %w", name, errdefs.ErrConflict)
}

func (f *fakeBackend) ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error {
	f.hit("ContainerRemove")
	return noContainer(name)
}

func (f *fakeBackend) ContainerList(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error) {
	f.hit("ContainerList")
	f.mu.Lock()
	f.lastFilters = opts.Filters
	f.mu.Unlock()
	return []container.Summary{{ID: "c1", Names: []string{"/one"}, Image: "busybox", Command: "sh", State: container.StateRunning, Status: "Up 1 second"}}, nil
}

func (f *fakeBackend) ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error) {
	f.hit("ContainerInspect")
	if err := noContainer(name); err != nil {
		return nil, err
	}
	return &container.InspectResponse{ID: name, Name: "/one", Config: &container.Config{Tty: name == "t1"}}, nil
}

func (f *fakeBackend) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	f.hit("ContainerWait")
	if err := noContainer(name); err != nil {
		return nil, err
	}
	if f.waitC != nil {
		return f.waitC, nil
	}
	ch := make(chan container.WaitResponse, 1)
	ch <- container.WaitResponse{StatusCode: 3}
	return ch, nil
}

func (f *fakeBackend) ContainerLogs(ctx context.Context, name string, opts LogsOptions, tty func(bool), write func(stream string, line []byte, t time.Time) error) error {
	f.hit("ContainerLogs")
	if err := noContainer(name); err != nil {
		return err
	}
	tty(name == "t1")
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	if opts.Stdout {
		if err := write("stdout", []byte("out line\n"), ts); err != nil {
			return err
		}
	}
	if opts.Stderr {
		if err := write("stderr", []byte("err line\n"), ts); err != nil {
			return err
		}
	}
	return nil
}

// ContainerAttach echoes stdin upper-cased to stdout and writes "bye" to
// stderr at stdin EOF.
func (f *fakeBackend) ContainerAttach(ctx context.Context, name string, opts AttachOptions) error {
	f.hit("ContainerAttach")
	if err := noContainer(name); err != nil {
		return err
	}
	return echo(opts.Stdin, opts.Stdout, opts.Stderr)
}

func (f *fakeBackend) ContainerHasTTY(ctx context.Context, name string) (bool, error) {
	f.hit("ContainerHasTTY")
	return name == "t1", noContainer(name)
}

func (f *fakeBackend) ContainerResize(ctx context.Context, name string, height, width uint) error {
	f.hit("ContainerResize")
	return noContainer(name)
}

func (f *fakeBackend) ContainerTop(ctx context.Context, name string, psArgs string) (*container.TopResponse, error) {
	f.hit("ContainerTop")
	if err := noContainer(name); err != nil {
		return nil, err
	}
	return &container.TopResponse{Titles: []string{"PID", "CMD"}, Processes: [][]string{{"1", "sh"}}}, nil
}

func (f *fakeBackend) ContainerRename(ctx context.Context, oldName, newName string) error {
	f.hit("ContainerRename")
	return noContainer(oldName)
}

func (f *fakeBackend) ContainerPause(ctx context.Context, name string) error {
	f.hit("ContainerPause")
	return noContainer(name)
}

func (f *fakeBackend) ContainerUnpause(ctx context.Context, name string) error {
	f.hit("ContainerUnpause")
	return noContainer(name)
}

func (f *fakeBackend) ContainerStats(ctx context.Context, name string, stream bool, out func(*container.StatsResponse) error) error {
	f.hit("ContainerStats")
	if err := noContainer(name); err != nil {
		return err
	}
	n := 1
	if stream {
		n = 2
	}
	for i := 0; i < n; i++ {
		if err := out(&container.StatsResponse{ID: name, Name: "/one"}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBackend) ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error) {
	f.hit("ContainerStatPath")
	if err := noContainer(name); err != nil {
		return nil, err
	}
	return &container.PathStat{Name: "etc", Size: 4096, Mode: 0o755 | 1<<31}, nil
}

func (f *fakeBackend) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error) {
	f.hit("ContainerArchivePath")
	if err := noContainer(name); err != nil {
		return nil, nil, err
	}
	return io.NopCloser(strings.NewReader("tar")), &container.PathStat{Name: "etc"}, nil
}

func (f *fakeBackend) ContainerExtractToDir(ctx context.Context, name, path string, copyUIDGID, noOverwriteDirNonDir bool, content io.Reader) error {
	f.hit("ContainerExtractToDir")
	_, _ = io.Copy(io.Discard, content)
	return noContainer(name)
}

func (f *fakeBackend) ContainerExport(ctx context.Context, name string, w io.Writer) error {
	f.hit("ContainerExport")
	if err := noContainer(name); err != nil {
		return err
	}
	_, err := io.WriteString(w, "tar")
	return err
}

func (f *fakeBackend) ContainerCommit(ctx context.Context, name string, opts CommitOptions) (string, error) {
	f.hit("ContainerCommit")
	return "sha256:bb", noContainer(name)
}

func (f *fakeBackend) ContainersPrune(ctx context.Context, fl Filters) (*container.PruneReport, error) {
	f.hit("ContainersPrune")
	return &container.PruneReport{}, nil
}

func (f *fakeBackend) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	f.hit("ContainerChanges")
	return nil, noContainer(name)
}
