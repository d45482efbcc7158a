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
	// RebaseName, if set, replaces the top directory's name in entry names.
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
		err := writeTree(ctx, tw, src, "", o)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// writeTree adds src's contents under prefix.
func writeTree(ctx context.Context, tw *tar.Writer, src, prefix string, o TarOptions) error {
	links := map[uint64]string{}
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

func addEntry(tw *tar.Writer, p, name string, links map[uint64]string, o TarOptions) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
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
			if first, ok := links[st.Ino]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				links[st.Ino] = name
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
			return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no such file or directory: %s", p))
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
			err = writeTree(ctx, tw, host, "", TarOptions{})
		case fi.IsDir():
			err = writeTree(ctx, tw, host, base, TarOptions{})
		default:
			err = addEntry(tw, host, base, map[uint64]string{}, TarOptions{})
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
	_, err = Apply(ctx, host, r, ApplyOptions{})
	return err
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
// (`docker diff`). Without the lower dirs at hand, a path in the upper dir
// is reported as added when its parent is new or opaque, else modified.
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
		kind := ChangeModify
		if added[path.Dir(name)] {
			kind = ChangeAdd
		}
		if fi.IsDir() {
			if v, err := lgetxattr(p, opaqueXattr); err == nil && string(v) == "y" {
				added[name] = true
			}
		} else {
			kind = ChangeAdd
			if !added[path.Dir(name)] {
				kind = ChangeAdd
			}
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
