package convert

import (
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// SecretFromGRPC converts a SwarmKit secret to the Engine API's (GET
// /secrets). Spec.Data is never returned, as in Docker: a secret's value
// can be read only inside the containers it is given to.
func SecretFromGRPC(s *swarmapi.Secret) swarm.Secret {
	if s == nil {
		return swarm.Secret{}
	}
	return swarm.Secret{
		ID:   s.ID,
		Meta: metaFromGRPC(s.Meta),
		Spec: swarm.SecretSpec{
			Annotations: annotationsFromGRPC(s.Spec.Annotations),
			Driver:      driverFromGRPC(s.Spec.Driver),
			Templating:  driverFromGRPC(s.Spec.Templating),
		},
	}
}

// SecretSpecToGRPC converts the spec of POST /secrets/create and
// /secrets/{id}/update (SwarmKit checks the name, size and what may
// change).
func SecretSpecToGRPC(s swarm.SecretSpec) swarmapi.SecretSpec {
	return swarmapi.SecretSpec{
		Annotations: annotationsToGRPC(s.Annotations),
		Data:        s.Data,
		Driver:      driverToGRPC(s.Driver),
		Templating:  driverToGRPC(s.Templating),
	}
}

// ConfigFromGRPC converts a SwarmKit config to the Engine API's (GET
// /configs); unlike a secret's, a config's Data is returned.
func ConfigFromGRPC(c *swarmapi.Config) swarm.Config {
	if c == nil {
		return swarm.Config{}
	}
	return swarm.Config{
		ID:   c.ID,
		Meta: metaFromGRPC(c.Meta),
		Spec: swarm.ConfigSpec{
			Annotations: annotationsFromGRPC(c.Spec.Annotations),
			Data:        c.Spec.Data,
			Templating:  driverFromGRPC(c.Spec.Templating),
		},
	}
}

// ConfigSpecToGRPC converts the spec of POST /configs/create and
// /configs/{id}/update.
func ConfigSpecToGRPC(s swarm.ConfigSpec) swarmapi.ConfigSpec {
	return swarmapi.ConfigSpec{
		Annotations: annotationsToGRPC(s.Annotations),
		Data:        s.Data,
		Templating:  driverToGRPC(s.Templating),
	}
}
