// Package fsroot reads and writes a directory tree that somebody else
// controls — a running container's rootfs, its overlay upper dir, a volume
// another container has mounted — without ever leaving it.
//
// A path string is never handed to a path-based system call. A Dir is an
// open directory handle; a path inside it is resolved by the kernel with
// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), so ".." and absolute
// symlinks stop at the handle as they would at a chroot's "/", and every
// operation then works on the handle of the resolved parent with the last
// component never followed (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, *at calls).
// A process that swaps a directory for a symlink while berth works (the
// CVE-2018-15664 class of races) can at most redirect berth to another
// place inside the same root.
package fsroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// resolveFlags make openat2 treat the directory handle as the root.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// Dir is an open directory. It is not safe for concurrent Close.
type Dir struct {
	f *os.File
}

// Open opens the directory at a trusted host path (the caller's own data
// root, a bind mount's source): the host path itself is followed as given.
func Open(hostPath string) (*Dir, error) {
	fd, err := unix.Open(hostPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: hostPath, Err: err}
	}
	return &Dir{f: os.NewFile(uintptr(fd), hostPath)}, nil
}

// Close releases the handle.
func (d *Dir) Close() error { return d.f.Close() }

// Name is the name the handle was opened with, for messages only.
func (d *Dir) Name() string { return d.f.Name() }

// Fd is the handle's file descriptor.
func (d *Dir) Fd() int { return int(d.f.Fd()) }

// checkBase refuses names that are not exactly one directory entry.
func checkBase(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid file name %q", name)
	}
	return nil
}

func (d *Dir) pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: path.Join(d.f.Name(), name), Err: err}
}

// openat2 resolves p inside d (d acting as "/"), retrying the kernel's
// EAGAIN (a concurrent rename while resolving "..") and EINTR.
func (d *Dir) openat2(p string, flags uint64) (int, error) {
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolveFlags}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(d.Fd(), p, how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 128 {
			continue
		}
		return fd, err
	}
}

// relName turns a path inside the root into openat2's relative form.
func relName(p string) string {
	clean := path.Clean("/" + p)
	if clean == "/" {
		return "."
	}
	return clean[1:]
}

// OpenDir resolves p inside d (symlinks are followed, but never out of d)
// and opens the directory it names.
func (d *Dir) OpenDir(p string) (*Dir, error) {
	fd, err := d.openat2(relName(p), unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, d.pathErr("open", p, err)
	}
	return &Dir{f: os.NewFile(uintptr(fd), path.Join(d.f.Name(), path.Clean("/"+p)))}, nil
}

// Split resolves the directory part of p inside d and returns it with p's
// last element, which is not resolved (so a symlink there is the link
// itself). A p of "/" gives d's own handle again and ".".
func (d *Dir) Split(p string) (*Dir, string, error) {
	clean := path.Clean("/" + p)
	if clean == "/" {
		nd, err := d.OpenDir(".")
		return nd, ".", err
	}
	dir, base := path.Split(clean)
	parent, err := d.OpenDir(dir)
	if err != nil {
		return nil, "", err
	}
	return parent, base, nil
}

// MkdirAll creates p inside d as `mkdir -p` would (following symlinks that
// stay inside d) and opens it.
func (d *Dir) MkdirAll(p string, mode os.FileMode) (*Dir, error) {
	rel := relName(p)
	if nd, err := d.OpenDir(rel); err == nil || !errors.Is(err, unix.ENOENT) {
		return nd, err
	}
	h, err := pathrs.MkdirAllHandle(d.f, rel, mode)
	if err != nil {
		return nil, d.pathErr("mkdir", p, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, d.pathErr("open", p, err)
	}
	return &Dir{f: f}, nil
}

// Child opens the directory entry name of d, refusing to follow a symlink
// (ELOOP or ENOTDIR if name is not a directory).
func (d *Dir) Child(name string) (*Dir, error) {
	if err := checkBase(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.Fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, d.pathErr("open", name, err)
	}
	return &Dir{f: os.NewFile(uintptr(fd), path.Join(d.f.Name(), name))}, nil
}

// Stat describes d itself.
func (d *Dir) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(d.Fd(), &st)
	return st, err
}

// Lstat describes the entry name without following it.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := checkBase(name); err != nil {
		return st, err
	}
	if err := unix.Fstatat(d.Fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, d.pathErr("lstat", name, err)
	}
	return st, nil
}

// Readlink reads the symlink name.
func (d *Dir) Readlink(name string) (string, error) {
	if err := checkBase(name); err != nil {
		return "", err
	}
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(d.Fd(), name, buf)
		if err != nil {
			return "", d.pathErr("readlink", name, err)
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// ReadDirNames lists d's entries (unsorted, without "." and "..").
func (d *Dir) ReadDirNames() ([]string, error) {
	// A second handle on the same directory, so d's own offset is untouched.
	fd, err := unix.Openat(d.Fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, d.pathErr("open", ".", err)
	}
	f := os.NewFile(uintptr(fd), d.f.Name())
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, d.pathErr("readdir", ".", err)
	}
	return names, nil
}

// Mkdir makes the directory name.
func (d *Dir) Mkdir(name string, mode os.FileMode) error {
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.Mkdirat(d.Fd(), name, uint32(mode.Perm())); err != nil {
		return d.pathErr("mkdir", name, err)
	}
	return nil
}

// Create makes a new regular file name (it must not exist) for writing.
func (d *Dir) Create(name string, perm os.FileMode) (*os.File, error) {
	if err := checkBase(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.Fd(), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, d.pathErr("create", name, err)
	}
	return os.NewFile(uintptr(fd), path.Join(d.f.Name(), name)), nil
}

// OpenFile opens the regular file name for reading; anything else (a
// symlink, a fifo, a device, a directory) is refused.
func (d *Dir) OpenFile(name string) (*os.File, error) {
	if err := checkBase(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.Fd(), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, d.pathErr("open", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			err = ErrNotRegular
		}
		return nil, d.pathErr("open", name, err)
	}
	return os.NewFile(uintptr(fd), path.Join(d.f.Name(), name)), nil
}

// Symlink makes name a symlink to target (stored as given).
func (d *Dir) Symlink(target, name string) error {
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, d.Fd(), name); err != nil {
		return d.pathErr("symlink", name, err)
	}
	return nil
}

// Link makes name a hard link to srcName in src. A symlink is linked
// itself, never what it points to.
func (d *Dir) Link(src *Dir, srcName, name string) error {
	if err := checkBase(name); err != nil {
		return err
	}
	if err := checkBase(srcName); err != nil {
		return err
	}
	if err := unix.Linkat(src.Fd(), srcName, d.Fd(), name, 0); err != nil {
		return d.pathErr("link", name, err)
	}
	return nil
}

// Mknod makes a device node or fifo; mode carries the S_IF type bits.
func (d *Dir) Mknod(name string, mode uint32, dev int) error {
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.Mknodat(d.Fd(), name, mode, dev); err != nil {
		return d.pathErr("mknod", name, err)
	}
	return nil
}

// Lchown sets the owner of name without following it ("." for d).
func (d *Dir) Lchown(name string, uid, gid int) error {
	if name == "." {
		return unix.Fchown(d.Fd(), uid, gid)
	}
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.Fchownat(d.Fd(), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return d.pathErr("lchown", name, err)
	}
	return nil
}

// Chmod sets the mode bits (with setuid, setgid and sticky, as unix
// permission bits 07777) of name. A symlink has no mode of its own and is
// left alone. "." names d itself.
func (d *Dir) Chmod(name string, mode uint32) error {
	if name == "." {
		return unix.Fchmod(d.Fd(), mode&0o7777)
	}
	if err := checkBase(name); err != nil {
		return err
	}
	fd, err := unix.Openat(d.Fd(), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return d.pathErr("chmod", name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return d.pathErr("chmod", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	// fchmod does not take O_PATH handles; the handle's /proc entry leads
	// to exactly the inode it holds.
	if err := unix.Fchmodat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), mode&07777, 0); err != nil {
		return d.pathErr("chmod", name, err)
	}
	return nil
}

// Utimes sets the access and modification times of name without
// following it.
func (d *Dir) Utimes(name string, atime, mtime unix.Timespec) error {
	if name == "." {
		return unix.UtimesNanoAt(d.Fd(), "", []unix.Timespec{atime, mtime}, unix.AT_EMPTY_PATH)
	}
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.UtimesNanoAt(d.Fd(), name, []unix.Timespec{atime, mtime}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return d.pathErr("utimes", name, err)
	}
	return nil
}

// entryPath names the entry through d's /proc handle, for the l*xattr
// calls that have no *at form: the handle's /proc link leads to d itself
// and the last component is not followed. (For d itself the f*xattr
// calls take the handle.)
func (d *Dir) entryPath(name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name)
}

// Lgetxattr reads an extended attribute of name (or "." for d itself).
func (d *Dir) Lgetxattr(name, attr string) ([]byte, error) {
	if name != "." {
		if err := checkBase(name); err != nil {
			return nil, err
		}
	}
	get := func(buf []byte) (int, error) {
		if name == "." {
			return unix.Fgetxattr(d.Fd(), attr, buf)
		}
		return unix.Lgetxattr(d.entryPath(name), attr, buf)
	}
	buf := make([]byte, 256)
	for {
		n, err := get(buf)
		if errors.Is(err, unix.ERANGE) {
			sz, serr := get(nil)
			if serr != nil {
				return nil, serr
			}
			buf = make([]byte, sz)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// Llistxattr lists the extended attribute names of name.
func (d *Dir) Llistxattr(name string) ([]string, error) {
	if name != "." {
		if err := checkBase(name); err != nil {
			return nil, err
		}
	}
	list := func(buf []byte) (int, error) {
		if name == "." {
			return unix.Flistxattr(d.Fd(), buf)
		}
		return unix.Llistxattr(d.entryPath(name), buf)
	}
	sz, err := list(nil)
	if err != nil || sz == 0 {
		return nil, err
	}
	buf := make([]byte, sz)
	sz, err = list(buf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range strings.Split(string(buf[:sz]), "\x00") {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// Lsetxattr sets an extended attribute of name (or "." for d itself).
func (d *Dir) Lsetxattr(name, attr string, value []byte) error {
	if name != "." {
		if err := checkBase(name); err != nil {
			return err
		}
		return unix.Lsetxattr(d.entryPath(name), attr, value, 0)
	}
	return unix.Fsetxattr(d.Fd(), attr, value, 0)
}

// Remove deletes the entry name (an empty directory or anything else).
func (d *Dir) Remove(name string) error {
	if err := checkBase(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.Fd(), name, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(d.Fd(), name, unix.AT_REMOVEDIR)
	}
	if err != nil {
		return d.pathErr("remove", name, err)
	}
	return nil
}

// RemoveAll deletes name and, for a directory, everything under it,
// descending only into real directories. A name that does not exist is
// not an error.
func (d *Dir) RemoveAll(name string) error {
	if err := checkBase(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.Fd(), name, 0)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM):
		return d.pathErr("remove", name, err)
	}
	child, err := d.Child(name)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	names, err := child.ReadDirNames()
	if err == nil {
		for _, n := range names {
			if err = child.RemoveAll(n); err != nil {
				break
			}
		}
	}
	child.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(d.Fd(), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return d.pathErr("remove", name, err)
	}
	return nil
}

// WriteFile replaces name with a regular file holding data (through a
// temporary name and a rename, so a reader never sees half of it).
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode) error {
	if err := checkBase(name); err != nil {
		return err
	}
	tmp := ".berth-tmp-" + name
	_ = d.RemoveAll(tmp)
	f, err := d.Create(tmp, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d.Fd(), tmp, d.Fd(), name)
	}
	if err != nil {
		_ = d.Remove(tmp)
		return d.pathErr("write", name, err)
	}
	return nil
}

// CopyFile copies the content of the open file r into a new file name.
func (d *Dir) CopyFile(name string, r io.Reader, perm os.FileMode) (int64, error) {
	f, err := d.Create(name, perm)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pe *os.PathError
		if !errors.As(err, &pe) {
			err = d.pathErr("write", name, err)
		}
		return n, err
	}
	return n, nil
}

// ErrNotRegular is returned by OpenFile for an entry that is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")
