package network

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
)

// Both ends of a direction compute the same state from the swarm key;
// the two directions and two keys all differ.
func TestDeriveSA(t *testing.T) {
	a, b := netip.MustParseAddr("192.168.99.100"), netip.MustParseAddr("192.168.99.101")
	k1, k2 := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	onA := desiredSAs([][]byte{k1}, a, []netip.Addr{b, a})
	onB := desiredSAs([][]byte{k1}, b, []netip.Addr{a})
	if len(onA) != 2 || len(onB) != 2 {
		t.Fatalf("states: %d on a, %d on b", len(onA), len(onB))
	}
	outA, inB := onA[0], onB[1] // a → b
	if outA.src != a || outA.dst != b || inB.src != a || inB.dst != b || outA.spi != inB.spi || !bytes.Equal(outA.encKey, inB.encKey) || !bytes.Equal(outA.authKey, inB.authKey) {
		t.Errorf("a's outbound %+v and b's inbound %+v differ", outA, inB)
	}
	if ab, ba := deriveSA(k1, a, b), deriveSA(k1, b, a); ab.spi == ba.spi || bytes.Equal(ab.encKey, ba.encKey) {
		t.Error("the two directions share a state")
	}
	if x, y := deriveSA(k1, a, b), deriveSA(k2, a, b); x.spi == y.spi || bytes.Equal(x.encKey, y.encKey) {
		t.Error("two keys give one state")
	}
	// Rotation: outbound under the primary (second newest), inbound under
	// every key.
	rot := desiredSAs([][]byte{k1, k2}, a, []netip.Addr{b})
	if len(rot) != 3 || rot[0].spi != deriveSA(k1, a, b).spi {
		t.Errorf("rotation states %+v", rot)
	}
	if desiredSAs(nil, a, []netip.Addr{b}) != nil {
		t.Error("states without a key")
	}
}

// The marking rule matches UDP to the data port with the VNI at byte 12
// of the transport header.
func TestEncryptRules(t *testing.T) {
	if encryptRules(4789, nil) != nil {
		t.Error("a chain with no encrypted network")
	}
	c := encryptRules(4789, []int{0x1001})
	if c == nil || len(c.rules) != 1 || c.base == nil {
		t.Fatalf("chain %+v", c)
	}
	r := c.rules[0]
	p, ok := r[4].(*expr.Payload)
	if !ok || p.Offset != 12 || p.Len != 3 {
		t.Errorf("VNI payload %#v", r[4])
	}
	if cmp := r[5].(*expr.Cmp); !bytes.Equal(cmp.Data, []byte{0x00, 0x10, 0x01}) {
		t.Errorf("VNI bytes %x", cmp.Data)
	}
}
