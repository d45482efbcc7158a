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
	"syscall"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	apicontainer "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
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
// lexical order). The tar is produced while it is read.
func Tar(ctx context.Context, src string, o TarOptions) (io.ReadCloser, error) {
	if _, err := os.Lstat(src); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		links := map[fileKey]string{}
		var err error
		if len(o.IncludeFiles) == 0 {
			err = writeTree(ctx, tw, src, o.RebaseName, links, o)
		} else {
			includes := append([]string(nil), o.IncludeFiles...)
			sort.Strings(includes)
			for _, inc := range includes {
				rel := path.Clean("/" + filepath.ToSlash(inc))[1:]
				if rel == "" {
					err = writeTree(ctx, tw, src, o.RebaseName, links, o)
				} else {
					var p string
					if p, err = resolve(src, rel); err == nil {
						err = writeTree(ctx, tw, p, path.Join(o.RebaseName, rel), links, o)
					}
				}
				if err != nil {
					break
				}
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// writeTree adds src's contents under prefix.
func writeTree(ctx context.Context, tw *tar.Writer, src, prefix string, links map[fileKey]string, o TarOptions) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			if prefix == "" {
				return nil
			}
			rel = ""
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		return addEntry(tw, p, name, links, o)
	})
}

// fileKey identifies an inode, for hardlinks.
type fileKey struct{ dev, ino uint64 }

func addEntry(tw *tar.Writer, p, name string, links map[fileKey]string, o TarOptions) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil // tar has no sockets; Docker skips them too
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if o.OverlayWhiteouts && fi.Mode()&os.ModeCharDevice != 0 && st != nil && st.Rdev == 0 {
		dir, base := path.Split(name)
		return tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()})
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("tar %s: %w", p, err)
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if st != nil {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := fileKey{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				links[key] = name
			}
		}
	}
	if caps, err := lgetxattr(p, "security.capability"); err == nil && len(caps) > 0 {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(caps)}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("tar %s: %w", p, err)
		}
	}
	if o.OverlayWhiteouts && fi.IsDir() {
		if v, err := lgetxattr(p, opaqueXattr); err == nil && string(v) == "y" {
			return tw.WriteHeader(&tar.Header{Name: path.Join(name, opaqueMarker), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()})
		}
	}
	return nil
}

func lgetxattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, attr, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// resolve maps a container path to a host path inside root, following
// symlinks only within root. The last element is not followed.
func resolve(root, p string) (string, error) {
	clean := path.Clean("/" + p)
	if clean == "/" {
		return root, nil
	}
	dir, base := path.Split(clean)
	parent, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, base), nil
}

// StatPath describes path inside root, for `docker cp` (HEAD /archive).
func StatPath(root, p string) (*apicontainer.PathStat, error) {
	host, err := resolve(root, p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s", p))
		}
		return nil, err
	}
	st := &apicontainer.PathStat{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&os.ModeSymlink != 0 {
		st.LinkTarget, _ = os.Readlink(host)
	}
	return st, nil
}

// TarPath returns a tar of path inside root whose top entry is path's base
// name (a trailing "/." copies a directory's contents), as `docker cp` out.
func TarPath(ctx context.Context, root, p string) (io.ReadCloser, *apicontainer.PathStat, error) {
	contentsOnly := strings.HasSuffix(p, "/.")
	st, err := StatPath(root, p)
	if err != nil {
		return nil, nil, err
	}
	host, err := resolve(root, p)
	if err != nil {
		return nil, nil, err
	}
	if st.Mode&os.ModeSymlink != 0 && strings.HasSuffix(p, "/") {
		if host, err = securejoin.SecureJoin(root, p); err != nil {
			return nil, nil, err
		}
	}
	base := path.Base(path.Clean("/" + p))
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		var err error
		fi, lerr := os.Lstat(host)
		switch {
		case lerr != nil:
			err = lerr
		case fi.IsDir() && contentsOnly:
			err = writeTree(ctx, tw, host, "", map[fileKey]string{}, TarOptions{})
		case fi.IsDir():
			err = writeTree(ctx, tw, host, base, map[fileKey]string{}, TarOptions{})
		default:
			err = addEntry(tw, host, base, map[fileKey]string{}, TarOptions{})
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, st, nil
}

// ExtractTo extracts a tar into the directory p inside root (`docker cp`
// in). The directory must exist.
func ExtractTo(ctx context.Context, root, p string, r io.Reader, noOverwriteDirNonDir bool) error {
	host, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(host)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no such directory: %s", p))
		}
		return err
	}
	if !fi.IsDir() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("extraction point is not a directory: %s", p))
	}
	_, err = Apply(ctx, host, r, ApplyOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir, LiteralWhiteouts: true})
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
// under an added one.
func Changes(upper string) ([]Change, error) {
	var out []Change
	added := map[string]bool{}
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if rel == "." {
			return nil
		}
		name := "/" + filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0 {
			out = append(out, Change{Kind: ChangeDelete, Path: name})
			return nil
		}
		kind := ChangeAdd
		switch {
		case added[path.Dir(name)]:
		case hasXattr(p, "trusted.overlay.origin"):
			kind = ChangeModify
		case fi.IsDir() && !hasXattr(p, opaqueXattr) && !originsRecorded(upper):
			kind = ChangeModify
		}
		if kind == ChangeAdd && fi.IsDir() {
			added[name] = true
		}
		out = append(out, Change{Kind: kind, Path: name})
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func hasXattr(p, attr string) bool {
	_, err := unix.Lgetxattr(p, attr, nil)
	return err == nil
}

// originsRecorded reports whether overlayfs records copy-up origins in
// this upper dir: recent kernels mark its root with a uuid at mount (and
// impure once something is copied up), when the lower fs supports file
// handles.
func originsRecorded(upper string) bool {
	return hasXattr(upper, "trusted.overlay.uuid") || hasXattr(upper, "trusted.overlay.impure") || hasXattr(upper, "trusted.overlay.origin")
}
