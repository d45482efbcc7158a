package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/fsroot"
)

// CopyUp seeds a new, empty volume at dst with the tree at src (the image's
// directory at the volume's mount point), as Docker does on first use. A
// src that is itself a symlink is refused: the caller resolves the path
// inside the rootfs first (see CopyUpDir).
func CopyUp(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return fmt.Errorf("copy up %s: %w", src, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("copy up %s: not a directory", src)
	}
	s, err := fsroot.Open(src)
	if err != nil {
		return fmt.Errorf("copy up %s: %w", src, err)
	}
	defer s.Close()
	d, err := fsroot.Open(dst)
	if err != nil {
		return fmt.Errorf("copy up %s: %w", src, err)
	}
	defer d.Close()
	return CopyUpDir(s, d)
}

// CopyUpDir copies the tree of the open directory src into dst. It keeps
// modes (setuid/setgid/sticky too), owners, times, extended attributes,
// symlinks (copied as links, never followed), hard links, devices and
// fifos; sockets are skipped. dst itself takes src's mode, owner and
// times. Both trees are read and written through handles (internal/fsroot):
// a volume that another container has mounted, or an image directory,
// cannot lead the copy out of either.
func CopyUpDir(src, dst *fsroot.Dir) error {
	c := &copier{dst: dst, links: map[fileID]string{}}
	if err := c.tree(src, dst, ""); err != nil {
		return fmt.Errorf("copy up %s: %w", src.Name(), err)
	}
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("copy up %s: %w", src.Name(), err)
	}
	if err := setMeta(src, ".", dst, ".", st); err != nil {
		return fmt.Errorf("copy up %s: %w", src.Name(), err)
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

type copier struct {
	dst   *fsroot.Dir
	links map[fileID]string // path (in dst) of the first copy of a multiply-linked file
}

// tree copies the entries of src into dst; rel is dst's path in the copy.
func (c *copier) tree(src, dst *fsroot.Dir, rel string) error {
	names, err := src.ReadDirNames()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		if err := c.entry(src, dst, n, path.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) entry(src, dst *fsroot.Dir, name, rel string) error {
	st, err := src.Lstat(name)
	if err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := dst.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Child never follows a symlink: an existing non-directory fails.
		dchild, err := dst.Child(name)
		if err != nil {
			return fmt.Errorf("%s exists and is not a directory: %w", rel, err)
		}
		defer dchild.Close()
		schild, err := src.Child(name)
		if err != nil {
			return err
		}
		defer schild.Close()
		if err := c.tree(schild, dchild, rel); err != nil {
			return err
		}
		// Last: creating entries changed the directory's times.
		return setMeta(schild, ".", dchild, ".", st)
	case unix.S_IFLNK:
		target, err := src.Readlink(name)
		if err != nil {
			return err
		}
		if err := dst.Symlink(target, name); err != nil {
			return err
		}
	case unix.S_IFREG:
		id := fileID{st.Dev, st.Ino}
		if st.Nlink > 1 {
			if first, ok := c.links[id]; ok {
				parent, base, err := c.dst.Split(first)
				if err != nil {
					return err
				}
				defer parent.Close()
				return dst.Link(parent, base, name)
			}
			c.links[id] = rel
		}
		in, err := src.OpenFile(name)
		if err != nil {
			return err
		}
		_, err = dst.CopyFile(name, in, 0o600) // copy_file_range where it can
		in.Close()
		if err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if err := dst.Mknod(name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // sockets belong to a process, not to an image
	}
	return setMeta(src, name, dst, name, st)
}

// setMeta gives dst/dname src/sname's owner, mode, extended attributes
// and times, never following a symlink ("." names the handle itself).
func setMeta(src *fsroot.Dir, sname string, dst *fsroot.Dir, dname string, st unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := dst.Lchown(dname, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dname, err)
	}
	if err := copyXattrs(src, sname, dst, dname); err != nil {
		return err
	}
	if !isLink {
		// After chown, which clears setuid/setgid.
		if err := dst.Chmod(dname, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", dname, err)
		}
	}
	atime := unix.NsecToTimespec(unix.TimespecToNsec(st.Atim))
	mtime := unix.NsecToTimespec(unix.TimespecToNsec(st.Mtim))
	if err := dst.Utimes(dname, atime, mtime); err != nil {
		return fmt.Errorf("set times of %s: %w", dname, err)
	}
	return nil
}

// copyXattrs copies the extended attributes a filesystem lets us read and
// write; one that the destination refuses (no support, a namespace we may
// not set) is skipped rather than failing the copy.
func copyXattrs(src *fsroot.Dir, sname string, dst *fsroot.Dir, dname string) error {
	names, err := src.Llistxattr(sname)
	if err != nil {
		return nil // no xattr support: nothing to copy
	}
	for _, name := range names {
		val, err := src.Lgetxattr(sname, name)
		if err != nil {
			continue
		}
		if err := dst.Lsetxattr(dname, name, val); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				continue
			}
			return fmt.Errorf("set xattr %s on %s: %w", name, dname, err)
		}
	}
	return nil
}
