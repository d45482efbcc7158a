package machine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/machine"
)

func newSSHCommand(e *env) *cobra.Command {
	cmd := command.NewCommand("ssh NAME [COMMAND...]", "Log into or run a command on a machine with SSH", command.MinArgs(1), func(cmd *cobra.Command, args []string) error {
		_, m, d, err := e.load(args[0])
		if err != nil {
			return err
		}
		_, tty := term.GetFdInfo(e.cli.In)
		code, err := d.Run(cmd.Context(), m, strings.Join(args[1:], " "), machine.Stdio{In: e.cli.In, Out: e.cli.Out, Err: e.cli.Err, TTY: tty})
		if err != nil {
			return err
		}
		if code != 0 {
			return &command.StatusError{Code: code}
		}
		return nil
	})
	// Everything after NAME is the command, its flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// location is one side of `machine scp`: a path here, or on a machine.
type location struct {
	machine string // "" is this host
	path    string
}

func parseLocation(s string) location {
	if i := strings.Index(s, ":"); i > 0 && !strings.Contains(s[:i], "/") {
		return location{machine: s[:i], path: s[i+1:]}
	}
	return location{path: s}
}

// shellPath quotes a machine path for sh, keeping a leading ~ as $HOME.
func shellPath(p string) string {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	switch {
	case p == "" || p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + quote(p[2:])
	}
	return quote(p)
}

func newSCPCommand(e *env) *cobra.Command {
	var recursive bool
	cmd := command.NewCommand("scp [OPTIONS] [[MACHINE:]SRC] [[MACHINE:]DST]", "Copy files between machines", command.ExactArgs(2), func(cmd *cobra.Command, args []string) error {
		src, dst := parseLocation(args[0]), parseLocation(args[1])
		return e.copy(cmd.Context(), src, dst, recursive)
	})
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "Copy files recursively (required to copy directories)")
	return cmd
}

// copy streams src to dst as a tar of one entry (a file, or with -r a
// directory): read by tar on a machine or here, written likewise. A
// destination that is a directory receives the entry under its own name,
// as scp does.
func (e *env) copy(ctx context.Context, src, dst location, recursive bool) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := e.send(ctx, src, recursive, pw)
		pw.CloseWithError(err)
		errc <- err
	}()
	rerr := e.receive(ctx, dst, filepath.Base(strings.TrimRight(src.path, "/")), pr)
	if rerr == nil {
		_, _ = io.Copy(io.Discard, pr) // tar pads its stream past the end marker
	}
	pr.CloseWithError(errors.New("receiver ended"))
	serr := <-errc
	if serr != nil {
		return serr
	}
	return rerr
}

func (e *env) send(ctx context.Context, src location, recursive bool, w io.Writer) error {
	if src.machine == "" {
		return tarLocal(src.path, recursive, w)
	}
	_, m, d, err := e.load(src.machine)
	if err != nil {
		return err
	}
	p := shellPath(src.path)
	script := fmt.Sprintf(`p=%s; if [ -d "$p" ]; then if [ %t != true ]; then echo "scp: $p: not a regular file" >&2; exit 1; fi; cd "$p" && exec tar -cf - .; fi; cd "$(dirname "$p")" && exec tar -cf - --transform 's|^[^/]*|.FILE|' "$(basename "$p")"`, p, recursive)
	var stderr strings.Builder
	code, err := d.Run(ctx, m, script, machine.Stdio{Out: w, Err: &stderr})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s", strings.TrimSpace(stderr.String()))
	}
	return nil
}

// The stream's entries are under "." for a directory, or one ".FILE".
func tarLocal(path string, recursive bool, w io.Writer) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("scp: %w", err)
	}
	tw := tar.NewWriter(w)
	if !fi.IsDir() {
		if err := command.AddTarEntry(tw, path, ".FILE", fi, true); err != nil {
			return err
		}
		return tw.Close()
	}
	if !recursive {
		return fmt.Errorf("scp: %s: not a regular file", path)
	}
	err = filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		return command.AddTarEntry(tw, p, "./"+filepath.ToSlash(rel), info, true)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func (e *env) receive(ctx context.Context, dst location, base string, r io.Reader) error {
	if dst.machine == "" {
		return untarLocal(dst.path, base, r)
	}
	_, m, d, err := e.load(dst.machine)
	if err != nil {
		return err
	}
	// A directory stream goes into DST (or DST/BASE when DST is a
	// directory already); a file becomes DST, or DST/BASE.
	script := fmt.Sprintf(`set -e; p=%s; b=%s; t=$(mktemp -d "${TMPDIR:-/tmp}/berth-scp.XXXXXX"); trap 'rm -rf "$t"' EXIT; tar -xf - -C "$t"
if [ -e "$t/.FILE" ]; then if [ -d "$p" ]; then p="$p/$b"; fi; cat "$t/.FILE" > "$p"; chmod --reference="$t/.FILE" "$p"
else if [ -d "$p" ]; then p="$p/$b"; fi; mkdir -p "$p"; cp -a "$t"/. "$p"/; fi`, shellPath(dst.path), shellPath(base))
	var stderr strings.Builder
	code, err := d.Run(ctx, m, script, machine.Stdio{In: r, Out: io.Discard, Err: &stderr})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("scp: %s", strings.TrimSpace(stderr.String()))
	}
	return nil
}

func untarLocal(dst, base string, r io.Reader) error {
	tr := tar.NewReader(r)
	root := dst
	first := true
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("scp: refusing the path %q", h.Name)
		}
		if first {
			first = false
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				root = filepath.Join(dst, base)
			}
			if name != ".FILE" {
				if err := os.MkdirAll(root, 0o755); err != nil {
					return err
				}
			}
		}
		target := filepath.Join(root, name)
		if name == ".FILE" {
			target = root
		} else if err := noSymlinkBetween(root, target); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}

// noSymlinkBetween refuses a target reached through a symlink below root
// (an entry the stream made could otherwise lead a later one outside).
func noSymlinkBetween(root, target string) error {
	rel, err := filepath.Rel(root, filepath.Dir(target))
	if err != nil || rel == "." {
		return err
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("scp: refusing to write through the symlink %s", p)
		}
	}
	return nil
}
