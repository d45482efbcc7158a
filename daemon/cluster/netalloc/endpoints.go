package netalloc

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/allocator/networkallocator"
)

func serviceHolder(id string) string { return "service:" + id }
func taskHolder(id string) string    { return "task:" + id }
func nodeHolder(id string) string    { return "node:" + id }

// poolFor returns the pool of nw whose subnet contains addr.
func (nw *network) poolFor(addr netip.Addr) *pool {
	for _, p := range nw.pools {
		if p.subnet.Contains(addr) {
			return p
		}
	}
	return nil
}

// reserveIn makes holder hold addr in nw.
func (a *Allocator) reserveIn(x *txn, nw *network, holder string, addr netip.Addr) (*pool, error) {
	p := nw.poolFor(addr)
	if p == nil {
		return nil, fmt.Errorf("address %s is not in network %s: %w", addr, nw.id, errOutOfRange)
	}
	newly, err := p.reserve(addr, holder)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", nw.id, err)
	}
	if newly {
		x.onUndo(func() { p.release(addr, holder) })
	}
	return p, nil
}

// allocIn hands holder a new address of nw from the first pool of the given
// family (4 or 6; 0 for any) that has one.
func (a *Allocator) allocIn(x *txn, nw *network, holder string, family int) (netip.Addr, *pool, error) {
	for _, p := range nw.pools {
		if family != 0 && familyOf(p) != family {
			continue
		}
		prev := p.last
		addr, err := p.allocate(holder)
		if err != nil {
			continue
		}
		x.onUndo(func() { p.release(addr, holder); p.last = prev })
		return addr, p, nil
	}
	return netip.Addr{}, nil, fmt.Errorf("network %s: %w", nw.id, errNoAddresses)
}

func familyOf(p *pool) int {
	if p.subnet.Addr().Is4() {
		return 4
	}
	return 6
}

// endpointAddrs gives holder its addresses in nw: the wanted ones when
// given (reserved, as on restore or for a static address), else those
// recorded for it already, else new ones: one per address family of nw, or
// only one when single is set. It returns the addresses and their CIDR
// forms.
func (a *Allocator) endpointAddrs(x *txn, nw *network, holder string, want []string, recorded []netip.Addr, single bool) ([]netip.Addr, []string, error) {
	var addrs []netip.Addr
	var strs []string
	add := func(addr netip.Addr, p *pool) {
		if !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
			strs = append(strs, p.cidr(addr))
		}
	}
	switch {
	case len(want) > 0:
		for _, s := range want {
			addr, err := parseAddr(s)
			if err != nil {
				return nil, nil, err
			}
			p, err := a.reserveIn(x, nw, holder, addr)
			if err != nil {
				return nil, nil, err
			}
			add(addr, p)
		}
	case len(recorded) > 0:
		for _, addr := range recorded {
			p, err := a.reserveIn(x, nw, holder, addr)
			if err != nil {
				return nil, nil, err
			}
			add(addr, p)
		}
	case single:
		addr, p, err := a.allocIn(x, nw, holder, 0)
		if err != nil {
			return nil, nil, err
		}
		add(addr, p)
	default:
		var families []int
		for _, p := range nw.pools {
			if f := familyOf(p); !slices.Contains(families, f) {
				families = append(families, f)
			}
		}
		for _, f := range families {
			addr, p, err := a.allocIn(x, nw, holder, f)
			if err != nil {
				return nil, nil, err
			}
			add(addr, p)
		}
	}
	return addrs, strs, nil
}

// replaceHeld makes next the record of holder, releasing every address the
// holder had that next does not list. An empty record is kept only when
// keep is set.
func (a *Allocator) replaceHeld(holder string, next map[string][]netip.Addr, keep bool) {
	for netID, addrs := range a.held[holder] {
		nw := a.networks[netID]
		if nw == nil {
			continue
		}
		for _, addr := range addrs {
			if slices.Contains(next[netID], addr) {
				continue
			}
			if p := nw.poolFor(addr); p != nil {
				p.release(addr, holder)
			}
		}
	}
	if len(next) == 0 && !keep {
		delete(a.held, holder)
		return
	}
	if next == nil {
		next = map[string][]netip.Addr{}
	}
	a.held[holder] = next
}

// ingressID is the ID of the allocated ingress network, or "".
func (a *Allocator) ingressID() string {
	for id, nw := range a.networks {
		if nw.ingress && !nw.local {
			return id
		}
	}
	return ""
}

// vipNetworks lists, in order, the networks on which s needs a virtual IP:
// none in DNS round-robin mode; else the ingress network when s publishes a
// port in ingress mode, then the overlay networks s is attached to. Any of
// those networks not allocated here is an error.
func (a *Allocator) vipNetworks(s *api.Service) ([]string, error) {
	if s.Spec.Endpoint != nil && s.Spec.Endpoint.Mode == api.ResolutionModeDNSRoundRobin {
		return nil, nil
	}
	var ids []string
	if networkallocator.IsIngressNetworkNeeded(s) {
		id := a.ingressID()
		if id == "" {
			return nil, fmt.Errorf("ingress network of service %s: %w", s.ID, errNoSuchNet)
		}
		ids = append(ids, id)
	}
	targets := s.Spec.Task.Networks
	if len(targets) == 0 {
		targets = s.Spec.Networks
	}
	for _, c := range targets {
		if c == nil {
			continue
		}
		nw, ok := a.networks[c.Target]
		if !ok {
			return nil, fmt.Errorf("network %s attached to service %s: %w", c.Target, s.ID, errNoSuchNet)
		}
		if nw.local || slices.Contains(ids, nw.id) {
			continue
		}
		ids = append(ids, nw.id)
	}
	return ids, nil
}

// endpointSpecEqual tells whether two endpoint specs say the same.
func endpointSpecEqual(x, y *api.EndpointSpec) bool {
	if x == nil || y == nil {
		return x == y
	}
	if x.Mode != y.Mode || len(x.Ports) != len(y.Ports) {
		return false
	}
	for i := range x.Ports {
		p, q := x.Ports[i], y.Ports[i]
		if p == nil || q == nil {
			if p != q {
				return false
			}
			continue
		}
		if *p != *q {
			return false
		}
	}
	return true
}

// IsServiceAllocated tells whether s holds exactly one virtual IP, held by
// this allocator, on each network it needs one on, and whether its
// allocated endpoint was made for its current endpoint spec.
func (a *Allocator) IsServiceAllocated(s *api.Service, _ ...func(*networkallocator.ServiceAllocationOpts)) bool {
	if s == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	want, err := a.vipNetworks(s)
	if err != nil {
		return false
	}
	var vips []*api.Endpoint_VirtualIP
	if s.Endpoint != nil {
		if !endpointSpecEqual(s.Endpoint.Spec, s.Spec.Endpoint) {
			return false
		}
		vips = s.Endpoint.VirtualIPs
	}
	if len(vips) != len(want) {
		return false
	}
	rec := a.held[serviceHolder(s.ID)]
	seen := map[string]bool{}
	for _, v := range vips {
		if v == nil || seen[v.NetworkID] || !slices.Contains(want, v.NetworkID) {
			return false
		}
		seen[v.NetworkID] = true
		addr, err := parseAddr(v.Addr)
		if err != nil {
			return false
		}
		if got := rec[v.NetworkID]; len(got) != 1 || got[0] != addr {
			return false
		}
	}
	return true
}

// AllocateService gives s one virtual IP on each network it needs one on
// (see IsServiceAllocated), keeping the ones it has (reserving them when
// restoring) and freeing those on networks it no longer needs. In DNS
// round-robin mode it frees them all. s.Endpoint.Spec becomes a copy of
// s.Spec.Endpoint. On error, s and the allocator are unchanged.
func (a *Allocator) AllocateService(s *api.Service) error {
	if s == nil {
		return errors.New("cannot allocate a nil service")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	want, err := a.vipNetworks(s)
	if err != nil {
		return err
	}
	holder := serviceHolder(s.ID)
	rec := a.held[holder]
	next := map[string][]netip.Addr{}
	var vips []*api.Endpoint_VirtualIP
	var x txn
	give := func(netID, addr string) error {
		addrs, strs, err := a.endpointAddrs(&x, a.networks[netID], holder, nonEmpty(addr), firstOf(rec[netID]), true)
		if err != nil {
			return fmt.Errorf("allocating virtual IP of service %s: %w", s.ID, err)
		}
		next[netID] = addrs[:1]
		vips = append(vips, &api.Endpoint_VirtualIP{NetworkID: netID, Addr: strs[0]})
		return nil
	}
	if s.Endpoint != nil {
		for _, v := range s.Endpoint.VirtualIPs {
			if v == nil || !slices.Contains(want, v.NetworkID) {
				continue
			}
			if _, done := next[v.NetworkID]; done {
				continue
			}
			if err := give(v.NetworkID, v.Addr); err != nil {
				x.rollback()
				return err
			}
		}
	}
	for _, id := range want {
		if _, done := next[id]; done {
			continue
		}
		if err := give(id, ""); err != nil {
			x.rollback()
			return err
		}
	}
	a.replaceHeld(holder, next, false)
	if s.Endpoint == nil {
		s.Endpoint = &api.Endpoint{}
	}
	s.Endpoint.Spec = s.Spec.Endpoint.Copy()
	s.Endpoint.VirtualIPs = vips
	return nil
}

// nonEmpty returns []string{s}, or nil for "".
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// firstOf returns the first element of addrs as a slice, or nil.
func firstOf(addrs []netip.Addr) []netip.Addr {
	if len(addrs) == 0 {
		return nil
	}
	return addrs[:1]
}

// DeallocateService frees the virtual IPs of s and empties
// s.Endpoint.VirtualIPs.
func (a *Allocator) DeallocateService(s *api.Service) error {
	if s == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.replaceHeld(serviceHolder(s.ID), nil, false)
	if s.Endpoint != nil {
		s.Endpoint.VirtualIPs = nil
	}
	return nil
}

// IsTaskAllocated tells whether every overlay attachment of t has
// addresses held for t by this allocator.
func (a *Allocator) IsTaskAllocated(t *api.Task) bool {
	if t == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.held[taskHolder(t.ID)]
	if !ok {
		return false
	}
	for _, na := range t.Networks {
		if na == nil || na.Network == nil {
			return false
		}
		nw, ok := a.networks[na.Network.ID]
		if !ok {
			return false
		}
		if nw.local {
			continue
		}
		if !holdsAll(rec[nw.id], na.Addresses) {
			return false
		}
	}
	return true
}

// holdsAll tells whether addrs is non-empty and every one of them is in
// held.
func holdsAll(held []netip.Addr, addrs []string) bool {
	if len(addrs) == 0 {
		return false
	}
	for _, s := range addrs {
		addr, err := parseAddr(s)
		if err != nil || !slices.Contains(held, addr) {
			return false
		}
	}
	return true
}

// AllocateTask gives t addresses on each overlay network it is attached to:
// addresses already in an attachment (restore, static addresses) are
// reserved, other attachments get one new address per address family.
// Attachments to node-local networks are left alone. On error, t and the
// allocator are unchanged.
func (a *Allocator) AllocateTask(t *api.Task) error {
	if t == nil {
		return errors.New("cannot allocate a nil task")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	holder := taskHolder(t.ID)
	rec := a.held[holder]
	next := map[string][]netip.Addr{}
	results := make([][]string, len(t.Networks))
	var x txn
	for i, na := range t.Networks {
		if na == nil || na.Network == nil {
			x.rollback()
			return fmt.Errorf("task %s has a network attachment without a network", t.ID)
		}
		nw, ok := a.networks[na.Network.ID]
		if !ok {
			x.rollback()
			return fmt.Errorf("network %s attached to task %s: %w", na.Network.ID, t.ID, errNoSuchNet)
		}
		if nw.local {
			continue
		}
		recorded := rec[nw.id]
		if _, again := next[nw.id]; again {
			recorded = nil
		}
		addrs, strs, err := a.endpointAddrs(&x, nw, holder, na.Addresses, recorded, false)
		if err != nil {
			x.rollback()
			return fmt.Errorf("allocating addresses of task %s: %w", t.ID, err)
		}
		next[nw.id] = append(next[nw.id], addrs...)
		results[i] = strs
	}
	a.replaceHeld(holder, next, true)
	for i, strs := range results {
		if strs != nil {
			t.Networks[i].Addresses = strs
		}
	}
	return nil
}

// DeallocateTask frees the addresses of t and empties its overlay
// attachments' address lists.
func (a *Allocator) DeallocateTask(t *api.Task) error {
	if t == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.replaceHeld(taskHolder(t.ID), nil, false)
	for _, na := range t.Networks {
		if na == nil || na.Network == nil {
			continue
		}
		if nw, ok := a.networks[na.Network.ID]; ok && !nw.local {
			na.Addresses = nil
		}
	}
	return nil
}

// AllocateAttachment gives node its load-balancer address on the network of
// na: the one na carries (reserved on restore), the one the node holds
// already, or a new one. Node-local networks need none.
func (a *Allocator) AllocateAttachment(node *api.Node, na *api.NetworkAttachment) error {
	if node == nil || na == nil || na.Network == nil {
		return errors.New("cannot allocate an attachment without a node and a network")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	nw, ok := a.networks[na.Network.ID]
	if !ok {
		return fmt.Errorf("network %s attached to node %s: %w", na.Network.ID, node.ID, errNoSuchNet)
	}
	if nw.local {
		return nil
	}
	holder := nodeHolder(node.ID)
	rec := a.held[holder]
	var x txn
	addrs, strs, err := a.endpointAddrs(&x, nw, holder, na.Addresses, rec[nw.id], false)
	if err != nil {
		x.rollback()
		return fmt.Errorf("allocating load-balancer address of node %s: %w", node.ID, err)
	}
	next := maps.Clone(rec)
	if next == nil {
		next = map[string][]netip.Addr{}
	}
	next[nw.id] = addrs
	a.replaceHeld(holder, next, false)
	na.Addresses = strs
	return nil
}

// DeallocateAttachment frees node's load-balancer address on the network
// of na and empties na.Addresses.
func (a *Allocator) DeallocateAttachment(node *api.Node, na *api.NetworkAttachment) error {
	if node == nil || na == nil || na.Network == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	holder := nodeHolder(node.ID)
	rec, ok := a.held[holder]
	if !ok {
		return nil
	}
	next := maps.Clone(rec)
	delete(next, na.Network.ID)
	a.replaceHeld(holder, next, false)
	if nw, ok := a.networks[na.Network.ID]; ok && !nw.local {
		na.Addresses = nil
	}
	return nil
}

// IsAttachmentAllocated tells whether na's addresses are node's
// load-balancer addresses on that network (always true for node-local
// networks).
func (a *Allocator) IsAttachmentAllocated(node *api.Node, na *api.NetworkAttachment) bool {
	if node == nil || na == nil || na.Network == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	nw, ok := a.networks[na.Network.ID]
	if !ok {
		return false
	}
	if nw.local {
		return true
	}
	return holdsAll(a.held[nodeHolder(node.ID)][nw.id], na.Addresses)
}
