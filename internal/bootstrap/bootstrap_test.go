package bootstrap

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tree(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/os-release":                    "ID=debian\n",
		"etc/machine-id":                    "0123456789abcdef\n",
		"etc/hostname":                      "buildhost\n",
		"usr/share/doc/bash/README":         "docs",
		"usr/share/doc/bash/copyright":      "c",
		"usr/share/man/man1/bash.1.gz":      "man",
		"usr/share/locale/de/LC_MESSAGES/x": "de",
		"usr/share/locale/locale.alias":     "alias",
		"var/lib/apt/lists/deb.debian.org":  "lists",
		"var/cache/apt/pkgcache.bin":        "cache",
		"var/log/dpkg.log":                  "log",
		"debootstrap/debootstrap.log":       "x",
		"bin/bash":                          "ELF",
		"dev/null":                          "should not be in the tar",
	})
	if err := os.Link(filepath.Join(root, "bin/bash"), filepath.Join(root, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bash", filepath.Join(root, "bin/rbash")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTrim(t *testing.T) {
	tests := []struct {
		slim       bool
		gone, kept []string
	}{
		{false, []string{"var/lib/apt/lists/deb.debian.org", "var/cache/apt/pkgcache.bin", "var/log/dpkg.log", "debootstrap"},
			[]string{"usr/share/doc/bash/README", "usr/share/man/man1/bash.1.gz", "usr/share/locale/de", "var/lib/apt/lists", "bin/bash"}},
		{true, []string{"usr/share/doc/bash/README", "usr/share/man/man1/bash.1.gz", "usr/share/locale/de", "var/log/dpkg.log"},
			[]string{"usr/share/locale/locale.alias", "etc/dpkg/dpkg.cfg.d/berth-slim", "bin/bash"}},
	}
	for _, tt := range tests {
		root := tree(t)
		if err := Trim(root, tt.slim); err != nil {
			t.Fatal(err)
		}
		for _, p := range tt.gone {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("slim=%v: %s is still there", tt.slim, p)
			}
		}
		for _, p := range tt.kept {
			if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
				t.Errorf("slim=%v: %s is gone", tt.slim, p)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc/machine-id")); len(b) != 0 {
			t.Errorf("machine-id not emptied: %q", b)
		}
	}
}

func TestWriteTarIsReproducible(t *testing.T) {
	a, b := tree(t), tree(t)
	// Different times and a different creation order must not matter.
	_ = os.Chtimes(filepath.Join(b, "etc/os-release"), time.Now(), time.Now().Add(-time.Hour))
	var ta, tb bytes.Buffer
	if err := WriteTar(a, &ta); err != nil {
		t.Fatal(err)
	}
	if err := WriteTar(b, &tb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ta.Bytes(), tb.Bytes()) {
		t.Fatal("the same tree gave different tars")
	}
	tr := tar.NewReader(&ta)
	var names []string
	links := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(Epoch) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: time %v, owner %q/%q", h.Name, h.ModTime, h.Uname, h.Gname)
		}
		if h.Typeflag == tar.TypeLink {
			links++
		}
		if h.Name == "dev/null" {
			t.Error("dev contents written")
		}
	}
	if links != 1 {
		t.Errorf("hard links in the tar: %d, want 1", links)
	}
	for i := 1; i < len(names); i++ {
		if filepath.Dir(names[i]) == filepath.Dir(names[i-1]) && names[i] < names[i-1] {
			t.Errorf("entries out of order: %s after %s", names[i], names[i-1])
		}
	}
}

func TestKey(t *testing.T) {
	base := Options{Suite: "bookworm", Mirror: "http://deb.debian.org/debian/", Include: []string{"redis-server,python3", "curl"}}
	same := Options{Suite: "bookworm", Variant: "minbase", Mirror: "http://deb.debian.org/debian", Include: []string{"curl", "python3", "redis-server"}}
	if base.Key() != same.Key() {
		t.Error("equivalent options give different keys")
	}
	for _, o := range []Options{
		{Suite: "trixie", Mirror: base.Mirror, Include: base.Include},
		{Suite: "bookworm", Variant: "slim", Mirror: base.Mirror, Include: base.Include},
		{Suite: "bookworm", Mirror: "http://ftp.de.debian.org/debian", Include: base.Include},
		{Suite: "bookworm", Mirror: base.Mirror},
	} {
		if o.Key() == base.Key() {
			t.Errorf("%+v has the same key as %+v", o, base)
		}
	}
	for _, bad := range []Options{{Suite: ""}, {Suite: "bookworm", Variant: "fat"}, {Suite: "bookworm", Mirror: "ftp://x"}, {Suite: "bookworm", Include: []string{"a;rm"}}} {
		if err := bad.Normalize().Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
