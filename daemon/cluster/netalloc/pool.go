package netalloc

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// Errors in the words Docker's IPAM uses.
var (
	errNoAddresses = errors.New("no available addresses on this pool")
	errAddrInUse   = errors.New("Address already in use") //nolint:staticcheck // Docker's exact words.
	errOutOfRange  = errors.New("requested address is out of range")
	errPoolOverlap = errors.New("Pool overlaps with other one on this address space") //nolint:staticcheck // Docker's exact words.
	errPoolsSpent  = errors.New("all predefined address pools have been fully subnetted")
	errNoSuchNet   = errors.New("network is not allocated")
)

// pool is the address space of one subnet of a network. Addresses are
// handed out serially from span: each allocation takes the first free
// address after the previous one, wrapping at the end, so an address that
// was just released is the last to be handed out again.
type pool struct {
	subnet  netip.Prefix
	span    netip.Prefix // where addresses are allocated: the range, or the subnet
	gateway netip.Addr

	owners map[netip.Addr]string // held addresses and who holds each
	inSpan uint64                // how many held addresses lie in span
	last   netip.Addr            // the address handed out last
}

// newPool returns the pool of subnet, with gateway (invalid: the first
// usable address) and allocation range rng (invalid: the whole subnet).
func newPool(subnet netip.Prefix, gateway netip.Addr, rng netip.Prefix) (*pool, error) {
	subnet = subnet.Masked()
	if !rng.IsValid() {
		rng = subnet
	}
	rng = rng.Masked()
	if rng.Addr().BitLen() != subnet.Addr().BitLen() || rng.Bits() < subnet.Bits() || !subnet.Contains(rng.Addr()) {
		return nil, fmt.Errorf("subnet %s does not contain range %s", subnet, rng)
	}
	p := &pool{subnet: subnet, span: rng, owners: make(map[netip.Addr]string)}
	if gateway.IsValid() {
		gateway = gateway.Unmap()
		if !subnet.Contains(gateway) {
			return nil, fmt.Errorf("subnet %s does not contain gateway %s", subnet, gateway)
		}
		if p.boundary(gateway) {
			return nil, fmt.Errorf("gateway %s is not a usable address of subnet %s", gateway, subnet)
		}
		p.gateway = gateway
		return p, nil
	}
	first := subnet.Addr().Next()
	if !first.IsValid() || !subnet.Contains(first) || p.boundary(first) {
		return nil, fmt.Errorf("subnet %s has no usable address for a gateway", subnet)
	}
	p.gateway = first
	return p, nil
}

// boundary tells whether a is the subnet's network address or, for IPv4,
// its broadcast address: neither is ever handed out.
func (p *pool) boundary(a netip.Addr) bool {
	if a == p.subnet.Addr() {
		return true
	}
	return a.Is4() && a == lastAddr(p.subnet)
}

// usable tells whether a may be held by an endpoint at all.
func (p *pool) usable(a netip.Addr) bool {
	return p.subnet.Contains(a) && !p.boundary(a) && a != p.gateway
}

// capacity is how many addresses of span can be handed out.
func (p *pool) capacity() uint64 {
	host := p.span.Addr().BitLen() - p.span.Bits()
	if host >= 63 {
		return math.MaxUint64
	}
	n := uint64(1) << host
	seen := map[netip.Addr]bool{}
	for _, a := range []netip.Addr{p.subnet.Addr(), lastAddr(p.subnet), p.gateway} {
		if !seen[a] && p.span.Contains(a) && !p.usable(a) {
			seen[a] = true
			n--
		}
	}
	return n
}

func (p *pool) hold(a netip.Addr, owner string) {
	p.owners[a] = owner
	if p.span.Contains(a) {
		p.inSpan++
	}
}

// release frees a if owner holds it.
func (p *pool) release(a netip.Addr, owner string) {
	if got, ok := p.owners[a]; !ok || got != owner {
		return
	}
	delete(p.owners, a)
	if p.span.Contains(a) {
		p.inSpan--
	}
}

// reserve makes owner hold a. It reports whether a was newly taken (false
// when owner held it already).
func (p *pool) reserve(a netip.Addr, owner string) (bool, error) {
	if !p.subnet.Contains(a) || p.boundary(a) {
		return false, fmt.Errorf("%s: %w", a, errOutOfRange)
	}
	if a == p.gateway {
		return false, fmt.Errorf("%s: %w", a, errAddrInUse)
	}
	if got, ok := p.owners[a]; ok {
		if got == owner {
			return false, nil
		}
		return false, fmt.Errorf("%s: %w", a, errAddrInUse)
	}
	p.hold(a, owner)
	return true, nil
}

// allocate hands owner the next free address after the last one handed out.
func (p *pool) allocate(owner string) (netip.Addr, error) {
	if p.inSpan >= p.capacity() {
		return netip.Addr{}, errNoAddresses
	}
	start := p.last
	if !start.IsValid() || !p.span.Contains(start) {
		start = lastAddr(p.span) // so that the first candidate is the span's first address
	}
	a := start
	for {
		a = a.Next()
		if !a.IsValid() || !p.span.Contains(a) {
			a = p.span.Addr()
		}
		if _, held := p.owners[a]; !held && p.usable(a) {
			p.hold(a, owner)
			p.last = a
			return a, nil
		}
		if a == start {
			return netip.Addr{}, errNoAddresses
		}
	}
}

// cidr renders a as an address with the subnet's prefix length, the form
// SwarmKit keeps in VirtualIPs and attachments ("10.0.1.5/24").
func (p *pool) cidr(a netip.Addr) string {
	return netip.PrefixFrom(a, p.subnet.Bits()).String()
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := range b {
		lo := i * 8
		switch {
		case lo+8 <= p.Bits():
		case lo >= p.Bits():
			b[i] = 0xff
		default:
			b[i] |= 0xff >> (p.Bits() - lo)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// parseAddr reads an address as SwarmKit stores it, with or without a
// prefix length.
func parseAddr(s string) (netip.Addr, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid address %q", s)
	}
	return a.Unmap(), nil
}
