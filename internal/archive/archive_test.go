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

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
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
		}, "escapes the root"},
		{"nested symlink climbing out", []entry{
			{hdr: tar.Header{Name: "a/b/link", Typeflag: tar.TypeSymlink, Linkname: "../../../outside"}},
		}, "escapes the root"},
		{"absolute symlink then hostile write", []entry{
			{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/"}},
			{hdr: tar.Header{Name: "link/x", Typeflag: tar.TypeReg}, body: "x"},
			{hdr: tar.Header{Name: "../y", Typeflag: tar.TypeReg}, body: "x"},
		}, "escapes the root"},
		{"hardlink out", []entry{{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside"}}}, "escapes the root"},
		{"hardlink absolute", []entry{{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}}, "absolute path"},
		{"hardlink through symlink", []entry{
			{hdr: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/"}},
			{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "up/outside"}},
		}, "not in the layer"},
		{"whiteout of the parent", []entry{{hdr: tar.Header{Name: ".wh...", Typeflag: tar.TypeReg}}}, "invalid"},
		{"whiteout of the root", []entry{{hdr: tar.Header{Name: ".wh..", Typeflag: tar.TypeReg}}}, "invalid"},
		{"nested whiteout of the parent", []entry{{hdr: tar.Header{Name: "a/.wh...", Typeflag: tar.TypeReg}}}, "invalid"},
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
			after := listTree(parent)
			for _, p := range after {
				if !strings.HasPrefix(p, dst) && !contains(before, p) {
					t.Errorf("wrote outside the root: %s", p)
				}
			}
			for _, p := range before {
				if !contains(after, p) {
					t.Errorf("removed outside the root: %s", p)
				}
			}
			if b, err := os.ReadFile(outside); err != nil || string(b) != "secret" {
				t.Errorf("outside file changed: %q %v", b, err)
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

func TestApplyAbsoluteSymlinkParentStaysInside(t *testing.T) {
	parent := t.TempDir()
	dst := filepath.Join(parent, "root")
	_ = os.Mkdir(dst, 0o755)
	data := mkTar(t, []entry{
		{hdr: tar.Header{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "run/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "var/run", Typeflag: tar.TypeSymlink, Linkname: "/run"}},
		{hdr: tar.Header{Name: "var/run/pid", Typeflag: tar.TypeReg}, body: "1"},
		{hdr: tar.Header{Name: "top", Typeflag: tar.TypeSymlink, Linkname: "/"}},
		{hdr: tar.Header{Name: "top/etc/x", Typeflag: tar.TypeReg}, body: "2"},
	})
	if _, err := Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{IgnoreOwners: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "run/pid")); string(b) != "1" {
		t.Errorf("write through /var/run -> /run landed elsewhere: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "etc/x")); string(b) != "2" {
		t.Errorf("write through top -> / landed elsewhere: %q", b)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("wrote outside the root: %v", entries)
	}
}

func TestApplyCompressed(t *testing.T) {
	data := mkTar(t, []entry{{hdr: tar.Header{Name: "f", Typeflag: tar.TypeReg}, body: "hello"}})
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(data)
	_ = gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	_, _ = zw.Write(data)
	_ = zw.Close()
	for name, in := range map[string][]byte{"plain": data, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		dst := t.TempDir()
		if _, err := Apply(context.Background(), dst, bytes.NewReader(in), ApplyOptions{IgnoreOwners: true}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "hello" {
			t.Errorf("%s: f = %q", name, b)
		}
	}
}

func TestApplyFlattensWhiteouts(t *testing.T) {
	dst := t.TempDir()
	base := mkTar(t, []entry{
		{hdr: tar.Header{Name: "a", Typeflag: tar.TypeReg}, body: "a"},
		{hdr: tar.Header{Name: "d/old", Typeflag: tar.TypeReg}, body: "o"},
	})
	top := mkTar(t, []entry{
		{hdr: tar.Header{Name: ".wh.a", Typeflag: tar.TypeReg}},
		{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "d/new", Typeflag: tar.TypeReg}, body: "n"},
		{hdr: tar.Header{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg}},
	})
	for _, l := range [][]byte{base, top} {
		if _, err := Apply(context.Background(), dst, bytes.NewReader(l), ApplyOptions{IgnoreOwners: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "a")); !os.IsNotExist(err) {
		t.Errorf("whited-out a still there: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "d/old")); !os.IsNotExist(err) {
		t.Errorf("opaque dir kept d/old: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "d/new")); err != nil {
		t.Errorf("opaque marker removed the layer's own d/new: %v", err)
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
	f.Add(mkTar(f, []entry{{hdr: tar.Header{Name: ".wh...", Typeflag: tar.TypeReg}}}))
	f.Add(mkTar(f, []entry{{hdr: tar.Header{Name: "u", Typeflag: tar.TypeSymlink, Linkname: "/"}}, {hdr: tar.Header{Name: "u/../../x", Typeflag: tar.TypeReg}, body: "x"}}))
	f.Add(mkTar(f, []entry{{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir}}, {hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "d"}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "root")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{IgnoreOwners: true})
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 || entries[0].Name() != "root" {
			t.Fatalf("wrote outside the root: %v", entries)
		}
	})
}

func TestChangesOfOverlayUpper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	dir := t.TempDir()
	for _, d := range []string{"lower/etc", "lower/tmp", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "lower/etc/passwd"), []byte("root"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "lower/etc/group"), []byte("root"), 0o644)
	merged := filepath.Join(dir, "merged")
	data := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
		t.Skipf("overlay: %v", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	_ = os.WriteFile(filepath.Join(merged, "etc/passwd"), []byte("root\nme"), 0o644)
	_ = os.Remove(filepath.Join(merged, "etc/group"))
	_ = os.WriteFile(filepath.Join(merged, "tmp/new"), []byte("x"), 0o644)
	_ = os.MkdirAll(filepath.Join(merged, "newdir/sub"), 0o755)
	if err := unix.Unmount(merged, 0); err != nil {
		t.Fatal(err)
	}
	changes, err := Changes(filepath.Join(dir, "upper"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, "CAD"[c.Kind:c.Kind+1]+" "+c.Path)
	}
	want := "C /etc,D /etc/group,C /etc/passwd,A /newdir,A /newdir/sub,C /tmp,A /tmp/new"
	if strings.Join(got, ",") != want {
		t.Errorf("Changes = %s\nwant      %s", strings.Join(got, ","), want)
	}
}
