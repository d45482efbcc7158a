package daemon

import (
	"context"
	"errors"
	"sort"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	registrytypes "github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/registry"
)

func toAPIProgress(out func(backend.ProgressMessage)) func(registry.Progress) {
	return func(p registry.Progress) {
		m := backend.ProgressMessage{ID: p.ID, Status: p.Status, Aux: p.Aux}
		if p.Total > 0 {
			m.ProgressDetail = &backend.ProgressDetail{Current: p.Current, Total: p.Total}
		}
		out(m)
	}
}

func registryErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registry.ErrNotFound):
		return errdefs.ErrNotFound.WithMessage(err.Error())
	case errors.Is(err, registry.ErrUnauthorized):
		return errdefs.ErrUnauthenticated.WithMessage(err.Error())
	case errors.Is(err, registry.ErrDenied):
		return errdefs.ErrPermissionDenied.WithMessage(err.Error())
	case errors.Is(err, registry.ErrInvalid):
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return err
}

// ImagePull implements backend.Backend.
func (d *Daemon) ImagePull(ctx context.Context, ref, platform, auth string, out func(backend.ProgressMessage)) error {
	ac, err := registry.DecodeAuth(auth)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	img, err := d.reg.Pull(ctx, ref, platform, ac, d.images, toAPIProgress(out))
	if err != nil {
		return registryErr(err)
	}
	d.emit(events.ImageEventType, events.ActionPull, img.ID.String(), map[string]string{"name": ref})
	return nil
}

// ImagePush implements backend.Backend.
func (d *Daemon) ImagePush(ctx context.Context, ref, auth string, out func(backend.ProgressMessage)) error {
	ac, err := registry.DecodeAuth(auth)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	refs := []string{ref}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid reference format: " + ref)
	}
	if _, tagged := named.(reference.Tagged); !tagged {
		// push --all-tags: every local tag of the repository.
		refs = nil
		imgs, err := d.images.List(ctx)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				if tn, err := reference.ParseNormalizedNamed(t); err == nil && tn.Name() == named.Name() {
					refs = append(refs, t)
				}
			}
		}
		sort.Strings(refs)
		if len(refs) == 0 {
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarName(named))
		}
	}
	for _, r := range refs {
		if _, err := d.images.Get(ctx, r); err != nil {
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + r)
		}
		if _, _, err := d.reg.Push(ctx, r, ac, d.images, toAPIProgress(out)); err != nil {
			return registryErr(err)
		}
		d.emit(events.ImageEventType, events.ActionPush, r, map[string]string{"name": r})
	}
	return nil
}

// RegistryLogin implements backend.Backend.
func (d *Daemon) RegistryLogin(ctx context.Context, ac registrytypes.AuthConfig) (string, error) {
	status, err := d.reg.Login(ctx, ac)
	return status, registryErr(err)
}

// DistributionInspect implements backend.Backend. As dockerd, an
// X-Registry-Auth header that does not decode is taken as no credentials.
func (d *Daemon) DistributionInspect(ctx context.Context, ref, auth string) (registrytypes.DistributionInspect, error) {
	r, err := d.reg.ParseRef(ref)
	if err != nil {
		return registrytypes.DistributionInspect{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	ac, err := registry.DecodeAuth(auth)
	if err != nil {
		ac = registrytypes.AuthConfig{}
	}
	di, err := d.reg.DistributionInspect(ctx, r, ac)
	return di, registryErr(err)
}

// ImageSearch implements backend.Backend.
func (d *Daemon) ImageSearch(ctx context.Context, term string, limit int, f backend.Filters, auth string) ([]registrytypes.SearchResult, error) {
	opts, automatedOnly, err := registry.ParseSearchFilters(searchFilterMap(f))
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	opts.Limit = limit
	ac, err := registry.DecodeAuth(auth)
	if err != nil {
		ac = registrytypes.AuthConfig{}
	}
	res, err := d.reg.Search(ctx, term, opts, ac)
	if err != nil {
		return nil, registryErr(err)
	}
	if automatedOnly {
		return []registrytypes.SearchResult{}, nil
	}
	return res, nil
}

// searchFilterMap is the filters as key → values.
func searchFilterMap(f backend.Filters) map[string][]string {
	out := map[string][]string{}
	for _, k := range f.Keys() {
		out[k] = f.Get(k)
	}
	return out
}
