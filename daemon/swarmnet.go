package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-project/berth/daemon/cluster"
	bnet "github.com/berth-project/berth/daemon/network"
)

// swarmNetworks realises swarm networks on this node for the cluster's
// tasks (cluster.LocalNetworks) as overlay-driver networks of the
// network manager.
type swarmNetworks struct {
	net *bnet.Manager
	log *slog.Logger
}

var _ cluster.LocalNetworks = swarmNetworks{}

func (s swarmNetworks) EnsureSwarmNetwork(ctx context.Context, n cluster.SwarmNetwork) error {
	if _, err := s.net.Get(n.ID); err == nil {
		return nil
	}
	_, err := s.net.Create(ctx, bnet.CreateRequest{
		ID: n.ID, Scope: bnet.ScopeSwarm, Ingress: n.Ingress, Name: n.Name, Driver: bnet.DriverOverlay,
		Subnet: n.Subnet, Gateway: n.Gateway, Attachable: n.Attachable, Internal: n.Internal,
		Labels: n.Labels, Options: n.Options,
	})
	if errdefs.IsConflict(err) {
		if _, gerr := s.net.Get(n.ID); gerr == nil {
			return nil // created meanwhile by another task
		}
	}
	return err
}

func (s swarmNetworks) RemoveSwarmNetwork(ctx context.Context, id string) error {
	err := s.net.Remove(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// RemoveSwarmNetworks removes every swarm network realised here. The
// tasks' containers may still be going (their removal is asynchronous
// when the node leaves): it retries for a few seconds, then logs what it
// could not remove.
func (s swarmNetworks) RemoveSwarmNetworks(ctx context.Context) {
	var errs []error
	for attempt := 0; attempt < 50; attempt++ {
		errs = nil
		for _, n := range s.net.List() {
			if n.Scope == bnet.ScopeSwarm {
				if err := s.RemoveSwarmNetwork(ctx, n.ID); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
				}
			}
		}
		if len(errs) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.log.Warn("swarm networks left after leaving the swarm", "err", errors.Join(errs...))
}
