package testenv

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

func TestWriteBusyboxRootfs(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skipf("%s missing (apt-get install busybox-static)", BusyboxPath)
	}
	var a, b bytes.Buffer
	if err := WriteBusyboxRootfs(&a); err != nil {
		t.Fatal(err)
	}
	if err := WriteBusyboxRootfs(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("rootfs tar is not deterministic")
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h
	}
	tests := []struct {
		name     string
		typ      byte
		linkname string
		mode     int64
	}{
		{"bin/busybox", tar.TypeReg, "", 0o755},
		{"bin/sh", tar.TypeSymlink, "busybox", 0o777},
		{"bin/echo", tar.TypeSymlink, "busybox", 0o777},
		{"bin/sleep", tar.TypeSymlink, "busybox", 0o777},
		{"etc/passwd", tar.TypeReg, "", 0o644},
		{"etc/group", tar.TypeReg, "", 0o644},
		{"tmp/", tar.TypeDir, "", 0o1777},
		{"root/", tar.TypeDir, "", 0o700},
		{"home/", tar.TypeDir, "", 0o755},
	}
	for _, tc := range tests {
		h, ok := entries[tc.name]
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if h.Typeflag != tc.typ || h.Linkname != tc.linkname || h.Mode != tc.mode {
			t.Errorf("%s: type %c link %q mode %o, want %c %q %o", tc.name, h.Typeflag, h.Linkname, h.Mode, tc.typ, tc.linkname, tc.mode)
		}
	}
	if h := entries["bin/busybox"]; h != nil {
		fi, err := os.Stat(BusyboxPath)
		if err == nil && h.Size != fi.Size() {
			t.Errorf("bin/busybox size %d, want %d", h.Size, fi.Size())
		}
	}
}

func TestBusyboxPasswd(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skipf("%s missing (apt-get install busybox-static)", BusyboxPath)
	}
	var buf bytes.Buffer
	if err := WriteBusyboxRootfs(&buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal("etc/passwd not found")
		}
		if h.Name != "etc/passwd" {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"root:x:0:0:", "nobody:x:65534:", "user:x:1000:1000:"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("etc/passwd lacks %q:\n%s", want, data)
			}
		}
		return
	}
}
