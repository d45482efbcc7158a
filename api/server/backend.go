package server

import "github.com/berth-project/berth/api/backend"

// The Engine API's vocabulary lives in api/backend (no net/http there, so
// the engine can implement it without importing this package); these
// names keep the handlers short.
type (
	Backend              = backend.Backend
	Filters              = backend.Filters
	ImageImportOptions   = backend.ImageImportOptions
	ImageListOptions     = backend.ImageListOptions
	ContainerListOptions = backend.ContainerListOptions
	LogsOptions          = backend.LogsOptions
	AttachOptions        = backend.AttachOptions
	ExecStartOptions     = backend.ExecStartOptions
	CommitOptions        = backend.CommitOptions
	BuildOptions         = backend.BuildOptions
	BuildOutput          = backend.BuildOutput
	ProgressMessage      = backend.ProgressMessage
	ProgressDetail       = backend.ProgressDetail
	buildErrDetail       = backend.ErrorDetail
)
