package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyUp seeds a new, empty volume at dst with the tree at src (the image's
// directory at the volume's mount point), as Docker does on first use. It
// keeps modes (setuid/setgid/sticky too), owners, times, extended
// attributes, symlinks (copied as links, never followed), hard links,
// devices and fifos; sockets are skipped. dst itself takes src's mode,
// owner and times. A src that is a symlink is refused: the caller resolves
// the path inside the rootfs first.
func CopyUp(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("copy up %s: %w", src, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("copy up %s: not a directory", src)
	}
	c := &copier{links: map[fileID]string{}}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return c.copyEntry(p, filepath.Join(dst, rel), rel == ".")
	})
	if err != nil {
		return fmt.Errorf("copy up %s: %w", src, err)
	}
	// Directories last, deepest first: creating entries changed their times.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		if err := setMeta(c.dirs[i].src, c.dirs[i].dst, c.dirs[i].st); err != nil {
			return fmt.Errorf("copy up %s: %w", src, err)
		}
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

type pending struct {
	src, dst string
	st       unix.Stat_t
}

type copier struct {
	links map[fileID]string // first copy of a multiply-linked file
	dirs  []pending
}

func (c *copier) copyEntry(src, dst string, root bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if !root {
			if err := os.Mkdir(dst, 0o700); err != nil {
				if !errors.Is(err, fs.ErrExist) {
					return err
				}
				// Never write through something that is not a directory.
				if fi, lerr := os.Lstat(dst); lerr != nil || !fi.IsDir() {
					return fmt.Errorf("%s exists and is not a directory", dst)
				}
			}
		}
		c.dirs = append(c.dirs, pending{src, dst, st})
		return nil
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFREG:
		id := fileID{uint64(st.Dev), st.Ino}
		if st.Nlink > 1 {
			if first, ok := c.links[id]; ok {
				return os.Link(first, dst)
			}
			c.links[id] = dst
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dst, err)
		}
	default:
		return nil // sockets belong to a process, not to an image
	}
	return setMeta(src, dst, st)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range where it can
		out.Close()
		return err
	}
	return out.Close()
}

// setMeta gives dst src's owner, mode, extended attributes and times,
// never following a symlink.
func setMeta(src, dst string, st unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if !isLink {
		// After chown, which clears setuid/setgid.
		if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&07777, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	ts := []unix.Timespec{
		unix.NsecToTimespec(unix.TimespecToNsec(st.Atim)),
		unix.NsecToTimespec(unix.TimespecToNsec(st.Mtim)),
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}

// copyXattrs copies the extended attributes a filesystem lets us read and
// write; one that the destination refuses (no support, a namespace we may
// not set) is skipped rather than failing the copy.
func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		return nil // no xattr support: nothing to copy
	}
	names := make([]byte, size)
	size, err = unix.Llistxattr(src, names)
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(string(names[:size]), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		n, err = unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, val[:n], 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				continue
			}
			return fmt.Errorf("set xattr %s on %s: %w", name, dst, err)
		}
	}
	return nil
}
