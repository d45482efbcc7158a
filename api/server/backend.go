package server

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// Filters is a decoded `filters` query parameter: key → set of values,
// as Docker sends it ({"label":{"a=b":true}} or the legacy {"label":["a=b"]}).
type Filters map[string]map[string]bool

// Get returns the values given for key.
func (f Filters) Get(key string) []string {
	var out []string
	for v := range f[key] {
		out = append(out, v)
	}
	return out
}

// Backend is everything the Engine API routes need from the engine. The
// daemon package implements it; handlers never touch stores directly.
//
// Errors follow github.com/containerd/errdefs: wrap errdefs.ErrNotFound for
// 404, ErrConflict for 409, ErrInvalidArgument for 400, ErrNotModified for 304,
// ErrFailedPrecondition/ErrUnavailable for 409/503 and so on. The error's text
// is sent as {"message": ...} so it must already read as Docker's does
// (e.g. "No such container: x").
type Backend interface {
	// System.
	SystemInfo(ctx context.Context) (*system.Info, error)
	SystemVersion(ctx context.Context) system.VersionResponse
	// SubscribeEvents returns past events in [since, until] matching f and,
	// when live is true, a channel of future ones; cancel releases it.
	SubscribeEvents(ctx context.Context, since, until time.Time, f Filters, live bool) (past []events.Message, future <-chan events.Message, cancel func())

	// Images.
	ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions) (id string, err error)
	ImageList(ctx context.Context, opts ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error)
	ImageHistory(ctx context.Context, name string) ([]image.HistoryResponseItem, error)
	ImageTag(ctx context.Context, source, repo, tag string) error
	ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]image.DeleteResponse, error)
	ImagesPrune(ctx context.Context, f Filters) (*image.PruneReport, error)
	// ImageExport writes a docker-archive tar (with OCI layout index) of names.
	ImageExport(ctx context.Context, names []string, w io.Writer) error
	// ImageLoad reads a docker-archive or OCI layout tar and writes one
	// human-readable line per loaded image ("Loaded image: x:y") to out.
	ImageLoad(ctx context.Context, r io.Reader, out func(line string)) error
	// ImagePull pulls ref ("name:tag" or "name@digest") from its registry
	// for platform ("" = the host's) with the raw X-Registry-Auth header,
	// reporting progress to out.
	ImagePull(ctx context.Context, ref, platform, auth string, out func(ProgressMessage)) error
	// ImagePush pushes the image tagged ref to its registry.
	ImagePush(ctx context.Context, ref, auth string, out func(ProgressMessage)) error
	// RegistryLogin checks credentials and returns Docker's status text.
	RegistryLogin(ctx context.Context, ac registry.AuthConfig) (string, error)
	// ImageBuild builds the Dockerfile of the context tar in body
	// (POST /build, the classic builder), reporting progress to out, and
	// returns the image ID.
	ImageBuild(ctx context.Context, body io.Reader, opts BuildOptions, out BuildOutput) (id string, err error)

	// Containers.
	ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, name string) error
	ContainerStop(ctx context.Context, name string, signal string, timeout *int) error
	ContainerRestart(ctx context.Context, name string, signal string, timeout *int) error
	ContainerKill(ctx context.Context, name string, signal string) error
	ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error
	ContainerList(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error)
	// ContainerWait returns a channel that yields exactly one response when
	// the condition is met (or ctx ends).
	ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error)
	// ContainerLogs reports whether the container has a tty (so the caller
	// knows whether to multiplex) and then writes entries through write
	// until done (or, with Follow, until the container stops or ctx ends).
	ContainerLogs(ctx context.Context, name string, opts LogsOptions, tty func(bool), write func(stream string, line []byte, t time.Time) error) error
	// ContainerAttach streams the container's stdio. Stdout/Stderr writers
	// are already multiplexed by the caller when the container has no tty.
	ContainerAttach(ctx context.Context, name string, opts AttachOptions) error
	// ContainerHasTTY reports whether name was created with Tty.
	ContainerHasTTY(ctx context.Context, name string) (bool, error)
	ContainerResize(ctx context.Context, name string, height, width uint) error
	ContainerTop(ctx context.Context, name string, psArgs string) (*container.TopResponse, error)
	ContainerRename(ctx context.Context, oldName, newName string) error
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
	// ContainerStats calls out with one sample (stream=false) or one per
	// second until ctx ends or the container stops.
	ContainerStats(ctx context.Context, name string, stream bool, out func(*container.StatsResponse) error) error
	ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error)
	// ContainerArchivePath returns a tar of path inside the container.
	ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error)
	ContainerExtractToDir(ctx context.Context, name, path string, copyUIDGID, noOverwriteDirNonDir bool, content io.Reader) error
	ContainerExport(ctx context.Context, name string, w io.Writer) error
	ContainerCommit(ctx context.Context, name string, opts CommitOptions) (id string, err error)
	ContainersPrune(ctx context.Context, f Filters) (*container.PruneReport, error)
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)

	// Exec.
	ExecCreate(ctx context.Context, name string, req *container.ExecCreateRequest) (id string, err error)
	// ExecStart runs the exec. With Detach the streams are nil and it
	// returns once the process started.
	ExecStart(ctx context.Context, id string, opts ExecStartOptions) error
	ExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, id string, height, width uint) error

	// Volumes.
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error)
	VolumeList(ctx context.Context, f Filters) (*volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (*volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, f Filters) (*volume.PruneReport, error)

	// Networks.
	NetworkList(ctx context.Context, f Filters) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, name string) (*network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error)
	NetworkRemove(ctx context.Context, name string) error
	NetworkConnect(ctx context.Context, name string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, name string, req network.DisconnectRequest) error
	NetworksPrune(ctx context.Context, f Filters) (*network.PruneReport, error)
}

// ImageImportOptions are the query options of POST /images/create?fromSrc=-.
type ImageImportOptions struct {
	Repo     string   // repository (may include a tag)
	Tag      string   // tag (may be empty)
	Changes  []string // Dockerfile instructions: ENV, CMD, ENTRYPOINT, WORKDIR, EXPOSE, USER, LABEL, VOLUME, STOPSIGNAL
	Message  string
	Platform string
}

// ImageListOptions are the query options of GET /images/json.
type ImageListOptions struct {
	All     bool
	Filters Filters // dangling, label, before, since, reference
	Digests bool
}

// ContainerListOptions are the query options of GET /containers/json.
type ContainerListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters Filters // id, name, label, status, exited, ancestor, before, since
}

// LogsOptions are the query options of GET /containers/{id}/logs.
type LogsOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Since, Until   time.Time // zero means unbounded
	Tail           int       // <0 means all
	Timestamps     bool
}

// AttachOptions describe one attach session.
type AttachOptions struct {
	Stdin          io.Reader // nil unless stdin=1
	Stdout, Stderr io.Writer // nil unless requested
	Logs           bool      // replay logs first
	Stream         bool      // stream live output
	DetachKeys     string    // e.g. "ctrl-p,ctrl-q"; empty means the default
}

// ExecStartOptions describe how an exec's streams are wired.
type ExecStartOptions struct {
	Detach         bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer // Stderr is Stdout's multiplexed twin, or the same writer with a tty
	ConsoleSize    *[2]uint
}

// CommitOptions are the query options and body of POST /commit.
type CommitOptions struct {
	Repo, Tag       string
	Author, Comment string
	Changes         []string
	Pause           bool
	Config          *container.Config // merged over the container's config
}
