package netalloc

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"
)

// Allocator is berth's networkallocator.NetworkAllocator. It is safe for
// concurrent use.
type Allocator struct {
	mu sync.Mutex

	defaultPools []netip.Prefix
	subnetSize   int
	vxlanPort    uint32

	networks map[string]*network // by network ID
	vnis     map[uint32]string   // VXLAN identifier → network ID
	lastVNI  uint32              // the identifier handed out last

	// held lists, per holder ("service:ID", "task:ID", "node:ID") and per
	// network ID, the addresses the holder has in that network.
	held map[string]map[string][]netip.Addr
}

var _ networkallocator.NetworkAllocator = (*Allocator)(nil)

// network is what the allocator knows of one allocated network.
type network struct {
	id      string
	local   bool // node-local (predefined or non-overlay): no addresses from us
	ingress bool
	pools   []*pool
	vnis    []uint32
}

func newAllocator(pools []netip.Prefix, subnetSize int, vxlanPort uint32) *Allocator {
	return &Allocator{
		defaultPools: pools,
		subnetSize:   subnetSize,
		vxlanPort:    vxlanPort,
		networks:     make(map[string]*network),
		vnis:         make(map[uint32]string),
		lastVNI:      firstVNI - 1,
		held:         make(map[string]map[string][]netip.Addr),
	}
}

// VXLANUDPPort returns the VXLAN UDP port the allocator was configured with.
func (a *Allocator) VXLANUDPPort() uint32 { return a.vxlanPort }

// txn records the undo steps of one call so that a failed call leaves the
// allocator as it found it.
type txn struct{ undo []func() }

func (x *txn) onUndo(f func()) { x.undo = append(x.undo, f) }

func (x *txn) rollback() {
	for i := len(x.undo) - 1; i >= 0; i-- {
		x.undo[i]()
	}
	x.undo = nil
}

// driverName is the network's driver, lower-cased, the default when unset.
func driverName(n *api.Network) string {
	if n.Spec.DriverConfig != nil && n.Spec.DriverConfig.Name != "" {
		return strings.ToLower(n.Spec.DriverConfig.Name)
	}
	return DefaultDriver
}

func isPredefined(n *api.Network) bool {
	_, ok := n.Spec.Annotations.Labels[networkallocator.PredefinedLabel]
	return ok
}

// IsAllocated tells whether n has been allocated (or restored) by this
// allocator.
func (a *Allocator) IsAllocated(n *api.Network) bool {
	if n == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.networks[n.ID]
	return ok
}

// Allocate gives n its subnets and VXLAN identifiers and records them in
// n.IPAM and n.DriverState. A network that already carries its IPAM
// configuration (restored after a change of leader) keeps it: its subnets
// and identifiers are reserved, not allocated anew. Node-local networks
// (predefined ones, non-overlay drivers) get an empty IPAM and no
// addresses. On error, n and the allocator are unchanged.
func (a *Allocator) Allocate(n *api.Network) error {
	if n == nil {
		return errors.New("cannot allocate a nil network")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.networks[n.ID]; ok {
		return fmt.Errorf("network %s is already allocated", n.ID)
	}

	driver := driverName(n)
	if isPredefined(n) || driver != DefaultDriver {
		a.networks[n.ID] = &network{id: n.ID, local: true, ingress: networkallocator.IsIngressNetwork(n)}
		if n.DriverState == nil || n.DriverState.Name == "" {
			n.DriverState = &api.Driver{Name: driver}
		}
		if n.IPAM == nil {
			n.IPAM = &api.IPAMOptions{Driver: &api.Driver{}}
		}
		return nil
	}

	var x txn
	nw, ipam, ds, err := a.allocateOverlay(&x, n)
	if err != nil {
		x.rollback()
		return fmt.Errorf("allocating network %s: %w", n.ID, err)
	}
	a.networks[n.ID] = nw
	n.IPAM = ipam
	n.DriverState = ds
	return nil
}

// allocateOverlay works out the pools and VXLAN identifiers of overlay
// network n, taking them in x, and returns the IPAM options and driver state
// to record in n.
func (a *Allocator) allocateOverlay(x *txn, n *api.Network) (*network, *api.IPAMOptions, *api.Driver, error) {
	nw := &network{id: n.ID, ingress: networkallocator.IsIngressNetwork(n)}
	taken := a.heldSubnets()
	restoring := n.IPAM != nil && len(n.IPAM.Configs) > 0

	var ipam *api.IPAMOptions
	if restoring {
		ipam = n.IPAM.Copy()
		if ipam.Driver == nil {
			ipam.Driver = &api.Driver{}
		}
		if ipam.Driver.Name == "" {
			ipam.Driver.Name = DefaultIPAMDriver
		}
		for _, c := range ipam.Configs {
			if c == nil {
				return nil, nil, nil, errors.New("nil IPAM configuration")
			}
			p, err := poolFromConfig(c, taken)
			if err != nil {
				return nil, nil, nil, err
			}
			if c.Gateway == "" {
				c.Gateway = p.gateway.String()
			}
			nw.pools = append(nw.pools, p)
			taken = append(taken, p.subnet)
		}
	} else {
		ipam = &api.IPAMOptions{Driver: &api.Driver{Name: DefaultIPAMDriver}}
		var specConfigs []*api.IPAMConfig
		if n.Spec.IPAM != nil {
			if n.Spec.IPAM.Driver != nil && len(n.Spec.IPAM.Driver.Options) > 0 {
				ipam.Driver.Options = maps.Clone(n.Spec.IPAM.Driver.Options)
			}
			specConfigs = n.Spec.IPAM.Configs
		}
		if len(specConfigs) == 0 {
			specConfigs = []*api.IPAMConfig{{}}
		}
		for _, sc := range specConfigs {
			if sc == nil {
				return nil, nil, nil, errors.New("nil IPAM configuration")
			}
			c := sc.Copy()
			if c.Subnet == "" {
				if c.Range != "" || c.Gateway != "" {
					return nil, nil, nil, errors.New("an IPAM configuration with a range or gateway needs a subnet")
				}
				subnet, err := a.nextDefaultSubnet(taken)
				if err != nil {
					return nil, nil, nil, err
				}
				c.Subnet = subnet.String()
			}
			p, err := poolFromConfig(c, taken)
			if err != nil {
				return nil, nil, nil, err
			}
			c.Gateway = p.gateway.String()
			c.Family = api.IPAMConfig_IPV4
			if p.subnet.Addr().Is6() {
				c.Family = api.IPAMConfig_IPV6
			}
			nw.pools = append(nw.pools, p)
			taken = append(taken, p.subnet)
			ipam.Configs = append(ipam.Configs, c)
		}
	}

	ds, err := a.driverState(x, n, nw, restoring)
	if err != nil {
		return nil, nil, nil, err
	}
	return nw, ipam, ds, nil
}

// driverState reserves or allocates nw's VXLAN identifiers and returns the
// driver state to record.
func (a *Allocator) driverState(x *txn, n *api.Network, nw *network, restoring bool) (*api.Driver, error) {
	if n.DriverState != nil && (restoring || n.DriverState.Options[VXLANIDListOption] != "") {
		// Restore: keep the state as it is, reserving its identifiers.
		ds := n.DriverState.Copy()
		if ds.Name == "" {
			ds.Name = DefaultDriver
		}
		vnis, err := parseVNIs(ds.Options[VXLANIDListOption])
		if err != nil {
			return nil, err
		}
		for _, v := range vnis {
			if err := a.reserveVNI(x, v, nw); err != nil {
				return nil, err
			}
		}
		return ds, nil
	}

	opts := map[string]string{}
	if n.Spec.DriverConfig != nil {
		maps.Copy(opts, n.Spec.DriverConfig.Options)
	}
	wanted, err := parseVNIs(opts[VXLANIDListOption])
	if err != nil {
		return nil, err
	}
	for _, v := range wanted {
		if err := a.reserveVNI(x, v, nw); err != nil {
			return nil, err
		}
	}
	// One identifier per IPv4 subnet, and at least one.
	need := 0
	for _, p := range nw.pools {
		if p.subnet.Addr().Is4() {
			need++
		}
	}
	need = max(need, 1)
	for len(nw.vnis) < need {
		if err := a.allocateVNI(x, nw); err != nil {
			return nil, err
		}
	}
	list := make([]string, len(nw.vnis))
	for i, v := range nw.vnis {
		list[i] = strconv.FormatUint(uint64(v), 10)
	}
	opts[VXLANIDListOption] = strings.Join(list, ",")
	return &api.Driver{Name: DefaultDriver, Options: opts}, nil
}

func parseVNIs(s string) ([]uint32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []uint32
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil || v == 0 || v > uint64(lastVNI) {
			return nil, fmt.Errorf("invalid VXLAN id %q in %s", f, VXLANIDListOption)
		}
		out = append(out, uint32(v))
	}
	return out, nil
}

func (a *Allocator) reserveVNI(x *txn, v uint32, nw *network) error {
	if owner, ok := a.vnis[v]; ok {
		if owner == nw.id {
			return nil
		}
		return fmt.Errorf("VXLAN id %d is already in use by network %s", v, owner)
	}
	a.vnis[v] = nw.id
	nw.vnis = append(nw.vnis, v)
	x.onUndo(func() { delete(a.vnis, v) })
	return nil
}

// allocateVNI hands nw the next free identifier after the last one handed
// out, wrapping from lastVNI back to firstVNI.
func (a *Allocator) allocateVNI(x *txn, nw *network) error {
	v := a.lastVNI
	for range lastVNI - firstVNI + 1 {
		v++
		if v < firstVNI || v > lastVNI {
			v = firstVNI
		}
		if _, used := a.vnis[v]; used {
			continue
		}
		prev := a.lastVNI
		a.vnis[v] = nw.id
		a.lastVNI = v
		nw.vnis = append(nw.vnis, v)
		x.onUndo(func() { delete(a.vnis, v); a.lastVNI = prev })
		return nil
	}
	return errors.New("no VXLAN ids left")
}

// poolFromConfig builds the pool of c, refusing a subnet that overlaps one
// in taken.
func poolFromConfig(c *api.IPAMConfig, taken []netip.Prefix) (*pool, error) {
	subnet, err := netip.ParsePrefix(c.Subnet)
	if err != nil {
		return nil, fmt.Errorf("invalid subnet %s", c.Subnet)
	}
	if subnet.Addr().Is4In6() {
		return nil, fmt.Errorf("invalid subnet %s", c.Subnet)
	}
	subnet = subnet.Masked()
	for _, t := range taken {
		if t.Overlaps(subnet) {
			return nil, fmt.Errorf("invalid pool request for subnet %s: %w", subnet, errPoolOverlap)
		}
	}
	var gw netip.Addr
	if c.Gateway != "" {
		if gw, err = netip.ParseAddr(c.Gateway); err != nil {
			return nil, fmt.Errorf("invalid gateway %s", c.Gateway)
		}
	}
	var rng netip.Prefix
	if c.Range != "" {
		if rng, err = netip.ParsePrefix(c.Range); err != nil {
			return nil, fmt.Errorf("invalid range %s", c.Range)
		}
	}
	return newPool(subnet, gw, rng)
}

// heldSubnets lists the subnets of every allocated overlay network.
func (a *Allocator) heldSubnets() []netip.Prefix {
	var out []netip.Prefix
	for _, nw := range a.networks {
		for _, p := range nw.pools {
			out = append(out, p.subnet)
		}
	}
	return out
}

// nextDefaultSubnet returns the first subnet of the default pools that
// overlaps none in taken.
func (a *Allocator) nextDefaultSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	for _, pool := range a.defaultPools {
		c := netip.PrefixFrom(pool.Addr(), a.subnetSize)
		for c.IsValid() && pool.Contains(c.Addr()) {
			var blocker netip.Prefix
			for _, t := range taken {
				if t.Overlaps(c) {
					blocker = t
					break
				}
			}
			if !blocker.IsValid() {
				return c, nil
			}
			// Skip past whichever of the two ends later.
			end := lastAddr(c)
			if e := lastAddr(blocker); e.Compare(end) > 0 {
				end = e
			}
			next := end.Next()
			if !next.IsValid() {
				break
			}
			c = netip.PrefixFrom(next, a.subnetSize).Masked()
		}
	}
	return netip.Prefix{}, errPoolsSpent
}

// Deallocate frees n's subnets and VXLAN identifiers and forgets every
// address held in it. Deallocating a network that is not allocated does
// nothing.
func (a *Allocator) Deallocate(n *api.Network) error {
	if n == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	nw, ok := a.networks[n.ID]
	if !ok {
		return nil
	}
	for _, v := range nw.vnis {
		if a.vnis[v] == nw.id {
			delete(a.vnis, v)
		}
	}
	for holder, byNet := range a.held {
		delete(byNet, nw.id)
		if len(byNet) == 0 {
			delete(a.held, holder)
		}
	}
	delete(a.networks, n.ID)
	return nil
}
