package network

import (
	"testing"
)

func TestKVMap(t *testing.T) {
	m := kvMap([]string{"a=1", "b", "c=x=y"})
	if m["a"] != "1" || m["b"] != "" || m["c"] != "x=y" || len(m) != 3 {
		t.Errorf("kvMap = %v", m)
	}
}
