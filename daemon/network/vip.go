package network

import (
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// A service's virtual IP balances inside each client's own network
// namespace, as Docker does with IPVS (absent here): a table of the
// sandbox's own DNATs, in its output hook, the connection to a VIP to one
// of the service's tasks (numgen round-robin), with no SNAT, so the task
// sees the client's real address. The table is written whole whenever
// the VIPs of the sandbox's networks change.

// VIP is a service's virtual IP on one network and the tasks behind it.
type VIP struct {
	Addr     netip.Addr
	Backends []netip.Addr
}

const vipTable = "berth-vip"

// vipsForLocked is what sb's namespace table should hold: the VIPs of
// every network it has an endpoint on.
func (m *Manager) vipsForLocked(sb *Sandbox) []VIP {
	var out []VIP
	for _, ep := range sb.Endpoints {
		out = append(out, m.meshVIPs[ep.NetworkID]...)
	}
	slices.SortFunc(out, func(a, b VIP) int { return a.Addr.Compare(b.Addr) })
	return out
}

// applyVIPsLocked rewrites the VIP table of every sandbox whose VIPs
// changed since it was last written.
func (m *Manager) applyVIPsLocked() {
	for id, sb := range m.sandboxes {
		want := m.vipsForLocked(sb)
		if slices.EqualFunc(want, m.vipWritten[id], vipEqual) {
			continue
		}
		if err := writeVIPTable(sb.NetNS, want); err != nil {
			m.log.Warn("service VIPs in container namespace", "container", id, "err", err)
			continue
		}
		m.vipWritten[id] = want
	}
	for id := range m.vipWritten {
		if m.sandboxes[id] == nil {
			delete(m.vipWritten, id)
		}
	}
}

func vipEqual(a, b VIP) bool {
	return a.Addr == b.Addr && slices.Equal(a.Backends, b.Backends)
}

// writeVIPTable replaces the VIP table in the namespace at netns.
func writeVIPTable(netns string, vips []VIP) error {
	f, err := os.Open(netns)
	if err != nil {
		return err
	}
	defer f.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", netns, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: vipTable}
	conn.AddTable(t)
	conn.DelTable(t)
	if len(vips) > 0 {
		conn.AddTable(t)
		ch := conn.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
		for _, v := range vips {
			if len(v.Backends) == 0 {
				continue
			}
			set := &nftables.Set{Table: t, Anonymous: true, Constant: true, IsMap: true, KeyType: nftables.TypeInteger, DataType: nftables.TypeIPAddr}
			var elems []nftables.SetElement
			for i, b := range v.Backends {
				a := b.As4()
				elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: a[:]})
			}
			if err := conn.AddSet(set, elems); err != nil {
				return err
			}
			vip := v.Addr.As4()
			conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: vip[:]},
				&expr.Numgen{Register: 1, Modulus: uint32(len(v.Backends)), Type: unix.NFT_NG_INCREMENTAL},
				&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
			}})
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("write %s table: %w", vipTable, err)
	}
	return nil
}
