package daemon

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/lifecycle"
	"github.com/berth-project/berth/internal/filters"
)

// ImageImport implements backend.Backend.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, opts backend.ImageImportOptions) (string, error) {
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

// ImageList implements backend.Backend.
func (d *Daemon) ImageList(ctx context.Context, opts backend.ImageListOptions) ([]apiimage.Summary, error) {
	f := opts.Filters
	if err := f.Validate("dangling", "label", "label!", "before", "since", "reference", "until"); err != nil {
		return nil, err
	}
	crit := imageCriteria{f: f}
	var err error
	if crit.dangling, crit.hasDangling, err = f.Bool("dangling"); err != nil {
		return nil, err
	}
	if crit.until, crit.hasUntil, err = f.Until(time.Now()); err != nil {
		return nil, err
	}
	imgs, err := d.images.List(ctx)
	if err != nil {
		return nil, err
	}
	if v := f.Get("before"); len(v) > 0 {
		if crit.before, err = d.images.Get(ctx, v[0]); err != nil {
			return nil, err
		}
	}
	if v := f.Get("since"); len(v) > 0 {
		if crit.since, err = d.images.Get(ctx, v[0]); err != nil {
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
		if !crit.matches(img) {
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

// imageCriteria are the validated filters of an image list.
type imageCriteria struct {
	f                     filters.Args
	dangling, hasDangling bool
	until                 time.Time
	hasUntil              bool
	before, since         *image.Image
}

func (c *imageCriteria) matches(img *image.Image) bool {
	if c.hasDangling && c.dangling != (len(img.RepoTags) == 0) {
		return false
	}
	if c.hasUntil && !img.Created.Before(c.until) {
		return false
	}
	if c.before != nil && !img.Created.Before(c.before.Created) {
		return false
	}
	if c.since != nil && !img.Created.After(c.since.Created) {
		return false
	}
	if !c.f.MatchLabels(img.Config.Config.Labels) {
		return false
	}
	if refs := c.f.Get("reference"); len(refs) > 0 {
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

// ImageInspect implements backend.Backend.
func (d *Daemon) ImageInspect(ctx context.Context, name string) (*apiimage.InspectResponse, error) {
	img, err := d.images.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.images.Inspect(img), nil
}

// ImageHistory implements backend.Backend.
func (d *Daemon) ImageHistory(ctx context.Context, name string) ([]apiimage.HistoryResponseItem, error) {
	return d.images.History(ctx, name)
}

// ImageTag implements backend.Backend.
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

// ImageDelete implements backend.Backend.
func (d *Daemon) ImageDelete(ctx context.Context, name string, force, noPrune bool) ([]apiimage.DeleteResponse, error) {
	inUse := func(id digest.Digest) (string, bool) {
		var stopped string
		for _, c := range d.containers.List() {
			if c.ImageID != id.String() {
				continue
			}
			if lifecycle.IsRunning(c) {
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

// ImagesPrune implements backend.Backend.
func (d *Daemon) ImagesPrune(ctx context.Context, f backend.Filters) (*apiimage.PruneReport, error) {
	// Every value is validated before the first removal. (until is not
	// accepted: the image store's prune cannot filter by creation time.)
	if err := f.Validate("dangling", "label", "label!"); err != nil {
		return nil, err
	}
	dangling, hasDangling, err := f.Bool("dangling")
	if err != nil {
		return nil, err
	}
	all := hasDangling && !dangling
	used := d.imagesInUse()
	inUse := func(id digest.Digest) bool { return len(used[id.String()]) > 0 }
	rep, err := d.images.Prune(ctx, all, inUse, f.MatchLabels)
	if err != nil {
		return nil, err
	}
	d.emit(events.ImageEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}

// ImageExport implements backend.Backend.
func (d *Daemon) ImageExport(ctx context.Context, names []string, w io.Writer) error {
	return d.images.Save(ctx, names, w)
}

// ImageLoad implements backend.Backend.
func (d *Daemon) ImageLoad(ctx context.Context, r io.Reader, out func(line string)) error {
	return d.images.Load(ctx, r, func(line string) {
		d.emit(events.ImageEventType, events.ActionLoad, line, nil)
		out(line)
	})
}
