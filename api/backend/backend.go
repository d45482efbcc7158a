// Package backend is the Engine API's vocabulary: what the HTTP layer
// (api/server) needs from the engine, split by area, with the option types
// those calls take. It imports no net/http: the engine implements these
// interfaces without knowing how requests arrive, and a new area (swarm's
// Cluster, implemented by the cluster package) joins as an interface of
// its own.
//
// Errors follow github.com/containerd/errdefs: wrap errdefs.ErrNotFound for
// 404, ErrConflict for 409, ErrInvalidArgument for 400, ErrNotModified for 304,
// ErrFailedPrecondition/ErrUnavailable for 409/503 and so on. The error's text
// is sent as {"message": ...} so it must already read as Docker's does
// (e.g. "No such container: x").
package backend

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

	"github.com/berth-project/berth/internal/filters"
)

// API versions: the newest the Engine API speaks and the oldest it accepts.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)

// Filters is a decoded `filters` query parameter (see internal/filters):
// the backend validates its keys and reads its values through the typed
// accessors before acting on them.
type Filters = filters.Args

// Backend is every area together: what api/server is built on.
type Backend interface {
	System
	Image
	Registry
	Build
	Container
	Exec
	Volume
	Network
	Cluster
}

// System is /info, /version and /events.
type System interface {
	SystemInfo(ctx context.Context) (*system.Info, error)
	SystemVersion(ctx context.Context) system.VersionResponse
	// SubscribeEvents returns past events in [since, until] matching f and,
	// when live is true, a channel of future ones; cancel releases it.
	SubscribeEvents(ctx context.Context, since, until time.Time, f Filters, live bool) (past []events.Message, future <-chan events.Message, cancel func())
}

// Image is the local image store: import, list, inspect, history, tag, delete, prune, save and load.
type Image interface {
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
}

// Registry is pull, push and login against image registries.
type Registry interface {
	// ImagePull pulls ref ("name:tag" or "name@digest") from its registry
	// for platform ("" = the host's) with the raw X-Registry-Auth header,
	// reporting progress to out.
	ImagePull(ctx context.Context, ref, platform, auth string, out func(ProgressMessage)) error
	// ImagePush pushes the image tagged ref to its registry.
	ImagePush(ctx context.Context, ref, auth string, out func(ProgressMessage)) error
	// RegistryLogin checks credentials and returns Docker's status text.
	RegistryLogin(ctx context.Context, ac registry.AuthConfig) (string, error)
	// DistributionInspect asks ref's registry, with the raw
	// X-Registry-Auth header, for the descriptor of the manifest or index
	// ref names and its platforms, without pulling (GET
	// /distribution/{name}/json). A missing repository or tag is
	// ErrNotFound, refused credentials ErrUnauthenticated.
	DistributionInspect(ctx context.Context, ref, auth string) (registry.DistributionInspect, error)
	// ImageSearch asks term's registry (Docker Hub for a bare name) for
	// at most limit repositories matching it (`docker search`), with the
	// filters is-official, is-automated and stars and the raw
	// X-Registry-Auth header.
	ImageSearch(ctx context.Context, term string, limit int, f Filters, auth string) ([]registry.SearchResult, error)
}

// Build is the classic builder (POST /build).
type Build interface {
	// ImageBuild builds the Dockerfile of the context tar in body
	// (POST /build, the classic builder), reporting progress to out, and
	// returns the image ID.
	ImageBuild(ctx context.Context, body io.Reader, opts BuildOptions, out BuildOutput) (id string, err error)
}

// Container is the container lifecycle and everything done to one container.
type Container interface {
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
}

// Exec is processes started in a running container.
type Exec interface {
	ExecCreate(ctx context.Context, name string, req *container.ExecCreateRequest) (id string, err error)
	// ExecStart runs the exec. With Detach the streams are nil and it
	// returns once the process started.
	ExecStart(ctx context.Context, id string, opts ExecStartOptions) error
	ExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, id string, height, width uint) error
}

// Volume is local volumes.
type Volume interface {
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error)
	VolumeList(ctx context.Context, f Filters) (*volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (*volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, f Filters) (*volume.PruneReport, error)
}

// Network is networks and container connections.
type Network interface {
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
	// Ready, if set, is called once the session is registered with the
	// container (so a start that follows cannot miss it), before anything
	// is written or read; the HTTP layer answers the upgrade only then. An
	// error from it ends the attach. Writing or reading the streams also
	// makes it ready.
	Ready func() error
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

// BuildOptions are the query options of POST /build (the classic
// builder's wire protocol).
type BuildOptions struct {
	Tags        []string
	Dockerfile  string
	BuildArgs   map[string]*string
	Target      string
	NoCache     bool
	Pull        bool
	Labels      map[string]string
	NetworkMode string
	Quiet       bool
}

// BuildOutput receives a build's progress: Stream for human-readable
// text (step lines, RUN output), Aux for the built image's ID. It may be
// called from several goroutines.
type BuildOutput interface {
	Stream(text string)
	Aux(id string)
}

// ProgressMessage is one line of Docker's JSON progress stream for pull
// and push (what the docker CLI renders as per-layer progress bars).
type ProgressMessage struct {
	ID             string          `json:"id,omitempty"`
	Status         string          `json:"status,omitempty"`
	ProgressDetail *ProgressDetail `json:"progressDetail,omitempty"`
	Aux            any             `json:"aux,omitempty"`
	ErrorDetail    *ErrorDetail    `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// ProgressDetail is a progress bar's state.
type ProgressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// ErrorDetail is the error of a progress stream.
type ErrorDetail struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}
