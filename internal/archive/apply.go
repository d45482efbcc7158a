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
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/fsroot"
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
	// KeepEscapingSymlinks extracts symlinks whose relative target climbs
	// above the root as they are (a build context, where Docker sends them
	// untouched and only their use is checked). Extraction itself stays
	// inside the root either way: names are resolved in it by the kernel.
	KeepEscapingSymlinks bool
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
	root *fsroot.Dir
	o    ApplyOptions
	size int64
	// created holds the entries (relative names) this archive made, so an
	// opaque marker (flattening mode) keeps them.
	created map[string]bool
	dirs    []dirTime
	// last is the parent directory of the previous entry: tars list a
	// directory's entries together, so most entries reuse it.
	lastRel string
	last    *fsroot.Dir
}

type dirTime struct {
	rel string
	t   time.Time
}

// Apply extracts a (possibly gzip- or zstd-compressed) tar into dst and
// returns the number of bytes of file content written. Hostile entries
// (absolute names, names or links climbing out of dst, writes through a
// symlink leading out, devices unless allowed) are refused, and nothing is
// ever written outside dst: every path is resolved by the kernel inside
// dst (see internal/fsroot), so even a process that changes dst while it
// is extracted cannot lead a write out of it.
func Apply(ctx context.Context, dst string, r io.Reader, o ApplyOptions) (int64, error) {
	root, err := fsroot.Open(dst)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	return ApplyDir(ctx, root, r, o)
}

// ApplyDir is Apply into an open directory, which acts as the root.
func ApplyDir(ctx context.Context, root *fsroot.Dir, r io.Reader, o ApplyOptions) (int64, error) {
	dr, err := Decompress(r)
	if err != nil {
		return 0, fmt.Errorf("read layer: %w", err)
	}
	defer dr.Close()
	x := &extractor{root: root, o: o, created: map[string]bool{}}
	defer func() {
		if x.last != nil {
			x.last.Close()
		}
	}()
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
	if err := x.setDirTimes(ctx); err != nil {
		return x.size, err
	}
	return x.size, nil
}

// setDirTimes gives the archive's directories their times, last (their
// entries changed them), deepest first, in one walk over handles.
func (x *extractor) setDirTimes(ctx context.Context) error {
	if len(x.dirs) == 0 {
		return nil
	}
	times := make(map[string]time.Time, len(x.dirs))
	children := map[string][]string{}
	linked := map[string]bool{}
	for _, d := range x.dirs {
		if _, seen := times[d.rel]; seen {
			times[d.rel] = d.t
			continue
		}
		times[d.rel] = d.t
		// Link d into the tree of directories to visit, up to the first
		// ancestor already in it.
		for rel := d.rel; rel != "." && !linked[rel]; rel = path.Dir(rel) {
			linked[rel] = true
			parent := path.Dir(rel)
			children[parent] = append(children[parent], path.Base(rel))
		}
	}
	var walk func(dir *fsroot.Dir, rel string) error
	walk = func(dir *fsroot.Dir, rel string) error {
		for _, name := range children[rel] {
			if err := ctx.Err(); err != nil {
				return err
			}
			crel := path.Join(rel, name)
			if _, ok := children[crel]; ok {
				if child, err := dir.Child(name); err == nil {
					err = walk(child, crel)
					child.Close()
					if err != nil {
						return err
					}
				}
			}
			if t, ok := times[crel]; ok {
				_ = dir.Utimes(name, timespec(t), timespec(t))
			}
		}
		return nil
	}
	return walk(x.root, ".")
}

// parentDir resolves the directory part of a cleaned relative name inside
// the root (following symlinks only within it) and creates it. The handle
// stays owned by the extractor.
func (x *extractor) parentDir(rel string) (*fsroot.Dir, error) {
	if x.last != nil && rel == x.lastRel {
		return x.last, nil
	}
	var d *fsroot.Dir
	if x.last != nil {
		// A directory just below the last parent (the next level of a
		// tree): one step from its handle, so deep trees cost O(depth)
		// and not O(depth²). A symlink there takes the full lookup.
		if sub, ok := strings.CutPrefix(rel, x.lastRel); ok && strings.Count(sub, "/") == 1 && strings.HasSuffix(sub, "/") {
			d, _ = x.last.Child(strings.TrimSuffix(sub, "/"))
		}
	}
	if d == nil {
		var err error
		if d, err = x.root.MkdirAll(rel, 0o755); err != nil {
			return nil, err
		}
	}
	if x.last != nil {
		x.last.Close()
	}
	x.last, x.lastRel = d, rel
	return d, nil
}

// forgetParent drops the cached parent handle, after an entry replaced
// or removed directories that later names may resolve through.
func (x *extractor) forgetParent() {
	if x.last != nil {
		x.last.Close()
		x.last, x.lastRel = nil, ""
	}
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

	if !x.o.LiteralWhiteouts && strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr, parent, parentRel, base)
	}

	if st, lerr := parent.Lstat(base); lerr == nil {
		existingDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		isDir := hdr.Typeflag == tar.TypeDir
		if x.o.NoOverwriteDirNonDir && existingDir != isDir {
			if existingDir {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+name, hdr.Name)
			}
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+name, hdr.Name)
		}
		if !(existingDir && isDir) {
			if err := parent.RemoveAll(base); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			if existingDir || st.Mode&unix.S_IFMT == unix.S_IFLNK {
				// Later names may have resolved through what went.
				defer x.forgetParent()
			}
		}
	}
	x.created[name] = true
	mode := uint32(hdr.Mode & 0o777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := parent.Mkdir(base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		x.dirs = append(x.dirs, dirTime{name, hdr.ModTime})
	case tar.TypeReg, tar.TypeRegA:
		n, err := parent.CopyFile(base, tr, 0o600)
		x.size += n
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		if !x.o.KeepEscapingSymlinks && escapesRoot(name, hdr.Linkname) {
			return fmt.Errorf("layer entry %q: symlink target %q escapes the root", hdr.Name, hdr.Linkname)
		}
		if err := parent.Symlink(hdr.Linkname, base); err != nil {
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
		lparent, err := x.root.OpenDir(ldir)
		if err != nil {
			return fmt.Errorf("layer entry %q: hardlink to %q: target is not in the layer", hdr.Name, hdr.Linkname)
		}
		defer lparent.Close()
		sst, err := lparent.Lstat(lbase)
		if err != nil {
			return fmt.Errorf("layer entry %q: hardlink to %q: target is not in the layer", hdr.Name, hdr.Linkname)
		}
		if sst.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("layer entry %q: hardlink to %q: target is a directory", hdr.Name, hdr.Linkname)
		}
		if err := parent.Link(lparent, lbase, base); err != nil {
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
		if err := parent.Mknod(base, typ|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	case tar.TypeFifo:
		if err := parent.Mknod(base, unix.S_IFIFO|mode, 0); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	default:
		return fmt.Errorf("layer entry %q: unsupported tar type %q", hdr.Name, hdr.Typeflag)
	}
	if !x.o.IgnoreOwners {
		if err := parent.Lchown(base, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("layer entry %q: chown: %w", hdr.Name, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && !strings.HasPrefix(attr, overlayXattrs) {
			_ = parent.Lsetxattr(base, attr, []byte(v))
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears setuid/setgid.
		if err := parent.Chmod(base, mode|unixModeBits(hdr.Mode)); err != nil {
			return fmt.Errorf("layer entry %q: chmod: %w", hdr.Name, err)
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		atime := hdr.AccessTime
		if atime.IsZero() {
			atime = hdr.ModTime
		}
		_ = parent.Utimes(base, timespec(atime), timespec(hdr.ModTime))
	}
	return nil
}

// whiteout handles .wh.NAME and .wh..wh..opq entries.
func (x *extractor) whiteout(hdr *tar.Header, parent *fsroot.Dir, parentRel, base string) error {
	if base == opaqueMarker {
		if x.o.OverlayWhiteouts {
			if err := parent.Lsetxattr(".", opaqueXattr, []byte("y")); err != nil {
				return fmt.Errorf("layer entry %q: opaque dir: %w", hdr.Name, err)
			}
			return nil
		}
		names, err := parent.ReadDirNames()
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		for _, n := range names {
			if !x.created[path.Join(parentRel, n)] {
				if err := parent.RemoveAll(n); err != nil {
					return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
				}
			}
		}
		x.forgetParent()
		return nil
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if !validBase(victim) || strings.HasPrefix(victim, whiteoutPrefix) {
		return fmt.Errorf("layer entry %q: invalid whiteout", hdr.Name)
	}
	if err := parent.RemoveAll(victim); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if x.o.OverlayWhiteouts {
		if err := parent.Mknod(victim, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("layer entry %q: whiteout: %w", hdr.Name, err)
		}
		if !x.o.IgnoreOwners {
			_ = parent.Lchown(victim, hdr.Uid, hdr.Gid)
		}
	}
	x.forgetParent()
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return unix.Timespec{}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// unixModeBits keeps tar's setuid/setgid/sticky bits.
func unixModeBits(m int64) uint32 {
	return uint32(m & 0o7000)
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
