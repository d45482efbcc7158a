package convert

import (
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// invalidArg is an errdefs.ErrInvalidArgument whose text is exactly the
// formatted message (Docker's words, without an "invalid argument" prefix).
func invalidArg(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// annotationsFromGRPC converts SwarmKit annotations. Labels are never nil:
// dockerd always shows "Labels": {} on inspect.
func annotationsFromGRPC(a swarmapi.Annotations) swarm.Annotations {
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return swarm.Annotations{Name: a.Name, Labels: labels}
}

// annotationsToGRPC converts Engine annotations.
func annotationsToGRPC(a swarm.Annotations) swarmapi.Annotations {
	return swarmapi.Annotations{Name: a.Name, Labels: a.Labels}
}

// metaFromGRPC converts an object's version and times.
func metaFromGRPC(m swarmapi.Meta) swarm.Meta {
	return swarm.Meta{
		Version:   swarm.Version{Index: m.Version.Index},
		CreatedAt: timeFromGRPC(m.CreatedAt),
		UpdatedAt: timeFromGRPC(m.UpdatedAt),
	}
}

// timeFromGRPC converts a timestamp; nil or invalid is the zero time.
func timeFromGRPC(ts *gogotypes.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	t, err := gogotypes.TimestampFromProto(ts)
	if err != nil {
		return time.Time{}
	}
	return t
}

// durationFromGRPC converts a duration; nil or out of range is 0.
func durationFromGRPC(d *gogotypes.Duration) time.Duration {
	if d == nil {
		return 0
	}
	v, err := gogotypes.DurationFromProto(d)
	if err != nil {
		return 0
	}
	return v
}

// durationPtrFromGRPC converts an optional duration.
func durationPtrFromGRPC(d *gogotypes.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := durationFromGRPC(d)
	return &v
}

// driverFromGRPC converts an optional driver.
func driverFromGRPC(d *swarmapi.Driver) *swarm.Driver {
	if d == nil {
		return nil
	}
	return &swarm.Driver{Name: d.Name, Options: d.Options}
}

// driverToGRPC converts an optional driver.
func driverToGRPC(d *swarm.Driver) *swarmapi.Driver {
	if d == nil {
		return nil
	}
	return &swarmapi.Driver{Name: d.Name, Options: d.Options}
}

// GenericResourcesFromGRPC converts generic resources (node resources, task
// reservations and assignments). Entries of neither kind are dropped.
func GenericResourcesFromGRPC(res []*swarmapi.GenericResource) []swarm.GenericResource {
	var out []swarm.GenericResource
	for _, r := range res {
		if r == nil {
			continue
		}
		switch v := r.Resource.(type) {
		case *swarmapi.GenericResource_DiscreteResourceSpec:
			if v.DiscreteResourceSpec != nil {
				out = append(out, swarm.GenericResource{DiscreteResourceSpec: &swarm.DiscreteGenericResource{
					Kind: v.DiscreteResourceSpec.Kind, Value: v.DiscreteResourceSpec.Value,
				}})
			}
		case *swarmapi.GenericResource_NamedResourceSpec:
			if v.NamedResourceSpec != nil {
				out = append(out, swarm.GenericResource{NamedResourceSpec: &swarm.NamedGenericResource{
					Kind: v.NamedResourceSpec.Kind, Value: v.NamedResourceSpec.Value,
				}})
			}
		}
	}
	return out
}

// GenericResourcesToGRPC converts generic resources; a discrete spec wins
// over a named one, and entries of neither kind are dropped.
func GenericResourcesToGRPC(res []swarm.GenericResource) []*swarmapi.GenericResource {
	var out []*swarmapi.GenericResource
	for _, r := range res {
		switch {
		case r.DiscreteResourceSpec != nil:
			out = append(out, &swarmapi.GenericResource{Resource: &swarmapi.GenericResource_DiscreteResourceSpec{
				DiscreteResourceSpec: &swarmapi.DiscreteGenericResource{Kind: r.DiscreteResourceSpec.Kind, Value: r.DiscreteResourceSpec.Value},
			}})
		case r.NamedResourceSpec != nil:
			out = append(out, &swarmapi.GenericResource{Resource: &swarmapi.GenericResource_NamedResourceSpec{
				NamedResourceSpec: &swarmapi.NamedGenericResource{Kind: r.NamedResourceSpec.Kind, Value: r.NamedResourceSpec.Value},
			}})
		}
	}
	return out
}

// bytesOrNil is s as bytes, nil when empty.
func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
