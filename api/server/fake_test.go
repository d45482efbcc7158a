package server

import (
	"context"
	"fmt"
	"github.com/moby/moby/api/types/registry"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// fakeBackend implements every Backend method without panicking (unless
// panicOn names the method), so the router can be fuzzed against it.
// Container "c1" has no tty and echoes stdin; "t1" has a tty.
type fakeBackend struct {
	mu      sync.Mutex
	panicOn string
	calls   []string
	waitC   chan container.WaitResponse
	// lastFilters records the filters the last list call received.
	lastFilters Filters
	// noStdin is set when the last exec was created without AttachStdin.
	noStdin bool
}

func (f *fakeBackend) hit(method string) {
	f.mu.Lock()
	f.calls = append(f.calls, method)
	p := f.panicOn
	f.mu.Unlock()
	if p == method {
		panic("fake backend panic in " + method)
	}
}

func noContainer(name string) error {
	if name == "c1" || name == "t1" {
		return nil
	}
	return fmt.Errorf("No such container: %s: %w", name, errdefs.ErrNotFound)
}

func noImage(name string) error {
	if name == "busybox" || name == "sha256:aa" || name == "busybox:latest" || name == "docker.io/library/busybox:latest" {
		return nil
	}
	return fmt.Errorf("No such image: %s: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) SystemInfo(ctx context.Context) (*system.Info, error) {
	f.hit("SystemInfo")
	return &system.Info{ID: "fake", Containers: 1, OSType: "linux", Name: "fakehost"}, nil
}

func (f *fakeBackend) SystemVersion(ctx context.Context) system.VersionResponse {
	f.hit("SystemVersion")
	return system.VersionResponse{Version: "28.2.0", APIVersion: APIVersion, MinAPIVersion: MinAPIVersion, Os: "linux", Arch: "amd64",
		Components: []system.ComponentVersion{{Name: "Engine", Version: "28.2.0"}}}
}

func (f *fakeBackend) SubscribeEvents(ctx context.Context, since, until time.Time, fl Filters, live bool) ([]events.Message, <-chan events.Message, func()) {
	f.hit("SubscribeEvents")
	past := []events.Message{{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "c1"}}}
	if !live {
		return past, nil, func() {}
	}
	ch := make(chan events.Message, 1)
	ch <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "c1"}}
	close(ch)
	return past, ch, func() {}
}

func (f *fakeBackend) ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions) (string, error) {
	f.hit("ImageImport")
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", err
	}
	return "sha256:0123456789abcdef", nil
}

func (f *fakeBackend) ImageList(ctx context.Context, opts ImageListOptions) ([]image.Summary, error) {
	f.hit("ImageList")
	f.mu.Lock()
	f.lastFilters = opts.Filters
	f.mu.Unlock()
	return []image.Summary{{ID: "sha256:aa", RepoTags: []string{"busybox:latest"}}}, nil
}

func (f *fakeBackend) ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error) {
	f.hit("ImageInspect")
	if err := noImage(name); err != nil {
		return nil, err
	}
	return &image.InspectResponse{ID: "sha256:aa", RepoTags: []string{"busybox:latest"}}, nil
}

func (f *fakeBackend) ImageHistory(ctx context.Context, name string) ([]image.HistoryResponseItem, error) {
	f.hit("ImageHistory")
	return nil, noImage(name)
}

func (f *fakeBackend) ImageTag(ctx context.Context, source, repo, tag string) error {
	f.hit("ImageTag")
	return noImage(source)
}

func (f *fakeBackend) ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]image.DeleteResponse, error) {
	f.hit("ImageDelete")
	if err := noImage(name); err != nil {
		return nil, err
	}
	return []image.DeleteResponse{{Untagged: name}}, nil
}

func (f *fakeBackend) ImagesPrune(ctx context.Context, fl Filters) (*image.PruneReport, error) {
	f.hit("ImagesPrune")
	return &image.PruneReport{}, nil
}

func (f *fakeBackend) ImageExport(ctx context.Context, names []string, w io.Writer) error {
	f.hit("ImageExport")
	_, err := io.WriteString(w, "tar")
	return err
}

func (f *fakeBackend) ImageLoad(ctx context.Context, r io.Reader, out func(line string)) error {
	f.hit("ImageLoad")
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	out("Loaded image: busybox:latest")
	return nil
}

func (f *fakeBackend) ImageBuild(ctx context.Context, body io.Reader, opts BuildOptions, out BuildOutput) (string, error) {
	f.hit("ImageBuild")
	if _, err := io.Copy(io.Discard, body); err != nil {
		return "", err
	}
	if opts.Dockerfile == "missing" {
		return "", errdefs.ErrInvalidArgument.WithMessage("Cannot locate specified Dockerfile: missing")
	}
	out.Stream("Step 1/1 : FROM busybox\n")
	if opts.Target == "fail" {
		return "", errdefs.ErrUnknown.WithMessage("The command '/bin/sh -c false' returned a non-zero code: 1")
	}
	out.Aux("sha256:" + strings.Repeat("ab", 32))
	return "sha256:" + strings.Repeat("ab", 32), nil
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

func echo(in io.Reader, out, errw io.Writer) error {
	if in != nil && out != nil {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if _, werr := out.Write([]byte(strings.ToUpper(string(buf[:n])))); werr != nil {
					return werr
				}
			}
			if err != nil {
				break
			}
		}
	}
	if errw != nil {
		_, _ = io.WriteString(errw, "bye\n")
	}
	return nil
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

func (f *fakeBackend) VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error) {
	f.hit("VolumeCreate")
	return &volume.Volume{Name: req.Name, Driver: "local"}, nil
}

func (f *fakeBackend) VolumeList(ctx context.Context, fl Filters) (*volume.ListResponse, error) {
	f.hit("VolumeList")
	return &volume.ListResponse{Volumes: []volume.Volume{{Name: "v1", Driver: "local"}}, Warnings: []string{}}, nil
}

func noVolume(name string) error {
	if name == "v1" {
		return nil
	}
	return fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) VolumeInspect(ctx context.Context, name string) (*volume.Volume, error) {
	f.hit("VolumeInspect")
	if err := noVolume(name); err != nil {
		return nil, err
	}
	return &volume.Volume{Name: name, Driver: "local"}, nil
}

func (f *fakeBackend) VolumeRemove(ctx context.Context, name string, force bool) error {
	f.hit("VolumeRemove")
	return noVolume(name)
}

func (f *fakeBackend) VolumesPrune(ctx context.Context, fl Filters) (*volume.PruneReport, error) {
	f.hit("VolumesPrune")
	return &volume.PruneReport{}, nil
}

func (f *fakeBackend) NetworkList(ctx context.Context, fl Filters) ([]network.Summary, error) {
	f.hit("NetworkList")
	return []network.Summary{}, nil
}

func (f *fakeBackend) NetworkInspect(ctx context.Context, name string) (*network.Inspect, error) {
	f.hit("NetworkInspect")
	return nil, fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
}

func (f *fakeBackend) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	f.hit("NetworkCreate")
	return &network.CreateResponse{ID: "n1"}, nil
}

func (f *fakeBackend) NetworkRemove(ctx context.Context, name string) error {
	f.hit("NetworkRemove")
	return nil
}

func (f *fakeBackend) NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error {
	f.hit("NetworkConnect")
	return nil
}

func (f *fakeBackend) NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error {
	f.hit("NetworkDisconnect")
	return nil
}

func (f *fakeBackend) NetworksPrune(ctx context.Context, fl Filters) (*network.PruneReport, error) {
	f.hit("NetworksPrune")
	return &network.PruneReport{}, nil
}

func (f *fakeBackend) ImagePull(ctx context.Context, ref, platform, auth string, out func(ProgressMessage)) error {
	f.hit("ImagePull")
	if strings.Contains(ref, "nosuch") {
		return fmt.Errorf("pull access denied for nosuch: %w", errdefs.ErrNotFound)
	}
	out(ProgressMessage{Status: "Pulling from library/" + ref})
	return nil
}

func (f *fakeBackend) ImagePush(ctx context.Context, ref, auth string, out func(ProgressMessage)) error {
	f.hit("ImagePush")
	out(ProgressMessage{Status: "The push refers to repository [" + ref + "]"})
	return nil
}

func (f *fakeBackend) RegistryLogin(ctx context.Context, ac registry.AuthConfig) (string, error) {
	f.hit("RegistryLogin")
	if ac.Password != "secret" {
		return "", fmt.Errorf("unauthorized: incorrect username or password: %w", errdefs.ErrUnauthenticated)
	}
	return "Login Succeeded", nil
}
