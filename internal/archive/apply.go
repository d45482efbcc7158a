// Package archive owns tar streams at the filesystem boundary: extracting
// layers and copied files so that nothing can escape the target root,
// producing tars of directories (with overlayfs whiteouts converted to
// Docker's .wh. form), the path lookups `docker cp` needs, and the change
// list of an overlay upper dir (`docker diff`).
package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"
)

// Docker's whiteout names in layer tars.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	overlayXattrs  = "trusted.overlay."
)

// ApplyOptions control extraction.
type ApplyOptions struct {
	// AllowDevices permits character and block device entries.
	AllowDevices bool
	// OverlayWhiteouts turns .wh.NAME into an overlay whiteout (a 0:0
	// character device) and .wh..wh..opq into the opaque xattr, for layers
	// unpacked as overlay lower dirs. Without it whiteouts delete the path
	// in dst (for flattening layers into one directory).
	OverlayWhiteouts bool
	// IgnoreOwners skips lchown.
	IgnoreOwners bool
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the reverse (`docker cp`).
	NoOverwriteDirNonDir bool
	// LiteralWhiteouts extracts .wh. entries as ordinary files (for
	// archives that are not layers: `docker cp`, `docker load`).
	LiteralWhiteouts bool
}

// Decompress sniffs gzip and zstd; other input is returned as is. The
// caller closes the result.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		// pgzip decompresses ahead in its own goroutine, so reading (and
		// hashing) the compressed stream overlaps with decompressing it.
		zr, err := pgzip.NewReaderN(br, 1<<20, 4)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, errors.New("bzip2-compressed layers are not supported")
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X'}):
		return nil, errors.New("xz-compressed layers are not supported")
	}
	return io.NopCloser(br), nil
}

// checkName refuses entry names that are absolute or climb out of the
// root, and returns the cleaned relative name.
func checkName(name string) (string, error) {
	if name == "" {
		return "", errors.New("layer entry with an empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("layer entry %q has an absolute path", name)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("layer entry %q has a NUL in its name", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("layer entry %q escapes the root", name)
	}
	return clean, nil
}

// validBase reports whether s can name one directory entry.
func validBase(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// extractor holds the state of one Apply.
type extractor struct {
	dst  string
	o    ApplyOptions
	size int64
	// created holds the entries this archive made, so an opaque marker
	// (flattening mode) keeps them.
	created map[string]bool
	dirs    []dirTime
}

type dirTime struct {
	path string
	t    time.Time
}

// Apply extracts a (possibly gzip- or zstd-compressed) tar into dst and
// returns the number of bytes of file content written. Hostile entries
// (absolute names, names or links climbing out of dst, writes through a
// symlink leading out, devices unless allowed) are refused, and nothing is
// ever written outside dst: every parent path is resolved inside dst.
func Apply(ctx context.Context, dst string, r io.Reader, o ApplyOptions) (int64, error) {
	dr, err := Decompress(r)
	if err != nil {
		return 0, fmt.Errorf("read layer: %w", err)
	}
	defer dr.Close()
	dst, err = filepath.Abs(dst)
	if err != nil {
		return 0, err
	}
	x := &extractor{dst: dst, o: o, created: map[string]bool{}}
	tr := tar.NewReader(dr)
	for {
		if err := ctx.Err(); err != nil {
			return x.size, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return x.size, fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.size, err
		}
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		setTimes(x.dirs[i].path, x.dirs[i].t, x.dirs[i].t)
	}
	return x.size, nil
}

// parentDir resolves the directory part of a cleaned relative name inside
// dst (following symlinks only within dst) and creates it.
func (x *extractor) parentDir(rel string) (string, error) {
	parent, err := securejoin.SecureJoin(x.dst, rel)
	if err != nil {
		return "", err
	}
	if parent != x.dst && !strings.HasPrefix(parent, x.dst+string(filepath.Separator)) {
		return "", errors.New("escapes the root")
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	return parent, nil
}

func (x *extractor) entry(hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	name, err := checkName(hdr.Name)
	if err != nil {
		return err
	}
	for k := range hdr.PAXRecords {
		// archive/tar expands sparse holes: a few bytes could ask for
		// terabytes of zeros. Layers are never sparse.
		if strings.HasPrefix(k, "GNU.sparse.") {
			return fmt.Errorf("layer entry %q: sparse files are not supported", hdr.Name)
		}
	}
	if name == "." {
		return nil
	}
	parentRel, base := path.Split(name)
	if !validBase(base) {
		return fmt.Errorf("layer entry %q has an invalid name", hdr.Name)
	}
	parent, err := x.parentDir(parentRel)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	target := filepath.Join(parent, base)

	if !x.o.LiteralWhiteouts && strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr, parent, parentRel, base)
	}

	fi, lerr := os.Lstat(target)
	if lerr == nil {
		isDir := hdr.Typeflag == tar.TypeDir
		if x.o.NoOverwriteDirNonDir && fi.IsDir() != isDir {
			if fi.IsDir() {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+name, hdr.Name)
			}
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+name, hdr.Name)
		}
		if !(fi.IsDir() && isDir) {
			if err := os.RemoveAll(target); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
		}
	}
	x.created[target] = true
	mode := os.FileMode(hdr.Mode & 0o777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		x.dirs = append(x.dirs, dirTime{target, hdr.ModTime})
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		n, err := io.Copy(f, tr)
		x.size += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		if escapesRoot(name, hdr.Linkname) {
			return fmt.Errorf("layer entry %q: symlink target %q escapes the root", hdr.Name, hdr.Linkname)
		}
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		linkName, err := checkName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("layer entry %q: hardlink: %w", hdr.Name, err)
		}
		ldir, lbase := path.Split(linkName)
		if !validBase(lbase) {
			return fmt.Errorf("layer entry %q: hardlink to %q: invalid target", hdr.Name, hdr.Linkname)
		}
		lparent, err := securejoin.SecureJoin(x.dst, ldir)
		if err != nil {
			return fmt.Errorf("layer entry %q: hardlink: %w", hdr.Name, err)
		}
		src := filepath.Join(lparent, lbase)
		sfi, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("layer entry %q: hardlink to %q: target is not in the layer", hdr.Name, hdr.Linkname)
		}
		if sfi.IsDir() {
			return fmt.Errorf("layer entry %q: hardlink to %q: target is a directory", hdr.Name, hdr.Linkname)
		}
		// linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the
		// symlink itself, never what it points to.
		if err := os.Link(src, target); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock:
		if !x.o.AllowDevices {
			return fmt.Errorf("layer entry %q: device node is not allowed", hdr.Name)
		}
		typ := uint32(unix.S_IFCHR)
		if hdr.Typeflag == tar.TypeBlock {
			typ = unix.S_IFBLK
		}
		if err := unix.Mknod(target, typ|uint32(mode), int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeFifo:
		if err := unix.Mkfifo(target, uint32(mode)); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	default:
		return fmt.Errorf("layer entry %q: unsupported tar type %q", hdr.Name, hdr.Typeflag)
	}
	if !x.o.IgnoreOwners {
		if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("layer entry %q: chown: %w", hdr.Name, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && !strings.HasPrefix(attr, overlayXattrs) {
			_ = unix.Lsetxattr(target, attr, []byte(v), 0)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// target is not a symlink here (created above with O_NOFOLLOW,
		// Mkdir, Mknod or Mkfifo; an existing dir was Lstat'ed).
		if err := os.Chmod(target, mode|modeBits(hdr.Mode)); err != nil {
			return fmt.Errorf("layer entry %q: chmod: %w", hdr.Name, err)
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		atime := hdr.AccessTime
		if atime.IsZero() {
			atime = hdr.ModTime
		}
		setTimes(target, atime, hdr.ModTime)
	}
	return nil
}

// whiteout handles .wh.NAME and .wh..wh..opq entries.
func (x *extractor) whiteout(hdr *tar.Header, parent, parentRel, base string) error {
	if base == opaqueMarker {
		if x.o.OverlayWhiteouts {
			if err := unix.Lsetxattr(parent, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("layer entry %q: opaque dir: %w", hdr.Name, err)
			}
			return nil
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		for _, e := range entries {
			p := filepath.Join(parent, e.Name())
			if !x.created[p] {
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
				}
			}
		}
		return nil
	}
	victimBase := strings.TrimPrefix(base, whiteoutPrefix)
	if !validBase(victimBase) || strings.HasPrefix(victimBase, whiteoutPrefix) {
		return fmt.Errorf("layer entry %q: invalid whiteout", hdr.Name)
	}
	victim := filepath.Join(parent, victimBase)
	if filepath.Dir(victim) != parent {
		return fmt.Errorf("layer entry %q: invalid whiteout", hdr.Name)
	}
	if err := os.RemoveAll(victim); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if x.o.OverlayWhiteouts {
		if err := unix.Mknod(victim, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("layer entry %q: whiteout: %w", hdr.Name, err)
		}
		if !x.o.IgnoreOwners {
			_ = os.Lchown(victim, hdr.Uid, hdr.Gid)
		}
	}
	return nil
}

func setTimes(p string, atime, mtime time.Time) {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return unix.Timespec{}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// modeBits maps tar's setuid/setgid/sticky bits to os.FileMode.
func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// escapesRoot reports whether a relative symlink target climbs above the
// root from the link's directory. Absolute targets are resolved inside the
// container's root and never leave it, so they are legal.
func escapesRoot(name, target string) bool {
	if path.IsAbs(target) {
		return false
	}
	depth := 0
	if dir := path.Dir(name); dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		case "", ".":
		default:
			depth++
		}
	}
	return false
}
