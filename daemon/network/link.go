package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// createNetNS makes a new network namespace and bind-mounts it at path, so
// it lives on without a process in it.
func createNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread is locked and never unlocked: when this goroutine
		// ends, Go ends the thread, so no goroutine ever runs in the new
		// namespace by accident.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount netns: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// removeNetNS unmounts and removes a namespace made by createNetNS. A
// missing one is not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}

func notBridge(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("interface %s exists and is not a bridge", name))
}

// checkBridgeName refuses a bridge name that an existing link other than a
// bridge (lo, eth0, a veth) already has: creating the network would fail,
// and cleaning up after it would delete that link.
func checkBridgeName(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("look up bridge %s: %w", name, err)
	}
	if l.Type() != "bridge" {
		return notBridge(name)
	}
	return nil
}

// ensureBridge creates (or adopts) the bridge name with gateway/bits as its
// address and brings it up.
func ensureBridge(name string, gw netip.Addr, bits, mtu int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		if mtu > 0 {
			attrs.MTU = mtu
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
	} else if l.Type() != "bridge" {
		return notBridge(name)
	}
	// A bridge whose address was never set takes the lowest MAC of its
	// ports, so it would change whenever a container comes or goes — and
	// containers' cached ARP entry for the gateway (DNS, egress) would go
	// stale. A set address stays: derive one from the gateway, as
	// containers' addresses are derived from theirs.
	if err := netlink.LinkSetHardwareAddr(l, macFor(gw)); err != nil {
		return fmt.Errorf("set the MAC address of bridge %s: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("address %s on bridge %s: %w", gw, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", name, err)
	}
	// Published ports answer on 127.0.0.1: DNAT'ed loopback traffic must be
	// allowed out of the bridge (it is masqueraded on the way).
	return sysctl("net/ipv4/conf/"+name+"/route_localnet", "1")
}

// deleteLink removes an interface; a missing one is not an error.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// macFor derives an endpoint's MAC address from its IPv4 address, as
// Docker does (02:42 followed by the address).
func macFor(ip netip.Addr) net.HardwareAddr {
	a := ip.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

// plugVeth creates a veth pair: hostName on bridge, its peer ifName inside
// the namespace at nsPath with ip/bits, and a default route via gw when
// route is set.
func plugVeth(nsPath, bridge, hostName, ifName string, ip netip.Addr, bits int, gw netip.Addr, route bool, mtu int) (retErr error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("look up bridge %s: %w", bridge, err)
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer ns.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	attrs.MasterIndex = br.Attrs().Index
	if mtu > 0 {
		attrs.MTU = mtu
	}
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: ifName, PeerHardwareAddr: macFor(ip), PeerNamespace: netlink.NsFd(int(ns))}
	if mtu > 0 {
		veth.PeerMTU = uint32(mtu)
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", hostName, err)
	}
	defer func() {
		if retErr != nil {
			_ = deleteLink(hostName)
		}
	}()
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		return fmt.Errorf("look up veth %s: %w", hostName, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring up %s: %w", hostName, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in container netns: %w", err)
	}
	defer h.Close()
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("bring up lo: %w", err)
		}
	}
	l, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("look up %s in container: %w", ifName, err)
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, 32)}}); err != nil {
		return fmt.Errorf("address %s on %s: %w", ip, ifName, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %s: %w", ifName, err)
	}
	if route {
		if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
			return fmt.Errorf("default route via %s: %w", gw, err)
		}
	}
	return nil
}

// upNetNSLoopback brings lo up in a namespace that has no endpoint.
func upNetNSLoopback(nsPath string) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// hostRoutes lists the IPv4 destinations routed on the host (the default
// route excluded), which a new network's subnet must not overlap.
func hostRoutes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok || ones == 0 {
			continue
		}
		out = append(out, netip.PrefixFrom(a, ones))
	}
	return out, nil
}

// bridgePorts lists the names of the interfaces enslaved to bridge.
func bridgePorts(bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}
