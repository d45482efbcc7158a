package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	hdr  tar.Header
	body string
}

func mkTar(t testing.TB, entries []entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listTree lists every path under dir.
func listTree(dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
		out = append(out, p)
		return nil
	})
	return out
}

func TestApplyRefusesHostileEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		wantErr string
	}{
		{"dotdot", []entry{{hdr: tar.Header{Name: "../escaped", Typeflag: tar.TypeReg}, body: "x"}}, "escapes the root"},
		{"nested dotdot", []entry{{hdr: tar.Header{Name: "a/../../escaped", Typeflag: tar.TypeReg}, body: "x"}}, "escapes the root"},
		{"absolute", []entry{{hdr: tar.Header{Name: "/escaped", Typeflag: tar.TypeReg}, body: "x"}}, "absolute path"},
		{"symlink then write", []entry{
			{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../.."}},
			{hdr: tar.Header{Name: "link/escaped", Typeflag: tar.TypeReg}, body: "x"},
		}, "points outside the root"},
		{"hardlink out", []entry{{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside"}}}, "escapes the root"},
		{"device", []entry{{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}}, "device node"},
		{"char device", []entry{{hdr: tar.Header{Name: "mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1}}}, "device node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			outside := filepath.Join(parent, "outside")
			if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(parent, "a", "b", "root")
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			before := listTree(parent)
			_, err := Apply(context.Background(), dst, bytes.NewReader(mkTar(t, tt.entries)), ApplyOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Apply error = %v, want %q", err, tt.wantErr)
			}
			for _, p := range listTree(parent) {
				if !strings.HasPrefix(p, dst) && !contains(before, p) {
					t.Errorf("wrote outside the root: %s", p)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestApplyLegitimateLayer(t *testing.T) {
	dst := t.TempDir()
	data := mkTar(t, []entry{
		{hdr: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, body: "ELF"},
		{hdr: tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox"}},
		{hdr: tar.Header{Name: "bin/ls", Typeflag: tar.TypeLink, Linkname: "bin/busybox"}},
		{hdr: tar.Header{Name: "etc/rel", Typeflag: tar.TypeSymlink, Linkname: "../bin/busybox"}},
	})
	n, err := Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("size = %d", n)
	}
	if target, _ := os.Readlink(filepath.Join(dst, "bin/sh")); target != "/bin/busybox" {
		t.Errorf("absolute in-root symlink = %q", target)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "bin/ls")); string(b) != "ELF" {
		t.Errorf("hardlink content = %q", b)
	}
}

func TestWhiteoutsRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay whiteouts need root")
	}
	dst := t.TempDir()
	data := mkTar(t, []entry{
		{hdr: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "etc/.wh.group", Typeflag: tar.TypeReg}},
		{hdr: tar.Header{Name: "opq/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "opq/.wh..wh..opq", Typeflag: tar.TypeReg}},
	})
	if _, err := Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{OverlayWhiteouts: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dst, "etc/group"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("whiteout not a char device: %v %v", fi, err)
	}
	rc, err := Tar(context.Background(), dst, TarOptions{OverlayWhiteouts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	got := strings.Join(names, ",")
	if !strings.Contains(got, "etc/.wh.group") || !strings.Contains(got, "opq/.wh..wh..opq") {
		t.Errorf("tar of the upper dir = %s", got)
	}
	changes, err := Changes(dst)
	if err != nil {
		t.Fatal(err)
	}
	foundDelete := false
	for _, c := range changes {
		if c.Path == "/etc/group" && c.Kind == ChangeDelete {
			foundDelete = true
		}
	}
	if !foundDelete {
		t.Errorf("Changes = %+v, want a delete of /etc/group", changes)
	}
}

func TestCopyInOut(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data/f"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the container pointing at "/" must resolve inside root.
	if err := os.Symlink("/", filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	st, err := StatPath(root, "/data/f")
	if err != nil || st.Name != "f" || st.Size != 2 {
		t.Fatalf("StatPath = %+v, %v", st, err)
	}
	rc, _, err := TarPath(context.Background(), root, "/data")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Contains(b, []byte("data/f")) {
		t.Error("tar of /data lacks data/f")
	}
	in := mkTar(t, []entry{{hdr: tar.Header{Name: "new.txt", Typeflag: tar.TypeReg}, body: "new"}})
	if err := ExtractTo(context.Background(), root, "/up/data", bytes.NewReader(in), false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "data/new.txt")); string(got) != "new" {
		t.Errorf("extract through an in-root symlink: %q", got)
	}
	if _, err := StatPath(root, "/nope"); err == nil {
		t.Error("StatPath of a missing path succeeded")
	}
}

func FuzzApply(f *testing.F) {
	f.Add(mkTar(f, []entry{{hdr: tar.Header{Name: "a/b", Typeflag: tar.TypeReg}, body: "x"}}))
	f.Add(mkTar(f, []entry{{hdr: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../.."}}, {hdr: tar.Header{Name: "l/x", Typeflag: tar.TypeReg}, body: "x"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "root")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{IgnoreOwners: true})
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("wrote outside the root: %v", entries)
		}
	})
}
