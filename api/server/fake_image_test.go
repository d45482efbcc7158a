package server

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
)

func noImage(name string) error {
	if name == "busybox" || name == "sha256:aa" || name == "busybox:latest" || name == "docker.io/library/busybox:latest" {
		return nil
	}
	return fmt.Errorf("No such image: %s: %w", name, errdefs.ErrNotFound)
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
