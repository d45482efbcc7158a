package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The machines of one store share a host bridge (their "LAN") with a
// subnet of their own, docker-machine's 192.168.99.0/24 unless a host
// route already covers it, and an nftables table that NATs their egress.
// Both are named after the store (two stores never share them) and go
// away with the store's last machine.
//
//	table ip bm-<store hash>
//	  chain postrouting (nat, srcnat)  ip saddr <subnet> oifname != bridge masquerade
//	  chain forward     (filter, -1)   iifname bridge accept; oifname bridge accept

// lan is the store's machine network, saved as <store>/network.json.
type lan struct {
	Bridge  string       `json:"Bridge"`
	Subnet  netip.Prefix `json:"Subnet"`
	Gateway netip.Addr   `json:"Gateway"`
}

// storeID names what the store makes on the host.
func storeID(root string) string {
	h := sha256.Sum256([]byte(root))
	return hex.EncodeToString(h[:])[:8]
}

func (d *Driver) lanFile() string { return filepath.Join(d.store, "network.json") }

// candidates are the subnets tried for a new store's LAN, in order.
var candidates = func() []netip.Prefix {
	var out []netip.Prefix
	for third := 99; third < 200; third++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(third), 0}), 24))
	}
	return out
}()

// loadLAN reads the store's LAN, or picks one that no host route or
// address covers (not yet made: ensureLAN makes it).
func (d *Driver) loadLAN() (*lan, error) {
	if b, err := os.ReadFile(d.lanFile()); err == nil {
		l := &lan{}
		if err := json.Unmarshal(b, l); err != nil {
			return nil, fmt.Errorf("read %s: %w", d.lanFile(), err)
		}
		return l, nil
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	for _, c := range candidates {
		if overlapsRoute(c, routes) {
			continue
		}
		l := &lan{Bridge: "bm-" + storeID(d.store), Subnet: c, Gateway: c.Addr().Next()}
		b, _ := json.Marshal(l)
		if err := os.WriteFile(d.lanFile(), b, 0o600); err != nil {
			return nil, fmt.Errorf("save machine network: %w", err)
		}
		return l, nil
	}
	return nil, errors.New("no free subnet for the machine network: every 192.168.99-199.0/24 is used by a host route")
}

func overlapsRoute(p netip.Prefix, routes []netlink.Route) bool {
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route covers everything: not a conflict
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 {
			continue // a default route
		}
		if netip.PrefixFrom(a, ones).Masked().Overlaps(p) {
			return true
		}
	}
	return false
}

// ensureLAN makes the bridge and the NAT table if they are missing.
func (d *Driver) ensureLAN(l *lan) error {
	if _, err := netlink.LinkByName(l.Bridge); err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.Bridge}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create machine bridge %s: %w", l.Bridge, err)
		}
		link, err := netlink.LinkByName(l.Bridge)
		if err != nil {
			return fmt.Errorf("machine bridge %s: %w", l.Bridge, err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: l.Gateway.AsSlice(), Mask: net.CIDRMask(l.Subnet.Bits(), 32)}}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("address machine bridge %s: %w", l.Bridge, err)
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring up machine bridge %s: %w", l.Bridge, err)
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable IP forwarding: %w", err)
	}
	return writeNAT(l)
}

// writeNAT (re)writes the store's table in one transaction.
func writeNAT(l *lan) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: l.Bridge}
	c.AddTable(t)
	c.DelTable(t)
	t = c.AddTable(t)
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	mask := net.CIDRMask(l.Subnet.Bits(), 32)
	sub := l.Subnet.Masked().Addr().As4()
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: sub[:]},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(l.Bridge)},
		&expr.Masq{},
	}})
	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 1), Policy: &accept})
	for _, k := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
			&expr.Meta{Key: k, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(l.Bridge)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("write machine network rules: %w", err)
	}
	return nil
}

// removeLAN deletes the bridge, the table and network.json.
func (d *Driver) removeLAN() error {
	b, err := os.ReadFile(d.lanFile())
	if os.IsNotExist(err) {
		return nil
	}
	l := &lan{}
	if err := json.Unmarshal(b, l); err != nil {
		return fmt.Errorf("read %s: %w", d.lanFile(), err)
	}
	var errs []error
	if link, err := netlink.LinkByName(l.Bridge); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("remove machine bridge: %w", err))
		}
	}
	if c, err := nftables.New(); err == nil {
		t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: l.Bridge}
		c.AddTable(t)
		c.DelTable(t)
		if err := c.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("remove machine network rules: %w", err))
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(d.lanFile())
	}
	return errors.Join(errs...)
}

func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s+"\x00")
	return b
}

// plugNode gives the node (network namespace of pid) its eth0 on the
// LAN: a veth whose host end, hostIf, is on the bridge.
func plugNode(l *lan, pid int, hostIf string, ip netip.Addr) error {
	br, err := netlink.LinkByName(l.Bridge)
	if err != nil {
		return fmt.Errorf("machine bridge %s: %w", l.Bridge, err)
	}
	if old, err := netlink.LinkByName(hostIf); err == nil {
		_ = netlink.LinkDel(old)
	}
	peer := hostIf + "p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostIf, MasterIndex: br.Attrs().Index}, PeerName: peer, PeerHardwareAddr: macFor(ip)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create %s: %w", hostIf, err)
	}
	host, err := netlink.LinkByName(hostIf)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring up %s: %w", hostIf, err)
	}
	p, err := netlink.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsPid(p, pid); err != nil {
		_ = netlink.LinkDel(host)
		return fmt.Errorf("move %s into the node: %w", peer, err)
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("node network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("node network namespace: %w", err)
	}
	defer h.Close()
	in, err := h.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := h.LinkSetName(in, "eth0"); err != nil {
		return fmt.Errorf("name the node's eth0: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(l.Subnet.Bits(), 32)}}
	if err := h.AddrAdd(in, addr); err != nil {
		return fmt.Errorf("address the node's eth0: %w", err)
	}
	for _, name := range []string{"lo", "eth0"} {
		link, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		if err := h.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring up the node's %s: %w", name, err)
		}
	}
	if err := h.RouteAdd(&netlink.Route{Gw: l.Gateway.AsSlice()}); err != nil {
		return fmt.Errorf("the node's default route: %w", err)
	}
	return nil
}

// macFor is a stable MAC for the node's address (neighbours' caches stay
// right across a restart).
func macFor(ip netip.Addr) net.HardwareAddr {
	a := ip.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}
