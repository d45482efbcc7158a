package server

import (
	"context"
	"io"
	"strings"

	"github.com/containerd/errdefs"
)

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
