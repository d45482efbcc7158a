package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/api/server"
)

// The predefined networks. Bridge networking (its own issue) replaces this
// fixed set with real networks; until then "bridge" gives a container a
// private network namespace with loopback only.
var predefinedNetworks = []struct{ name, driver string }{
	{"bridge", "bridge"},
	{"host", "host"},
	{"none", "null"},
}

func (d *Daemon) networkID(name string) string {
	sum := sha256.Sum256([]byte(d.cfg.DataRoot + "/" + name))
	return hex.EncodeToString(sum[:])
}

func (d *Daemon) predefined(name string) (network.Network, bool) {
	for _, n := range predefinedNetworks {
		id := d.networkID(n.name)
		if name == n.name || (len(name) >= 1 && strings.HasPrefix(id, name)) {
			return network.Network{
				Name: n.name, ID: id, Created: d.started, Scope: "local", Driver: n.driver,
				EnableIPv4: n.name == "bridge", IPAM: network.IPAM{Driver: "default"},
				Options: map[string]string{}, Labels: map[string]string{},
			}, true
		}
	}
	return network.Network{}, false
}

// NetworkList implements server.Backend.
func (d *Daemon) NetworkList(ctx context.Context, f server.Filters) ([]network.Summary, error) {
	out := []network.Summary{}
	for _, n := range predefinedNetworks {
		nw, _ := d.predefined(n.name)
		if names := f["name"]; len(names) > 0 && !names[nw.Name] {
			continue
		}
		if drv := f["driver"]; len(drv) > 0 && !drv[nw.Driver] {
			continue
		}
		if ids := f.Get("id"); len(ids) > 0 {
			ok := false
			for _, id := range ids {
				if strings.HasPrefix(nw.ID, id) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if t := f.Get("type"); len(t) > 0 && !f["type"]["builtin"] {
			continue
		}
		out = append(out, network.Summary{Network: nw})
	}
	return out, nil
}

// NetworkInspect implements server.Backend.
func (d *Daemon) NetworkInspect(ctx context.Context, name string) (*network.Inspect, error) {
	nw, ok := d.predefined(name)
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", name))
	}
	res := &network.Inspect{Network: nw, Containers: map[string]network.EndpointResource{}}
	for _, c := range d.containers.List() {
		c.Lock()
		mode := string(c.HostConfig.NetworkMode)
		running := c.State.Running
		cname := strings.TrimPrefix(c.Name, "/")
		c.Unlock()
		if running && mode == nw.Name {
			res.Containers[c.ID] = network.EndpointResource{Name: cname}
		}
	}
	return res, nil
}
