// Package stack is the client side of `berth stack deploy`: it loads
// compose files with the reference loader (compose-go: interpolation,
// .env, extends, include, several files merged) and converts the project
// into what a swarm stack is made of — overlay networks, secrets, configs
// and service specs named `<stack>_<name>` and labelled
// com.docker.stack.namespace — as the docker CLI does. Keys swarm mode
// cannot honour are reported in docker's "Ignoring unsupported options"
// words, never dropped silently. It talks to no daemon: the caller
// creates what Stack holds through the Engine API.
package stack

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

const (
	// LabelNamespace marks every object of a stack with the stack's name.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelImage is the image a service was deployed with, before the
	// daemon pinned a digest (redeploys compare it to the file's).
	LabelImage = "com.docker.stack.image"
)

// Stack is what a compose project deploys as, in creation order:
// networks and secrets and configs first, then the services.
type Stack struct {
	Namespace string
	// Networks are the stack's own networks, by name.
	Networks []Network
	// ExternalNetworks must exist (swarm-scoped) before the deploy.
	ExternalNetworks []string
	Secrets          []swarm.SecretSpec
	Configs          []swarm.ConfigSpec
	// ExternalSecrets and ExternalConfigs must exist before the deploy.
	ExternalSecrets, ExternalConfigs []string
	// Services are sorted by name. Their secret and config references
	// carry names only: the deploy looks the IDs up once they exist.
	Services []swarm.ServiceSpec
	// Unsupported are the keys swarm mode cannot honour ("build",
	// "deploy.resources.reservations.devices"), sorted; Deprecated the
	// deprecated ones with docker's explanation.
	Unsupported []string
	Deprecated  map[string]string
}

// Network is a network to create.
type Network struct {
	Name    string
	Options client.NetworkCreateOptions
}

// Scope is the name an object of the stack gets: "<stack>_<name>".
func Scope(namespace, name string) string { return namespace + "_" + name }

// Labels returns labels with the stack's namespace label added.
func Labels(namespace string, labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[LabelNamespace] = namespace
	return out
}

// validName is swarm's rule for the names of services and networks.
var validName = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

// ValidateName checks a stack name: docker's "invalid stack name" when
// empty, and swarm's rule for object names (letters, digits, '-' and '_',
// starting and ending with a letter or digit) since every service is
// named after it.
func ValidateName(namespace string) error {
	if strings.TrimSpace(namespace) == "" {
		return fmt.Errorf("invalid stack name: %q", namespace)
	}
	if !validName.MatchString(namespace) {
		return fmt.Errorf("invalid stack name: %q: a stack name must consist of letters, digits, '-' and '_', and start and end with a letter or digit", namespace)
	}
	return nil
}
