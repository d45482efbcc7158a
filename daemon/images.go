package daemon

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/api/server"
	"github.com/berth-project/berth/daemon/image"
)

// ImageImport implements server.Backend.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, opts server.ImageImportOptions) (string, error) {
	ref := opts.Repo
	if ref != "" && opts.Tag != "" {
		ref += ":" + opts.Tag
	}
	img, err := d.images.Import(ctx, src, image.ImportOptions{Ref: ref, Changes: opts.Changes, Message: opts.Message, Platform: opts.Platform})
	if err != nil {
		return "", err
	}
	d.emit(events.ImageEventType, events.ActionImport, img.ID.String(), map[string]string{"name": ref})
	return img.ID.String(), nil
}

// imagesInUse maps image IDs to the containers using them.
func (d *Daemon) imagesInUse() map[string][]string {
	used := map[string][]string{}
	for _, c := range d.containers.List() {
		used[c.ImageID] = append(used[c.ImageID], c.ID)
	}
	return used
}

// ImageList implements server.Backend.
func (d *Daemon) ImageList(ctx context.Context, opts server.ImageListOptions) ([]apiimage.Summary, error) {
	for k := range opts.Filters {
		switch k {
		case "dangling", "label", "label!", "before", "since", "reference":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	imgs, err := d.images.List(ctx)
	if err != nil {
		return nil, err
	}
	var before, since *image.Image
	if v := opts.Filters.Get("before"); len(v) > 0 {
		if before, err = d.images.Get(ctx, v[0]); err != nil {
			return nil, err
		}
	}
	if v := opts.Filters.Get("since"); len(v) > 0 {
		if since, err = d.images.Get(ctx, v[0]); err != nil {
			return nil, err
		}
	}
	used := d.imagesInUse()
	// As dockerd: without -a, untagged images that are the parent of
	// another (a build's intermediate steps) are not listed.
	parents := map[digest.Digest]bool{}
	for _, img := range imgs {
		if img.Parent != "" {
			parents[img.Parent] = true
		}
	}
	out := []apiimage.Summary{}
	for _, img := range imgs {
		if !opts.All && len(img.RepoTags) == 0 && parents[img.ID] {
			continue
		}
		if !imageMatches(img, opts.Filters, before, since) {
			continue
		}
		s := d.images.Summary(img)
		s.Containers = int64(len(used[img.ID.String()]))
		if s.RepoTags == nil {
			s.RepoTags = []string{}
		}
		if s.RepoDigests == nil {
			s.RepoDigests = []string{}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

func imageMatches(img *image.Image, f server.Filters, before, since *image.Image) bool {
	if v := f.Get("dangling"); len(v) > 0 {
		dangling := len(img.RepoTags) == 0
		if (v[0] == "true" || v[0] == "1") != dangling {
			return false
		}
	}
	if before != nil && !img.Created.Before(before.Created) {
		return false
	}
	if since != nil && !img.Created.After(since.Created) {
		return false
	}
	if !labelsMatch(img.Config.Config.Labels, f) {
		return false
	}
	if refs := f.Get("reference"); len(refs) > 0 {
		ok := false
		for _, pattern := range refs {
			for _, tag := range img.RepoTags {
				repo := tag
				if i := strings.LastIndex(tag, ":"); i > strings.LastIndex(tag, "/") {
					repo = tag[:i]
				}
				if m, _ := path.Match(pattern, tag); m {
					ok = true
				}
				if m, _ := path.Match(pattern, repo); m {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ImageInspect implements server.Backend.
func (d *Daemon) ImageInspect(ctx context.Context, name string) (*apiimage.InspectResponse, error) {
	img, err := d.images.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.images.Inspect(img), nil
}

// ImageHistory implements server.Backend.
func (d *Daemon) ImageHistory(ctx context.Context, name string) ([]apiimage.HistoryResponseItem, error) {
	return d.images.History(ctx, name)
}

// ImageTag implements server.Backend.
func (d *Daemon) ImageTag(ctx context.Context, source, repo, tag string) error {
	img, err := d.images.Get(ctx, source)
	if err != nil {
		return err
	}
	ref := repo
	if tag != "" {
		ref += ":" + tag
	}
	if err := d.images.Tag(ctx, img.ID, ref); err != nil {
		return err
	}
	d.emit(events.ImageEventType, events.ActionTag, img.ID.String(), map[string]string{"name": ref})
	return nil
}

// ImageDelete implements server.Backend.
func (d *Daemon) ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]apiimage.DeleteResponse, error) {
	inUse := func(id digest.Digest) (string, bool) {
		var stopped string
		for _, c := range d.containers.List() {
			if c.ImageID != id.String() {
				continue
			}
			if isRunning(c) {
				return c.ID, true
			}
			stopped = c.ID
		}
		return stopped, false
	}
	resp, err := d.images.Delete(ctx, name, force, noPrune, inUse)
	if err != nil {
		return nil, err
	}
	deleted := false
	for _, r := range resp {
		if r.Untagged != "" {
			d.emit(events.ImageEventType, events.ActionUnTag, r.Untagged, map[string]string{"name": r.Untagged})
		}
		// The first Deleted line is the image; later ones are its layers.
		if r.Deleted != "" && !deleted {
			deleted = true
			d.emit(events.ImageEventType, events.ActionDelete, r.Deleted, map[string]string{"name": r.Deleted})
		}
	}
	return resp, nil
}

// ImagesPrune implements server.Backend.
func (d *Daemon) ImagesPrune(ctx context.Context, f server.Filters) (*apiimage.PruneReport, error) {
	all := false
	if v := f.Get("dangling"); len(v) > 0 && (v[0] == "false" || v[0] == "0") {
		all = true
	}
	for k := range f {
		switch k {
		case "dangling", "label", "label!":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	used := d.imagesInUse()
	inUse := func(id digest.Digest) bool { return len(used[id.String()]) > 0 }
	labels := func(l map[string]string) bool { return labelsMatch(l, f) }
	rep, err := d.images.Prune(ctx, all, inUse, labels)
	if err != nil {
		return nil, err
	}
	d.emit(events.ImageEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}

// ImageExport implements server.Backend.
func (d *Daemon) ImageExport(ctx context.Context, names []string, w io.Writer) error {
	return d.images.Save(ctx, names, w)
}

// ImageLoad implements server.Backend.
func (d *Daemon) ImageLoad(ctx context.Context, r io.Reader, out func(line string)) error {
	return d.images.Load(ctx, r, func(line string) {
		d.emit(events.ImageEventType, events.ActionLoad, line, nil)
		out(line)
	})
}
