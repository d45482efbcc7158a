package service

import (
	"context"
	"fmt"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// refKind is what secrets and configs have in common: named swarm objects
// a service's containers see as files. R is the API's reference type
// (swarmtypes.SecretReference or swarmtypes.ConfigReference); one piece
// of code parses, resolves, updates and prints both through it.
type refKind[R any] struct {
	kind string                             // "secret" or "config": the flag value's type, the errors' noun
	make func(name string, file fileRef) *R // the reference to name at file (resolveRefs fills in the ID)
	name func(*R) string                    // the object's name
	file func(*R) *fileRef                  // the file the container sees (nil: a runtime config)
	// setID fills in the object's ID; ids lists those f selects as name → ID.
	setID func(*R, string)
	ids   func(ctx context.Context, api client.APIClient, f client.Filters) (map[string]string, error)
}

// secretKind is the refKind of --secret, --secret-add and --secret-rm.
func secretKind() refKind[swarmtypes.SecretReference] {
	type ref = swarmtypes.SecretReference
	return refKind[ref]{kind: "secret",
		make: func(name string, f fileRef) *ref {
			return &ref{SecretName: name, File: (*swarmtypes.SecretReferenceFileTarget)(&f)}
		},
		name: func(r *ref) string { return r.SecretName }, file: func(r *ref) *fileRef { return (*fileRef)(r.File) },
		setID: func(r *ref, id string) { r.SecretID = id },
		ids: func(ctx context.Context, api client.APIClient, f client.Filters) (map[string]string, error) {
			res, err := api.SecretList(ctx, client.SecretListOptions{Filters: f})
			return nameIDs(res.Items, err, func(s swarmtypes.Secret) (string, string) { return s.Spec.Name, s.ID })
		},
	}
}

// configKind is the refKind of --config, --config-add and --config-rm.
func configKind() refKind[swarmtypes.ConfigReference] {
	type ref = swarmtypes.ConfigReference
	return refKind[ref]{kind: "config",
		make: func(name string, f fileRef) *ref {
			return &ref{ConfigName: name, File: (*swarmtypes.ConfigReferenceFileTarget)(&f)}
		},
		name: func(r *ref) string { return r.ConfigName }, file: func(r *ref) *fileRef { return (*fileRef)(r.File) },
		setID: func(r *ref, id string) { r.ConfigID = id },
		ids: func(ctx context.Context, api client.APIClient, f client.Filters) (map[string]string, error) {
			res, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: f})
			return nameIDs(res.Items, err, func(c swarmtypes.Config) (string, string) { return c.Spec.Name, c.ID })
		},
	}
}

// nameIDs maps the names of the listed items (err: the listing failed)
// to their IDs.
func nameIDs[T any](items []T, err error, nameID func(T) (name, id string)) (map[string]string, error) {
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, it := range items {
		name, id := nameID(it)
		ids[name] = id
	}
	return ids, nil
}

// refsValue is a --secret or --config list (the IDs are looked up later,
// by resolveRefs).
func refsValue[R any](k refKind[R]) itemsValue[*R] {
	return itemsValue[*R]{typ: k.kind, parse: one(func(s string) (*R, error) {
		name, file, err := parseFileRef(s, k.kind)
		if err != nil {
			return nil, err
		}
		return k.make(name, file), nil
	})}
}

// resolveRefs fills in the IDs of the objects refs name, refusing two
// with the same target file.
func resolveRefs[R any](ctx context.Context, api client.APIClient, k refKind[R], refs []*R) ([]*R, error) {
	byTarget := map[string]*R{}
	var order []string
	f := client.Filters{}
	for _, r := range refs {
		target := k.file(r).Name
		if _, dup := byTarget[target]; dup {
			return nil, fmt.Errorf("duplicate %s target for %s not allowed", k.kind, k.name(r))
		}
		c := *r
		byTarget[target] = &c
		order = append(order, target)
		f.Add("name", k.name(r))
	}
	ids, err := k.ids(ctx, api, f)
	if err != nil {
		return nil, err
	}
	out := make([]*R, 0, len(order))
	for _, target := range order {
		r := byTarget[target]
		id, ok := ids[k.name(r)]
		if !ok {
			return nil, fmt.Errorf("%s not found: %s", k.kind, k.name(r))
		}
		k.setID(r, id)
		out = append(out, r)
	}
	return out, nil
}

// updateRefs is refs without those rm names, then add's, resolved. fixed,
// when set, has the last word on the references it handles (a runtime
// config stays or goes by the credential spec, never by --config-rm).
func updateRefs[R any](ctx context.Context, api client.APIClient, k refKind[R], refs []*R, rm []string, add []*R, fixed func(*R) (keep, handled bool)) ([]*R, error) {
	drop := map[string]bool{}
	for _, n := range rm {
		drop[n] = true
	}
	out := []*R{}
	for _, r := range refs {
		if fixed != nil {
			if keep, handled := fixed(r); handled {
				if keep {
					out = append(out, r)
				}
				continue
			}
		}
		if !drop[k.name(r)] {
			out = append(out, r)
		}
	}
	if len(add) > 0 {
		added, err := resolveRefs(ctx, api, k, add)
		if err != nil {
			return nil, err
		}
		out = append(out, added...)
	}
	return out, nil
}

// prettyRefs is the "Secrets:" or "Configs:" section of inspect --pretty.
func prettyRefs[R any](w func(format string, a ...any), title string, k refKind[R], refs []*R) {
	if len(refs) == 0 {
		return
	}
	w("\n%s:", title)
	for _, r := range refs {
		target := ""
		if f := k.file(r); f != nil {
			target = f.Name
		}
		w("\n Target:\t%s\n  Source:\t%s", target, k.name(r))
	}
}
