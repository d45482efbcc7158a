// Package archive owns tar streams at the filesystem boundary: extracting
// layers and copied files so that nothing can escape the target root,
// producing tars of directories (with overlayfs whiteouts converted to
// Docker's .wh. form), and the path lookups `docker cp` needs.
package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
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
	"golang.org/x/sys/unix"
)

// Docker's whiteout names in layer tars.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
)

// ApplyOptions control extraction.
type ApplyOptions struct {
	// AllowDevices permits character and block device entries.
	AllowDevices bool
	// OverlayWhiteouts turns .wh.NAME into an overlay whiteout (a 0:0
	// character device) and .wh..wh..opq into the opaque xattr, for layers
	// unpacked as overlay lower dirs. Without it whiteouts delete the path
	// in dst (for flattening into one directory).
	OverlayWhiteouts bool
	// IgnoreOwners skips lchown.
	IgnoreOwners bool
}

// Decompress sniffs gzip; other input is returned as is.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("zstd-compressed layers are not supported yet")
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, errors.New("bzip2-compressed layers are not supported")
	}
	return br, nil
}

// checkName refuses entry names that are absolute or climb out of the root.
func checkName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty entry name")
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("entry %q has an absolute path", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("entry %q escapes the root", name)
	}
	return clean, nil
}

// Apply extracts a (possibly gzip-compressed) tar into dst and returns the
// number of bytes of file content written. Hostile entries are refused and
// nothing is ever written outside dst.
func Apply(ctx context.Context, dst string, r io.Reader, o ApplyOptions) (int64, error) {
	dr, err := Decompress(r)
	if err != nil {
		return 0, fmt.Errorf("read layer: %w", err)
	}
	tr := tar.NewReader(dr)
	var size int64
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for {
		if err := ctx.Err(); err != nil {
			return size, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return size, fmt.Errorf("read tar: %w", err)
		}
		name, err := checkName(hdr.Name)
		if err != nil {
			return size, err
		}
		if name == "." {
			continue
		}
		parentRel, base := path.Split(name)
		parent, err := securejoin.SecureJoin(dst, parentRel)
		if err != nil {
			return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		target := filepath.Join(parent, base)

		// Whiteouts.
		if base == opaqueMarker {
			if o.OverlayWhiteouts {
				if err := unix.Lsetxattr(parent, opaqueXattr, []byte("y"), 0); err != nil {
					return size, fmt.Errorf("opaque dir %q: %w", parentRel, err)
				}
			} else {
				entries, _ := os.ReadDir(parent)
				for _, e := range entries {
					_ = os.RemoveAll(filepath.Join(parent, e.Name()))
				}
			}
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			victim := filepath.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
			_ = os.RemoveAll(victim)
			if o.OverlayWhiteouts {
				if err := unix.Mknod(victim, unix.S_IFCHR, 0); err != nil {
					return size, fmt.Errorf("whiteout %q: %w", hdr.Name, err)
				}
			}
			continue
		}

		// Replace what is there unless both are directories.
		if fi, err := os.Lstat(target); err == nil {
			if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
				if err := os.RemoveAll(target); err != nil {
					return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
				}
			}
		}
		mode := os.FileMode(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			dirs = append(dirs, dirTime{target, hdr.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
			if err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			n, err := io.Copy(f, tr)
			size += n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if escapesRoot(name, hdr.Linkname) {
				return size, fmt.Errorf("symlink %q -> %q points outside the root", hdr.Name, hdr.Linkname)
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			linkName, err := checkName(hdr.Linkname)
			if err != nil {
				return size, fmt.Errorf("hardlink %q: %w", hdr.Name, err)
			}
			src, err := securejoin.SecureJoin(dst, linkName)
			if err != nil {
				return size, fmt.Errorf("hardlink %q: %w", hdr.Name, err)
			}
			fi, err := os.Lstat(src)
			if err != nil {
				return size, fmt.Errorf("hardlink %q -> %q: target is not in the archive", hdr.Name, hdr.Linkname)
			}
			if fi.IsDir() {
				return size, fmt.Errorf("hardlink %q -> %q: target is a directory", hdr.Name, hdr.Linkname)
			}
			if err := os.Link(src, target); err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			continue
		case tar.TypeChar, tar.TypeBlock:
			if !o.AllowDevices {
				return size, fmt.Errorf("device node %q is not allowed", hdr.Name)
			}
			typ := uint32(unix.S_IFCHR)
			if hdr.Typeflag == tar.TypeBlock {
				typ = unix.S_IFBLK
			}
			if err := unix.Mknod(target, typ|uint32(mode), int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeFifo:
			if err := unix.Mkfifo(target, uint32(mode)); err != nil {
				return size, fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeXGlobalHeader:
			continue
		default:
			return size, fmt.Errorf("entry %q: unsupported tar type %q", hdr.Name, hdr.Typeflag)
		}
		if !o.IgnoreOwners {
			if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
				return size, fmt.Errorf("chown %q: %w", hdr.Name, err)
			}
		}
		for k, v := range hdr.PAXRecords {
			if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				_ = unix.Lsetxattr(target, attr, []byte(v), 0)
			}
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(target, mode|modeBits(hdr.Mode)); err != nil {
				return size, fmt.Errorf("chmod %q: %w", hdr.Name, err)
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
		if hdr.AccessTime.IsZero() {
			ts[0] = ts[1]
		}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		ts := []unix.Timespec{unix.NsecToTimespec(dirs[i].t.UnixNano()), unix.NsecToTimespec(dirs[i].t.UnixNano())}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i].path, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return size, nil
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
// container's root and never leave it.
func escapesRoot(name, target string) bool {
	if path.IsAbs(target) {
		return false
	}
	joined := path.Join(path.Dir("/"+name), target)
	// path.Join cleans "..": count how deep the target climbs instead.
	depth := strings.Count(strings.Trim(path.Dir("/"+name), "/"), "/") + 1
	if path.Dir("/"+name) == "/" {
		depth = 0
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
	_ = joined
	return false
}
