package cluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/image"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/daemon/cluster/executor"
	"github.com/berth-project/berth/daemon/cluster/gossip"
	"github.com/berth-project/berth/daemon/cluster/imageshare"
)

// Images shared inside the swarm without a registry. A manager pins a
// service whose image is only local to it (no digest in the reference,
// no registry digest for the image) to the image's ID, in the container
// spec's label executor.LabelImageID; the reference itself is left as
// the user wrote it, so `service inspect`, `service ps` and a later
// `service update` see the name they gave. Every node of a multi-host
// swarm serves its images on its data-path address (imageshare's port,
// announced in its gossip record), and a node whose task's pinned image
// is missing fetches it from the others (executor.ImageFetcher).

// Engine is what the cluster needs of berth's engine: what the executor
// needs, plus saving and loading images for the other nodes.
type Engine interface {
	executor.Engine
	imageshare.Exporter
	imageshare.Loader
}

// imagePin is the image ID a service's container spec is pinned to, or
// "" for none: ref (the spec's image) names local, an image here that no
// registry gave (it has no repo digest); a reference with a digest is
// pinned already. When ref is not here (a manager that lacks it), the
// previous spec's pin is kept as long as the reference is unchanged.
func imagePin(ref string, local *image.InspectResponse, prevRef, prevPin string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	if _, ok := named.(reference.Digested); ok {
		return ""
	}
	if local == nil {
		if ref == prevRef {
			return prevPin
		}
		return ""
	}
	if len(local.RepoDigests) > 0 {
		return "" // a registry has it: each node pulls
	}
	if _, err := digest.Parse(local.ID); err != nil {
		return ""
	}
	return local.ID
}

// pinImage sets (or clears) ct's image pin; prev is the service's current
// container spec on update (nil on create).
func (c *Cluster) pinImage(ctx context.Context, ct, prev *swarmapi.ContainerSpec) {
	var prevRef, prevPin string
	if prev != nil {
		prevRef, prevPin = prev.Image, prev.Labels[executor.LabelImageID]
	}
	local, err := c.cfg.Engine.ImageInspect(ctx, ct.Image)
	if err != nil {
		local = nil
	}
	pin := imagePin(ct.Image, local, prevRef, prevPin)
	if pin == "" {
		delete(ct.Labels, executor.LabelImageID)
		return
	}
	if ct.Labels == nil {
		ct.Labels = map[string]string{}
	}
	ct.Labels[executor.LabelImageID] = pin
}

// imagePeers is the swarm's other image servers as this node's gossip
// knows them, and the fetcher that asks them (executor.ImageFetcher).
type imagePeers struct {
	fetcher *imageshare.Fetcher

	mu   sync.Mutex
	self string
	g    *gossip.Gossip
	mode shareMode
}

// shareMode is whether this node shares images: only a node of a
// multi-host data plane does (a swarm of daemons on one host has no
// gossip to find the others by).
type shareMode int

const (
	shareUnknown shareMode = iota // the data path is not known yet
	shareOff
	shareOn
)

func (p *imagePeers) setMode(m shareMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
}

func (p *imagePeers) setGossip(self string, g *gossip.Gossip) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.self, p.g = self, g
}

// peers is every other node that serves images, in node ID order.
func (p *imagePeers) peers() []imageshare.Peer {
	peers, _ := p.state()
	return peers
}

func (p *imagePeers) state() ([]imageshare.Peer, shareMode) {
	p.mu.Lock()
	self, g, mode := p.self, p.g, p.mode
	p.mu.Unlock()
	if g == nil {
		return nil, mode
	}
	return imagePeersOf(g.Records(), self), mode
}

func imagePeersOf(recs []gossip.Record, self string) []imageshare.Peer {
	var out []imageshare.Peer
	for _, r := range recs {
		if r.Node != self && r.Images != "" {
			out = append(out, imageshare.Peer{Node: r.Node, Addr: r.Images})
		}
	}
	return out
}

// peerWait is how long a task waits for the first other image server to
// be known: a node that just joined learns the others' records by gossip
// within a second or two.
const peerWait = 15 * time.Second

// FetchImage implements executor.ImageFetcher.
func (p *imagePeers) FetchImage(ctx context.Context, id string) (string, error) {
	peers, mode := p.state()
	if len(peers) == 0 && mode != shareOff {
		wctx, cancel := context.WithTimeout(ctx, peerWait)
		defer cancel()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for len(peers) == 0 && mode != shareOff {
			select {
			case <-wctx.Done():
				if ctx.Err() != nil {
					return "", ctx.Err()
				}
				return "", fmt.Errorf("%w: no other node serves images", imageshare.ErrNotShared)
			case <-t.C:
				peers, mode = p.state()
			}
		}
	}
	if len(peers) == 0 {
		return "", fmt.Errorf("%w: the swarm shares images between hosts only", imageshare.ErrNotShared)
	}
	peer, err := p.fetcher.Fetch(ctx, digest.Digest(id), peers)
	if err != nil {
		return "", err
	}
	return peer.Node, nil
}

// identity is this node's swarm TLS identity, read from SwarmKit's state
// each time (certificates rotate). An autolocked manager's key is
// encrypted: its unlock key, from the managers' CA, decrypts it.
func (c *Cluster) identity(n *runningNode) imageshare.IdentitySource {
	dir := imageshare.CertDir(filepath.Join(c.cfg.Root, swarmkitDir))
	return func() (*imageshare.Identity, error) {
		id, err := imageshare.LoadIdentity(dir, nil)
		if err == nil {
			return id, nil
		}
		if ca := n.caClient(); ca != nil {
			if resp, kerr := ca.GetUnlockKey(context.Background(), &swarmapi.GetUnlockKeyRequest{}); kerr == nil && len(resp.UnlockKey) > 0 {
				return imageshare.LoadIdentity(dir, resp.UnlockKey)
			}
		}
		return nil, err
	}
}

// serveImages starts this node's image server on its data-path address;
// it returns the address to announce ("" when it could not listen).
func (c *Cluster) serveImages(n *runningNode, under netip.Addr) (*imageshare.Server, string) {
	addr := net.JoinHostPort(under.String(), strconv.Itoa(imageshare.DefaultPort))
	s, err := imageshare.Listen(addr, c.cfg.Engine, c.identity(n), c.log)
	if err != nil {
		c.log.Warn("swarm image sharing is off: other nodes cannot fetch this node's images", "err", err)
		return nil, ""
	}
	return s, s.Addr()
}
