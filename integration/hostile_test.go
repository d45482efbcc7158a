package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

// hostileTars builds tars that try to write outside the extraction root.
func hostileTars(t *testing.T) map[string]string {
	dir := t.TempDir()
	type entry struct {
		hdr  tar.Header
		body string
	}
	sets := map[string][]entry{
		"dotdot":   {{hdr: tar.Header{Name: "../../../../tmp/berth-escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}, body: "x"}},
		"absolute": {{hdr: tar.Header{Name: "/tmp/berth-escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}, body: "x"}},
		"symlink escape": {
			{hdr: tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "../../../../../tmp", Mode: 0o777}},
			{hdr: tar.Header{Name: "evil/berth-escaped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}, body: "x"},
		},
		"hardlink escape": {{hdr: tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "../../../../../etc/shadow"}}},
		"device node":     {{hdr: tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Devmajor: 8, Devminor: 0, Mode: 0o600}}},
	}
	out := map[string]string{}
	for name, entries := range sets {
		p := filepath.Join(dir, name+".tar")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(f)
		for _, e := range entries {
			h := e.hdr
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
		f.Close()
		out[name] = p
	}
	return out
}
