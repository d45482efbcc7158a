package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/fsroot"
)

// TarOptions control Tar.
type TarOptions struct {
	// OverlayWhiteouts converts overlay whiteouts (0:0 char devices) and
	// opaque directories back to Docker's .wh. entries, for committing an
	// overlay upper dir as a layer.
	OverlayWhiteouts bool
	// IncludeFiles, if set, limits the tar to these paths (relative to
	// src) and everything under them.
	IncludeFiles []string
	// RebaseName, if set, puts every entry under this directory name.
	RebaseName string
}

// Tar streams a tar of the tree at src (entries relative to src, in
// lexical order). The tar is produced while it is read. src may be a tree
// that a running process changes meanwhile: it is read through handles
// that never leave it (internal/fsroot), so a symlink swapped in cannot
// lead the tar to anything outside src.
func Tar(ctx context.Context, src string, o TarOptions) (io.ReadCloser, error) {
	root, err := fsroot.Open(src)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer root.Close()
		w := &treeWriter{ctx: ctx, tw: tar.NewWriter(pw), links: map[fileKey]string{}, o: o}
		var err error
		if len(o.IncludeFiles) == 0 {
			err = w.self(root, o.RebaseName)
		} else {
			includes := append([]string(nil), o.IncludeFiles...)
			sort.Strings(includes)
			for _, inc := range includes {
				rel := path.Clean("/" + filepath.ToSlash(inc))[1:]
				if rel == "" {
					err = w.self(root, o.RebaseName)
				} else {
					err = w.includePath(root, rel)
				}
				if err != nil {
					break
				}
			}
		}
		if err == nil {
			err = w.tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// includePath adds the tree at rel (resolved inside root, its last
// element not followed) under its own name.
func (w *treeWriter) includePath(root *fsroot.Dir, rel string) error {
	parent, base, err := root.Split(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer parent.Close()
	err = w.node(parent, base, path.Join(w.o.RebaseName, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// treeWriter writes one tar of trees read through directory handles.
type treeWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	links map[fileKey]string
	o     TarOptions
}

// fileKey identifies an inode, for hardlinks.
type fileKey struct{ dev, ino uint64 }

// node is one entry, opened so that what is read is what was described.
type node struct {
	st   unix.Stat_t
	file *os.File    // a regular file, open for reading
	dir  *fsroot.Dir // a directory
	link string      // a symlink's target
}

func (n *node) close() {
	if n.file != nil {
		n.file.Close()
	}
	if n.dir != nil {
		n.dir.Close()
	}
}

// errChanged means an entry kept changing type while it was opened.
var errChanged = errors.New("file changed as it was read")

// changedType reports errors that mean an entry is no longer of the type
// lstat saw: it was swapped meanwhile.
func changedType(err error) bool {
	return errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EINVAL) || errors.Is(err, fsroot.ErrNotRegular)
}

// openNode opens parent/base as whatever it is now, never following it.
func openNode(parent *fsroot.Dir, base string) (*node, error) {
	for try := 0; try < 3; try++ {
		st, err := parent.Lstat(base)
		if err != nil {
			return nil, err
		}
		n := &node{st: st}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := parent.OpenFile(base)
			if err != nil {
				if changedType(err) {
					continue
				}
				return nil, err
			}
			if err := unix.Fstat(int(f.Fd()), &n.st); err != nil {
				f.Close()
				return nil, err
			}
			n.file = f
		case unix.S_IFDIR:
			d, err := parent.Child(base)
			if err != nil {
				if changedType(err) {
					continue
				}
				return nil, err
			}
			if n.st, err = d.Stat(); err != nil {
				d.Close()
				return nil, err
			}
			n.dir = d
		case unix.S_IFLNK:
			if n.link, err = parent.Readlink(base); err != nil {
				if changedType(err) {
					continue
				}
				return nil, err
			}
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s: %w", base, errChanged)
}

// self adds dir itself under name (nothing when name is empty) and then
// everything in it.
func (w *treeWriter) self(dir *fsroot.Dir, name string) error {
	if name != "" {
		st, err := dir.Stat()
		if err != nil {
			return err
		}
		if err := w.write(&node{st: st, dir: dir}, dir, ".", name); err != nil {
			return err
		}
	}
	return w.children(dir, name)
}

// node adds parent/base under name, and for a directory all of its tree.
// An entry that vanished meanwhile is left out.
func (w *treeWriter) node(parent *fsroot.Dir, base, name string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	n, err := openNode(parent, base)
	if err != nil {
		return err
	}
	defer n.close()
	if err := w.write(n, parent, base, name); err != nil {
		return err
	}
	if n.dir != nil {
		return w.children(n.dir, name)
	}
	return nil
}

// children adds dir's entries (in lexical order) under prefix.
func (w *treeWriter) children(dir *fsroot.Dir, prefix string) error {
	names, err := dir.ReadDirNames()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, base := range names {
		err := w.node(dir, base, path.Join(prefix, base))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// write adds one entry's header (and a regular file's content) for n,
// which is parent/base ("." for parent itself).
func (w *treeWriter) write(n *node, parent *fsroot.Dir, base, name string) error {
	st := n.st
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil // tar has no sockets; Docker skips them too
	}
	if w.o.OverlayWhiteouts && typ == unix.S_IFCHR && st.Rdev == 0 {
		dir, b := path.Split(name)
		return w.tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + b, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime(st), Format: tar.FormatPAX})
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime(st),
		Format:  tar.FormatPAX,
	}
	switch typ {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			key := fileKey{st.Dev, st.Ino}
			if first, ok := w.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				w.links[key] = name
			}
		}
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, n.link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil
	}
	if caps, err := parent.Lgetxattr(base, "security.capability"); err == nil && len(caps) > 0 {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(caps)}
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		// Exactly the size in the header: a file that grows is cut, one
		// that shrinks meanwhile is padded with zeros.
		c, err := io.CopyN(w.tw, n.file, hdr.Size)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		if c < hdr.Size {
			if _, err := io.CopyN(w.tw, zeros{}, hdr.Size-c); err != nil {
				return fmt.Errorf("tar %s: %w", name, err)
			}
		}
	}
	if w.o.OverlayWhiteouts && typ == unix.S_IFDIR && n.dir != nil {
		if v, err := n.dir.Lgetxattr(".", opaqueXattr); err == nil && string(v) == "y" {
			return w.tw.WriteHeader(&tar.Header{Name: path.Join(name, opaqueMarker), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime(st), Format: tar.FormatPAX})
		}
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func mtime(st unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
}

// StatPath describes path inside root, for `docker cp` (HEAD /archive).
// The last element is not followed.
func StatPath(root, p string) (*apicontainer.PathStat, error) {
	r, err := fsroot.Open(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	parent, base, err := r.Split(p)
	if err != nil {
		return nil, notFound(err, p)
	}
	defer parent.Close()
	return statIn(parent, base, p)
}

func notFound(err error, p string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s", p))
	}
	return err
}

func statIn(parent *fsroot.Dir, base, p string) (*apicontainer.PathStat, error) {
	var st unix.Stat_t
	var err error
	name := base
	if base == "." {
		st, err = parent.Stat()
		name = "/"
	} else {
		st, err = parent.Lstat(base)
	}
	if err != nil {
		return nil, notFound(err, p)
	}
	out := &apicontainer.PathStat{Name: name, Size: st.Size, Mode: fileMode(st.Mode), Mtime: mtime(st)}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		out.LinkTarget, _ = parent.Readlink(base)
	}
	return out, nil
}

// fileMode maps a stat mode to os.FileMode.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// TarPath returns a tar of path inside root whose top entry is path's base
// name (a trailing "/." copies a directory's contents), as `docker cp` out.
// A symlink as the last element is copied as the link, unless path ends
// in "/", which follows it (inside root).
func TarPath(ctx context.Context, root, p string) (io.ReadCloser, *apicontainer.PathStat, error) {
	if p == "" {
		return nil, nil, errdefs.ErrInvalidArgument.WithMessage("no path specified")
	}
	contentsOnly := strings.HasSuffix(p, "/.")
	r, err := fsroot.Open(root)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	parent, base, err := r.Split(p)
	if err != nil {
		return nil, nil, notFound(err, p)
	}
	st, err := statIn(parent, base, p)
	if err != nil {
		parent.Close()
		return nil, nil, err
	}
	// The tree to send: parent/base, or a directory handle of its own.
	var dir *fsroot.Dir
	if base == "." || (st.Mode&os.ModeSymlink != 0 && strings.HasSuffix(p, "/")) || (st.Mode.IsDir() && contentsOnly) {
		if dir, err = r.OpenDir(p); err != nil {
			parent.Close()
			return nil, nil, notFound(err, p)
		}
	}
	name := path.Base(path.Clean("/" + p))
	pr, pw := io.Pipe()
	go func() {
		defer parent.Close()
		w := &treeWriter{ctx: ctx, tw: tar.NewWriter(pw), links: map[fileKey]string{}}
		var err error
		switch {
		case dir != nil && contentsOnly:
			err = w.children(dir, "")
		case dir != nil:
			err = w.self(dir, name)
		default:
			err = w.node(parent, base, name)
		}
		if dir != nil {
			dir.Close()
		}
		if err == nil {
			err = w.tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, st, nil
}

// ExtractTo extracts a tar into the directory p inside root (`docker cp`
// in). The directory must exist; it and everything the tar names are
// resolved inside root through handles (internal/fsroot).
func ExtractTo(ctx context.Context, root, p string, r io.Reader, noOverwriteDirNonDir bool) error {
	rd, err := fsroot.Open(root)
	if err != nil {
		return err
	}
	defer rd.Close()
	dir, err := rd.OpenDir(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no such directory: %s", p))
		}
		if errors.Is(err, unix.ENOTDIR) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("extraction point is not a directory: %s", p))
		}
		return err
	}
	defer dir.Close()
	_, err = ApplyDir(ctx, dir, r, ApplyOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir, LiteralWhiteouts: true})
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("extract to %s: %v", p, err))
	}
	return nil
}

// Change kinds, as the Engine API's ChangeType.
const (
	ChangeModify = 0
	ChangeAdd    = 1
	ChangeDelete = 2
)

// Change is one path changed in a container's upper dir.
type Change struct {
	Kind int
	Path string
}

// Changes lists what an overlay upper dir adds, modifies and deletes
// (`docker diff`), sorted by path. Overlayfs marks what it copied up from
// a lower layer with the trusted.overlay.origin xattr: such paths are
// modified, paths without it added, whiteouts deleted. Where the kernel
// records no origin, a directory counts as modified unless it is opaque or
// under an added one. The upper dir is read through handles: a running
// container cannot lead the walk out of it.
func Changes(upper string) ([]Change, error) {
	root, err := fsroot.Open(upper)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer root.Close()
	_, uerr := root.Lgetxattr(".", "trusted.overlay.uuid")
	_, ierr := root.Lgetxattr(".", "trusted.overlay.impure")
	_, oerr := root.Lgetxattr(".", "trusted.overlay.origin")
	origins := uerr == nil || ierr == nil || oerr == nil
	var out []Change
	var walk func(dir *fsroot.Dir, prefix string, underAdded bool) error
	walk = func(dir *fsroot.Dir, prefix string, underAdded bool) error {
		names, err := dir.ReadDirNames()
		if err != nil {
			return err
		}
		for _, base := range names {
			name := prefix + "/" + base
			st, err := dir.Lstat(base)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			typ := st.Mode & unix.S_IFMT
			if typ == unix.S_IFCHR && st.Rdev == 0 {
				out = append(out, Change{Kind: ChangeDelete, Path: name})
				continue
			}
			kind := ChangeAdd
			_, originErr := dir.Lgetxattr(base, "trusted.overlay.origin")
			switch {
			case underAdded:
			case originErr == nil:
				kind = ChangeModify
			case typ == unix.S_IFDIR && !origins:
				if _, err := dir.Lgetxattr(base, opaqueXattr); err != nil {
					kind = ChangeModify
				}
			}
			out = append(out, Change{Kind: kind, Path: name})
			if typ != unix.S_IFDIR {
				continue
			}
			child, err := dir.Child(base)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || changedType(err) {
					continue
				}
				return err
			}
			err = walk(child, name, kind == ChangeAdd)
			child.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, "", false); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
