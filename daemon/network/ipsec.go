package network

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Encrypted overlays (`network create -d overlay --opt encrypted`): the
// VXLAN packets of such a network leave this node in IPsec ESP, transport
// mode, AES-128-CBC with HMAC-SHA256-128 (Docker uses AES-GCM, which
// kernels without the gcm module — this machine kind's — lack; CBC with
// an HMAC is in every kernel, and both ends must agree). An nftables route chain marks
// outgoing VXLAN packets of the encrypted VNIs; an xfrm policy per peer
// node sends marked packets through an ESP state. Each direction between
// two nodes has its own key and SPI, derived (HMAC-SHA256) from the
// swarm's IPsec key that the managers hand out and rotate, so both ends
// compute the same states without talking. Inbound states exist for
// every key the managers still list; outbound uses the primary (the
// second newest, as gossip does), so a rotation never cuts traffic.

// OverlayOptEncrypted is the network option that asks for encryption.
const OverlayOptEncrypted = "encrypted"

const (
	ipsecReqID = 0xb3e7   // marks berth's xfrm states and policies
	ipsecMark  = 0xd0c4e3 // packet mark of VXLAN traffic to encrypt (Docker's value)
	ipsecCrypt = "cbc(aes)"
	ipsecAuth  = "hmac(sha256)"
)

func encrypted(n *Network) bool {
	_, ok := n.Options[OverlayOptEncrypted]
	return ok
}

// ipsecSA is one direction's state between two nodes.
type ipsecSA struct {
	src, dst netip.Addr
	spi      uint32
	encKey   []byte // AES-128
	authKey  []byte // HMAC-SHA256
}

// deriveSA is the state for src → dst under one swarm key.
func deriveSA(key []byte, src, dst netip.Addr) ipsecSA {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("berth-ipsec-key\x00"))
	mac.Write(src.AsSlice())
	mac.Write(dst.AsSlice())
	enc := mac.Sum(nil)[:16]
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte("berth-ipsec-auth\x00"))
	mac.Write(src.AsSlice())
	mac.Write(dst.AsSlice())
	auth := mac.Sum(nil)
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte("berth-ipsec-spi\x00"))
	mac.Write(src.AsSlice())
	mac.Write(dst.AsSlice())
	spi := binary.BigEndian.Uint32(mac.Sum(nil)[:4])&0x7fffffff | 0x1000
	return ipsecSA{src: src, dst: dst, spi: spi, encKey: enc, authKey: auth}
}

// desiredSAs is every state this node needs with its peers: inbound
// under every key, outbound under the primary.
func desiredSAs(keys [][]byte, local netip.Addr, peers []netip.Addr) []ipsecSA {
	if len(keys) == 0 || !local.IsValid() {
		return nil
	}
	prim := keys[len(keys)-1]
	if len(keys) >= 2 {
		prim = keys[len(keys)-2]
	}
	var out []ipsecSA
	for _, p := range peers {
		if p == local {
			continue
		}
		out = append(out, deriveSA(prim, local, p))
		for _, k := range keys {
			out = append(out, deriveSA(k, p, local))
		}
	}
	return out
}

func (sa ipsecSA) state() *netlink.XfrmState {
	return &netlink.XfrmState{
		Src: sa.src.AsSlice(), Dst: sa.dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT,
		Spi: int(sa.spi), Reqid: ipsecReqID, ReplayWindow: 64,
		Crypt: &netlink.XfrmStateAlgo{Name: ipsecCrypt, Key: sa.encKey},
		Auth:  &netlink.XfrmStateAlgo{Name: ipsecAuth, Key: sa.authKey, TruncateLen: 128},
	}
}

func outPolicy(local, peer netip.Addr, port int) *netlink.XfrmPolicy {
	return &netlink.XfrmPolicy{
		Src: &net.IPNet{IP: local.AsSlice(), Mask: net.CIDRMask(32, 32)}, Dst: &net.IPNet{IP: peer.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Proto: unix.IPPROTO_UDP, DstPort: port, Dir: netlink.XFRM_DIR_OUT,
		Mark:  &netlink.XfrmMark{Value: ipsecMark, Mask: 0xffffffff},
		Tmpls: []netlink.XfrmPolicyTmpl{{Src: local.AsSlice(), Dst: peer.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT, Reqid: ipsecReqID}},
	}
}

// programIPsecLocked makes the xfrm states and policies those the
// encrypted networks here need (none: all of berth's go).
func (p *vxlanPlane) programIPsecLocked(nets []*Network) error {
	var peers []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, n := range nets {
		if !encrypted(n) {
			continue
		}
		for _, peer := range p.peers[n.ID] {
			if !seen[peer.VTEP] && peer.VTEP != p.under.Addr {
				seen[peer.VTEP] = true
				peers = append(peers, peer.VTEP)
			}
		}
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Less(peers[j]) })
	want := desiredSAs(p.ipsecKeys, p.under.Addr, peers)
	wantSPI := map[uint32]ipsecSA{}
	for _, sa := range want {
		wantSPI[sa.spi] = sa
	}
	var errs []error
	states, _ := netlink.XfrmStateList(netlink.FAMILY_V4)
	have := map[uint32]bool{}
	for _, s := range states {
		if s.Reqid != ipsecReqID {
			continue
		}
		if sa, ok := wantSPI[uint32(s.Spi)]; ok && s.Src.Equal(sa.src.AsSlice()) && s.Dst.Equal(sa.dst.AsSlice()) {
			have[uint32(s.Spi)] = true
			continue
		}
		s := s
		_ = netlink.XfrmStateDel(&s)
	}
	for _, sa := range want {
		if have[sa.spi] {
			continue
		}
		if err := netlink.XfrmStateAdd(sa.state()); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("ipsec state %s → %s: %w", sa.src, sa.dst, err))
		}
	}
	policies, _ := netlink.XfrmPolicyList(netlink.FAMILY_V4)
	wantPol := map[netip.Addr]bool{}
	if len(want) > 0 {
		for _, peer := range peers {
			wantPol[peer] = true
		}
	}
	for _, pol := range policies {
		if len(pol.Tmpls) != 1 || pol.Tmpls[0].Reqid != ipsecReqID {
			continue
		}
		dst, _ := netip.AddrFromSlice(pol.Dst.IP.To4())
		src, _ := netip.AddrFromSlice(pol.Src.IP.To4())
		if wantPol[dst] && src == p.under.Addr && pol.DstPort == p.under.Port {
			delete(wantPol, dst)
			continue
		}
		pol := pol
		_ = netlink.XfrmPolicyDel(&pol)
	}
	for peer := range wantPol {
		if err := netlink.XfrmPolicyUpdate(outPolicy(p.under.Addr, peer, p.under.Port)); err != nil {
			errs = append(errs, fmt.Errorf("ipsec policy to %s: %w", peer, err))
		}
	}
	return errors.Join(errs...)
}

// encryptRules is the route chain that marks the VXLAN packets of the
// encrypted networks here (their VNI sits at byte 12 of the UDP payload
// counted from the UDP header).
func encryptRules(port int, vnis []int) *chainRules {
	if len(vnis) == 0 {
		return nil
	}
	mangle := nftables.ChainPriorityMangle
	c := &chainRules{name: "encrypt", base: &nftables.Chain{Type: nftables.ChainTypeRoute, Hooknum: nftables.ChainHookOutput, Priority: mangle}}
	for _, v := range vnis {
		vni := []byte{byte(v >> 16), byte(v >> 8), byte(v)}
		c.rules = append(c.rules, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(port))},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 12, Len: 3},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: vni},
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(ipsecMark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		})
	}
	return c
}

// IPsecSupported tells whether this kernel can do the ESP states
// encrypted overlays need: it adds a state between two documentation
// addresses and removes it again.
func IPsecSupported() error {
	sa := deriveSA([]byte("berth-ipsec-probe"), netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("198.51.100.254"))
	st := sa.state()
	st.Reqid = 0
	if err := netlink.XfrmStateAdd(st); err != nil {
		return fmt.Errorf("this host's kernel cannot do IPsec ESP with %s and %s (%v): the esp4 module is missing", ipsecCrypt, ipsecAuth, err)
	}
	_ = netlink.XfrmStateDel(st)
	return nil
}
