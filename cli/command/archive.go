package command

import (
	"archive/tar"
	"io"
	"os"
)

// AddTarEntry adds the file at path to tw under name: a directory with a
// trailing slash, a symlink with its target, a regular file with its
// content. dropOwnerNames leaves the user and group names out (a build
// context carries only numeric owners).
func AddTarEntry(tw *tar.Writer, path, name string, info os.FileInfo, dropOwnerNames bool) error {
	link := ""
	if info.Mode()&os.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
	}
	if dropOwnerNames {
		hdr.Uname, hdr.Gname = "", ""
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
