package cli

import (
	"strings"
	"testing"
)

func TestValidateExtraHost(t *testing.T) {
	for in, ok := range map[string]bool{
		"db:10.0.0.5": true, "db=10.0.0.5": true, "gw:host-gateway": true, "v6:::1": true, "v6=[::1]": true,
		"db": false, ":10.0.0.5": false, "db:notanip": false, "": false,
	} {
		if err := validateExtraHost(in); (err == nil) != ok {
			t.Errorf("validateExtraHost(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzValidateExtraHost: --add-host values come from the user.
func FuzzValidateExtraHost(f *testing.F) {
	for _, s := range []string{"db:10.0.0.5", "gw:host-gateway", "v6:::1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := validateExtraHost(s); err == nil && !strings.ContainsAny(s, ":=") {
			t.Fatalf("%q accepted without a separator", s)
		}
	})
}

func TestKVMap(t *testing.T) {
	m := kvMap([]string{"a=1", "b", "c=x=y"})
	if m["a"] != "1" || m["b"] != "" || m["c"] != "x=y" || len(m) != 3 {
		t.Errorf("kvMap = %v", m)
	}
}
