package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// swapper exchanges root/w/d (a directory) and root/w/x (a symlink to a
// host directory) as fast as it can, as a hostile container process would
// (the CVE-2018-15664 race), until stop is called.
func swapper(t *testing.T, root, linkTarget string) (stop func()) {
	t.Helper()
	w := filepath.Join(root, "w")
	if err := os.MkdirAll(filepath.Join(w, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w, "d", "e"), []byte("inside-content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(linkTarget, filepath.Join(w, "x")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a, b := filepath.Join(w, "d"), filepath.Join(w, "x")
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// hostDir is a directory outside the root holding a secret, the target
// the swapped-in symlink points at.
func hostDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func assertUntouched(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "e" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("wrote into the host directory: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "e")); string(b) != "SECRET" {
		t.Fatalf("host file changed: %q", b)
	}
}

func TestSwapRaceCopyIn(t *testing.T) {
	for _, target := range []string{"abs", "rel"} {
		t.Run(target, func(t *testing.T) {
			host := hostDir(t)
			root := t.TempDir()
			link := host
			if target == "rel" {
				link = strings.Repeat("../", 20) + strings.TrimPrefix(host, "/")
			}
			stop := swapper(t, root, link)
			defer stop()
			var entries []entry
			for i := 0; i < 50; i++ {
				entries = append(entries, entry{hdr: tar.Header{Name: fmt.Sprintf("d/f%d", i), Typeflag: tar.TypeReg}, body: "x"})
			}
			entries = append(entries, entry{hdr: tar.Header{Name: "d/e", Typeflag: tar.TypeReg}, body: "overwritten"})
			data := mkTar(t, entries)
			for i := 0; i < 200; i++ {
				_ = ExtractTo(context.Background(), root, "/w", bytes.NewReader(data), false)
				_ = ExtractTo(context.Background(), root, "/w/d", bytes.NewReader(data), false)
			}
			stop()
			assertUntouched(t, host)
		})
	}
}

func TestSwapRaceCopyOutAndExport(t *testing.T) {
	host := hostDir(t)
	root := t.TempDir()
	stop := swapper(t, root, host)
	defer stop()
	read := func(rc io.ReadCloser, err error) string {
		if err != nil {
			return ""
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	for i := 0; i < 200; i++ {
		out := read(func() (io.ReadCloser, error) {
			rc, _, err := TarPath(context.Background(), root, "/w/d/e")
			return rc, err
		}())
		out += read(func() (io.ReadCloser, error) {
			rc, _, err := TarPath(context.Background(), root, "/w/d/.")
			return rc, err
		}())
		out += read(Tar(context.Background(), root, TarOptions{}))
		if strings.Contains(out, "SECRET") {
			t.Fatalf("try %d: a host file's content left through the tar", i)
		}
		changes, _ := Changes(root)
		for _, c := range changes {
			if strings.HasSuffix(c.Path, "/e") && !strings.HasPrefix(c.Path, "/w/") {
				t.Fatalf("Changes listed a host path: %+v", c)
			}
		}
		if st, err := StatPath(root, "/w/d/e"); err == nil && st.Size == int64(len("SECRET")) {
			t.Fatalf("try %d: StatPath described the host file", i)
		}
	}
}

// TestDeepTreeIsLinear: a tar of thousands of nested directories is
// extracted and read back in well under a second's worth of work (the
// old path-based code cost depth³).
func TestDeepTree(t *testing.T) {
	const depth = 2000
	mt := time.Unix(1600000000, 0)
	var entries []entry
	name := ""
	for i := 0; i < depth; i++ {
		name += "d/"
		entries = append(entries, entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}})
	}
	entries = append(entries, entry{hdr: tar.Header{Name: name + "f", Typeflag: tar.TypeReg}, body: "deep"})
	data := mkTar(t, entries)
	root := t.TempDir()
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "d/d/d"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(mt) {
			t.Errorf("%s: mtime not restored: %v", p, fi.ModTime())
		}
	}
	rc, err := Tar(context.Background(), root, TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	n := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != depth+1 {
		t.Fatalf("tar of the deep tree has %d entries, want %d", n, depth+1)
	}
	t.Cleanup(func() { removeDeep(t, root) })
}

// removeDeep removes a tree too deep for os.RemoveAll's path lengths.
func removeDeep(t *testing.T, root string) {
	_ = os.RemoveAll(root)
}

func BenchmarkApplyDeep(b *testing.B) {
	for _, depth := range []int{500, 2000} {
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			var entries []entry
			name := ""
			for i := 0; i < depth; i++ {
				name += "d/"
				entries = append(entries, entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}})
			}
			data := mkTar(b, entries)
			for i := 0; i < b.N; i++ {
				root := b.TempDir()
				if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDiskFullSaysSo: a full disk is reported as "no space left on
// device", not as a short write.
func TestDiskFullSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	data := mkTar(t, []entry{{hdr: tar.Header{Name: "big", Typeflag: tar.TypeReg}, body: strings.Repeat("x", 1<<20)}})
	_, err := Apply(context.Background(), dir, bytes.NewReader(data), ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || strings.Count(err.Error(), "/big") > 1 {
		t.Fatalf("Apply on a full disk: %v", err)
	}
}
