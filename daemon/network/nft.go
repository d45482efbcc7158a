package network

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The daemon's packet filtering lives in one nftables table of its own
// (family ip, named after the daemon's default bridge so that two daemons
// never touch each other's rules). The table is always written whole in a
// single netlink transaction — delete and re-create — so the kernel never
// sees a half-written ruleset and a restart can never duplicate a rule.
//
//	chain prerouting  (nat, dstnat)  fib daddr type local jump ports
//	chain output      (nat, -100)    fib daddr type local jump ports
//	chain ports                      one DNAT rule per published port
//	chain postrouting (nat, srcnat)  masquerade egress, hairpin and localhost
//	chain forward     (filter, 0)    isolation between networks, --internal

// ruleState is what the ruleset is made from.
type ruleState struct {
	networks []ruleNetwork
	ports    []PortMapping
	mesh     []ServicePort // the swarm's ingress ports (mesh.go)
	lb       []lbSNAT      // mesh connections leave the ingress bridge from the node's LB address (vxlan.go)
	// encryptVNIs are the VXLAN identifiers whose packets to port
	// encryptPort go out in IPsec (ipsec.go).
	encryptPort int
	encryptVNIs []int
}

type ruleNetwork struct {
	bridge   string
	subnet   netip.Prefix
	internal bool
}

func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s+"\x00")
	return b
}

func matchIIF(name string, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

func matchOIF(name string, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

// matchAddr matches the source (offset 12) or destination (16) address
// against a prefix.
func matchAddr(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	mask := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	a := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

func matchLocal(daddr bool) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: daddr, FlagSADDR: !daddr, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func matchCtDNAT() []expr.Any {
	const ipsDstNat = 0x20
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNat), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func protoNum(proto string) byte {
	switch proto {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// dnatRule is one published port: [ip daddr H] l4proto P th dport N dnat to C:M.
func dnatRule(pm PortMapping) []expr.Any {
	var e []expr.Any
	if pm.HostIP.IsValid() && !pm.HostIP.IsUnspecified() {
		e = append(e, matchAddr(16, netip.PrefixFrom(pm.HostIP, 32))...)
	}
	cip := pm.ContainerIP.As4()
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNum(pm.Proto)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(pm.HostPort)},
		&expr.Immediate{Register: 1, Data: cip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(pm.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return e
}

func verdict(k expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: k} }

// chainRules is the ruleset as chain name → rules, in order.
type chainRules struct {
	name  string
	base  *nftables.Chain // nil for a regular chain
	rules [][]expr.Any
}

// buildRules turns the state into chains and rules. It is pure, so tests
// can check what a state produces without a kernel.
func buildRules(st ruleState) []chainRules {
	accept := nftables.ChainPolicyAccept
	pre := chainRules{name: "prerouting", base: &nftables.Chain{Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest}}
	out := chainRules{name: "output", base: &nftables.Chain{Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest}}
	ports := chainRules{name: "ports"}
	post := chainRules{name: "postrouting", base: &nftables.Chain{Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}}
	fwd := chainRules{name: "forward", base: &nftables.Chain{Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}}

	jumpPorts := append(matchLocal(true), &expr.Verdict{Kind: expr.VerdictJump, Chain: "ports"})
	pre.rules = append(pre.rules, jumpPorts)
	out.rules = append(out.rules, append(matchLocal(true), &expr.Verdict{Kind: expr.VerdictJump, Chain: "ports"}))
	for _, pm := range st.ports {
		if pm.HostIP.Is6() {
			continue // relayed by proxy6, not NATed
		}
		ports.rules = append(ports.rules, dnatRule(pm))
	}
	for _, l := range st.lb {
		a := l.addr.As4()
		r := append(matchOIF(l.bridge, expr.CmpOpEq), matchCtDNAT()...)
		post.rules = append(post.rules, append(r,
			&expr.Immediate{Register: 1, Data: a[:]},
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}))
	}
	for _, n := range st.networks {
		if !n.internal {
			// Egress: traffic from the subnet leaving by another interface.
			r := append(matchAddr(12, n.subnet), matchOIF(n.bridge, expr.CmpOpNeq)...)
			post.rules = append(post.rules, append(r, &expr.Masq{}))
		}
		// Hairpin: a container reaching a published port of its own network.
		r := append(matchOIF(n.bridge, expr.CmpOpEq), matchAddr(12, n.subnet)...)
		r = append(r, matchCtDNAT()...)
		post.rules = append(post.rules, append(r, &expr.Masq{}))
		// The host (localhost included) reaching a published port.
		r = append(matchOIF(n.bridge, expr.CmpOpEq), matchLocal(false)...)
		r = append(r, matchCtDNAT()...)
		post.rules = append(post.rules, append(r, &expr.Masq{}))

	}
	// Forwarding: --internal networks talk to nothing but themselves;
	// published ports are reachable from every network (as they are from
	// outside); otherwise networks cannot reach each other.
	for _, n := range st.networks {
		if n.internal {
			fwd.rules = append(fwd.rules,
				append(append(matchIIF(n.bridge, expr.CmpOpEq), matchOIF(n.bridge, expr.CmpOpNeq)...), verdict(expr.VerdictDrop)),
				append(append(matchOIF(n.bridge, expr.CmpOpEq), matchIIF(n.bridge, expr.CmpOpNeq)...), verdict(expr.VerdictDrop)))
		}
	}
	if len(st.networks) > 1 {
		fwd.rules = append(fwd.rules, append(matchCtDNAT(), verdict(expr.VerdictAccept)))
	}
	for _, n := range st.networks {
		for _, o := range st.networks {
			if o.bridge == n.bridge {
				continue
			}
			fwd.rules = append(fwd.rules, append(append(matchIIF(n.bridge, expr.CmpOpEq), matchOIF(o.bridge, expr.CmpOpEq)...), verdict(expr.VerdictDrop)))
		}
	}
	chains := []chainRules{pre, out, ports, post, fwd}
	if enc := encryptRules(st.encryptPort, st.encryptVNIs); enc != nil {
		chains = append(chains, *enc)
	}
	return chains
}

// applyRules replaces the table with the ruleset of st in one transaction.
// With no networks the table is removed.
func applyRules(conn *nftables.Conn, table string, st ruleState) error {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}
	conn.AddTable(t) // so the delete below never fails on a missing table
	conn.DelTable(t)
	if len(st.networks) > 0 {
		conn.AddTable(t)
		chains := buildRules(st)
		// Regular chains first: jumps need their target to exist.
		for _, c := range chains {
			if c.base == nil {
				conn.AddChain(&nftables.Chain{Name: c.name, Table: t})
			}
		}
		for _, c := range chains {
			if c.base != nil {
				ch := *c.base
				ch.Name, ch.Table = c.name, t
				conn.AddChain(&ch)
			}
		}
		for _, c := range chains {
			ch := &nftables.Chain{Name: c.name, Table: t}
			for _, r := range c.rules {
				conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
			}
		}
		ports := &nftables.Chain{Name: "ports", Table: t}
		for _, mr := range buildMeshRules(st.mesh) {
			mr.set.Table = t
			if err := conn.AddSet(mr.set, mr.elems); err != nil {
				return fmt.Errorf("nftables map of service port backends: %w", err)
			}
			for _, e := range mr.exprs {
				if l, ok := e.(*expr.Lookup); ok {
					l.SetName, l.SetID = mr.set.Name, mr.set.ID
				}
			}
			conn.AddRule(&nftables.Rule{Table: t, Chain: ports, Exprs: mr.exprs})
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("write nftables table %s: %w", table, err)
	}
	return nil
}

// sysctl writes a /proc/sys value (dotted or slashed key).
func sysctl(path, value string) error {
	if err := os.WriteFile("/proc/sys/"+path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", path, value, err)
	}
	return nil
}
