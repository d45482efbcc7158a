package machine

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"myvm1", true}, {"my-vm.local", true}, {"A1", true}, {"x", true},
		{"", false}, {"my_vm", false}, {"-vm", false}, {"vm-", false}, {"vm.", false},
		{"a/b", false}, {"..", false}, {"a b", false}, {strings.Repeat("x", 63), true}, {strings.Repeat("x", 64), false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestStore(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.New("vm1", "local")
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists("vm1") {
		t.Error("a machine exists before it is saved")
	}
	if ms, _ := st.List(); len(ms) != 0 {
		t.Errorf("an unsaved machine is listed: %v", ms)
	}
	m.IP, m.CPUs = "192.168.99.100", 1.5
	if err := st.Save(m); err != nil {
		t.Fatal(err)
	}
	if _, err := st.New("vm1", "local"); err == nil || !strings.Contains(err.Error(), `Host already exists: "vm1"`) {
		t.Errorf("duplicate: %v", err)
	}
	got, err := st.Load("vm1")
	if err != nil || got.IP != m.IP || got.CPUs != 1.5 || got.URL() != "tcp://192.168.99.100:2376" || got.Dir() != m.Dir() {
		t.Errorf("Load = %+v, %v", got, err)
	}
	if _, err := st.Load("nope"); err == nil || !strings.Contains(err.Error(), `Host does not exist: "nope"`) {
		t.Errorf("Load of a missing machine: %v", err)
	}
	if _, err := st.Load("../etc"); err == nil {
		t.Error("Load took a path outside the store")
	}
	if err := st.Delete(m); err != nil || st.Exists("vm1") {
		t.Errorf("Delete: %v", err)
	}
}

// The store's CA signs each machine's server certificate for its address
// and name; the client certificate is the store's, copied beside it.
func TestWriteCerts(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var clients []string
	for _, name := range []string{"a", "b"} {
		m, err := st.New(name, "local")
		if err != nil {
			t.Fatal(err)
		}
		m.IP = "192.168.99.101"
		if err := st.WriteCerts(m); err != nil {
			t.Fatal(err)
		}
		caPEM, _ := os.ReadFile(filepath.Join(m.Dir(), "ca.pem"))
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			t.Fatal("ca.pem holds no certificate")
		}
		srvPEM, _ := os.ReadFile(filepath.Join(m.Dir(), "server.pem"))
		blk, _ := pem.Decode(srvPEM)
		srv, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"192.168.99.101", name} {
			if _, err := srv.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
				t.Errorf("server certificate of %s for %s: %v", name, host, err)
			}
		}
		if fi, err := os.Stat(filepath.Join(m.Dir(), "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key.pem: %v %v", fi, err)
		}
		c, _ := os.ReadFile(filepath.Join(m.Dir(), "cert.pem"))
		clients = append(clients, string(c))
	}
	if clients[0] != clients[1] {
		t.Error("the machines have different client certificates")
	}
}
