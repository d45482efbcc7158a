package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// defaultPools are the address pools new bridge networks take their subnet
// from, in order, as Docker's default-address-pools do: 172.17–31.0.0/16,
// then 192.168.0.0/16 cut into /20s.
func defaultPools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// pickSubnet returns the first pool that overlaps none of used (the host's
// routes and the subnets of existing networks).
func pickSubnet(pools, used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		free := true
		for _, u := range used {
			if p.Overlaps(u) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// firstHost is the first usable address of p (the network address + 1).
func firstHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// broadcast is the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// allocator hands out the addresses of one network. It is pure state: the
// manager rebuilds it from the persisted endpoints at start, so an address
// is never handed out twice and is free again once its endpoint is gone.
type allocator struct {
	subnet netip.Prefix
	pool   netip.Prefix // ip-range, or the subnet
	used   map[netip.Addr]string
	last   netip.Addr // round robin: the next search starts after it
}

func newAllocator(subnet, ipRange netip.Prefix, gateway netip.Addr) *allocator {
	if !ipRange.IsValid() {
		ipRange = subnet
	}
	a := &allocator{subnet: subnet.Masked(), pool: ipRange.Masked(), used: map[netip.Addr]string{}}
	if gateway.IsValid() {
		a.used[gateway] = "gateway"
	}
	return a
}

// reserve marks ip as used by owner; it fails when another owner holds it
// or ip is not a host address of the subnet.
func (a *allocator) reserve(ip netip.Addr, owner string) error {
	if !a.subnet.Contains(ip) || ip == a.subnet.Addr() || ip == broadcast(a.subnet) {
		return fmt.Errorf("no available IPv4 address on this network's address pools: %s is not a usable address of %s", ip, a.subnet)
	}
	if o, ok := a.used[ip]; ok && o != owner {
		return fmt.Errorf("Address already in use: %s", ip)
	}
	a.used[ip] = owner
	return nil
}

// next allocates the next free address of the pool for owner.
func (a *allocator) next(owner string) (netip.Addr, error) {
	start := a.last
	if !start.IsValid() || !a.pool.Contains(start) {
		start = a.pool.Addr()
	}
	ip := start.Next()
	end := broadcast(a.pool)
	for wrapped := false; ; ip = ip.Next() {
		if !a.pool.Contains(ip) || ip == end {
			if wrapped {
				break
			}
			wrapped = true
			ip = a.pool.Addr()
			continue
		}
		if ip == a.subnet.Addr() || ip == broadcast(a.subnet) {
			continue
		}
		if _, ok := a.used[ip]; !ok {
			a.used[ip] = owner
			a.last = ip
			return ip, nil
		}
		if ip == start && wrapped {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("no available IPv4 addresses on network %s", a.subnet)
}

// release frees ip if owner holds it.
func (a *allocator) release(ip netip.Addr, owner string) {
	if a.used[ip] == owner {
		delete(a.used, ip)
	}
}
