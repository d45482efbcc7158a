package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// splitCpArg splits "container:path"; a local path has no container part.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg
	}
	return c, rest
}

// NewCpCommand is `cp`.
func NewCpCommand(cli *command.Cli) *cobra.Command {
	var archive, follow, quiet bool
	cmd := command.NewCommand("cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", "Copy files/folders between a container and the local filesystem", command.ExactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			srcC, srcP := splitCpArg(args[0])
			dstC, dstP := splitCpArg(args[1])
			switch {
			case srcC != "" && dstC != "":
				return errors.New("copying between containers is not supported")
			case srcC == "" && dstC == "":
				return errors.New("must specify at least one container source")
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			if srcC != "" {
				return copyFrom(cmd.Context(), cli, api, srcC, srcP, dstP, follow)
			}
			return copyTo(cmd.Context(), cli, api, srcP, dstC, dstP, archive, follow)
		})
	cmd.Flags().BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy")
	return cmd
}

func copyFrom(ctx context.Context, cli *command.Cli, api client.APIClient, ctr, src, dst string, follow bool) error {
	if follow {
		if st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: src}); err == nil && st.Stat.LinkTarget != "" {
			src = st.Stat.LinkTarget
		}
	}
	res, err := api.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err := io.Copy(cli.Out, res.Content)
		return err
	}
	// Into an existing directory: keep the source's name; otherwise the
	// copied item takes the destination's name.
	srcBase := res.Stat.Name
	if srcBase == "" {
		srcBase = path.Base(src)
	}
	destDir, rename := dst, ""
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		destDir, rename = filepath.Dir(dst), filepath.Base(dst)
	}
	return untar(res.Content, destDir, srcBase, rename)
}

// untar extracts r into dir, renaming the top-level entry from -> to.
func untar(r io.Reader, dir, from, to string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		if to != "" && (name == from || strings.HasPrefix(name, from+"/")) {
			name = to + strings.TrimPrefix(name, from)
		}
		if strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
			return fmt.Errorf("archive entry %q escapes destination", hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		}
		_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
	}
}

func copyTo(ctx context.Context, cli *command.Cli, api client.APIClient, src, ctr, dst string, archive, follow bool) error {
	if src == "-" {
		_, err := api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: dst, Content: cli.In, CopyUIDGID: archive})
		return err
	}
	if follow {
		if p, err := filepath.EvalSymlinks(src); err == nil {
			src = p
		}
	}
	if _, err := os.Lstat(src); err != nil {
		return err
	}
	destDir, name := dst, filepath.Base(src)
	st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	switch {
	case err == nil && st.Stat.Mode.IsDir():
	case err == nil || cerrdefs.IsNotFound(err):
		destDir, name = path.Dir(dst), path.Base(dst)
	default:
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarPath(src, name, pw)) }()
	defer pr.Close()
	_, err = api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: destDir, Content: pr, CopyUIDGID: archive})
	return err
}

// tarPath archives src (file or directory) with its top entry named name.
func tarPath(src, name string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return command.AddTarEntry(tw, p, path.Join(name, filepath.ToSlash(rel)), info, false)
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	return tw.Close()
}
