package bootstrap

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Epoch is the modification time every entry gets, so the same tree
// always gives the same bytes (SOURCE_DATE_EPOCH-style).
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// skipContents are directories kept empty in an image: the runtime mounts
// its own (and device nodes are refused by image import).
var skipContents = map[string]bool{"dev": true, "proc": true, "sys": true}

// WriteTar writes the tree at root as a tar: entries in lexical order,
// every time set to Epoch, owners numeric, no user or group names, hard
// links kept as links. Sockets and devices are left out.
func WriteTar(root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := filepath.Join(root, rel)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			r := filepath.Join(rel, n)
			p := filepath.Join(root, r)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			st, _ := fi.Sys().(*syscall.Stat_t)
			hdr := &tar.Header{
				Name: r, Mode: int64(fi.Mode().Perm()), ModTime: Epoch, Format: tar.FormatPAX,
			}
			if fi.Mode()&os.ModeSetuid != 0 {
				hdr.Mode |= 0o4000
			}
			if fi.Mode()&os.ModeSetgid != 0 {
				hdr.Mode |= 0o2000
			}
			if fi.Mode()&os.ModeSticky != 0 {
				hdr.Mode |= 0o1000
			}
			if st != nil {
				hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			}
			switch {
			case fi.IsDir():
				hdr.Typeflag, hdr.Name = tar.TypeDir, r+"/"
			case fi.Mode()&os.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
			case fi.Mode().IsRegular():
				if st != nil && st.Nlink > 1 {
					key := [2]uint64{uint64(st.Dev), st.Ino}
					if first, ok := links[key]; ok {
						hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
						break
					}
					links[key] = r
				}
				hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
			default:
				continue // devices, sockets, fifos
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("tar %s: %w", r, err)
			}
			if hdr.Typeflag == tar.TypeReg {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.Copy(tw, f)
				f.Close()
				if err != nil {
					return fmt.Errorf("tar %s: %w", r, err)
				}
			}
			if fi.IsDir() && !(rel == "" && skipContents[n]) {
				if err := walk(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return err
	}
	return tw.Close()
}
