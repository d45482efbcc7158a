// Package bootstrap makes base images from a distribution's own package
// mirror: it runs Debian's debootstrap into a temporary directory, trims
// the tree like Docker's -slim images, and writes it as a reproducible tar
// (sorted entries, clamped times, numeric owners) that `import` turns into
// a one-layer image. The same inputs give the same tar bytes, and the
// cache key of the inputs lets a second bootstrap reuse the first image.
package bootstrap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// FormatVersion changes whenever trimming or tar writing changes, so old
// cached images are not reused for a different result.
const FormatVersion = "1"

// Options are the inputs of a bootstrap.
type Options struct {
	Suite   string   // bookworm, trixie, …
	Variant string   // minbase (default) or slim (minbase, trimmed harder)
	Mirror  string   // e.g. http://deb.debian.org/debian
	Include []string // extra packages
}

// Normalize fills defaults and sorts the package list.
func (o Options) Normalize() Options {
	if o.Variant == "" {
		o.Variant = "minbase"
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror()
	}
	o.Mirror = strings.TrimRight(o.Mirror, "/")
	var inc []string
	seen := map[string]bool{}
	for _, p := range o.Include {
		for _, q := range strings.Split(p, ",") {
			q = strings.TrimSpace(q)
			if q != "" && !seen[q] {
				seen[q] = true
				inc = append(inc, q)
			}
		}
	}
	sort.Strings(inc)
	o.Include = inc
	return o
}

// Validate checks the options before anything runs.
func (o Options) Validate() error {
	if o.Suite == "" || strings.ContainsAny(o.Suite, "/ \t") {
		return fmt.Errorf("invalid suite %q", o.Suite)
	}
	switch o.Variant {
	case "minbase", "slim":
	default:
		return fmt.Errorf("invalid variant %q: use minbase or slim", o.Variant)
	}
	if !strings.HasPrefix(o.Mirror, "http://") && !strings.HasPrefix(o.Mirror, "https://") && !strings.HasPrefix(o.Mirror, "file://") {
		return fmt.Errorf("invalid mirror %q: want an http(s):// or file:// URL", o.Mirror)
	}
	for _, p := range o.Include {
		if strings.ContainsAny(p, " \t/;") {
			return fmt.Errorf("invalid package name %q", p)
		}
	}
	return nil
}

// Key is the cache key of the inputs (recorded as the image label
// berth.bootstrap.key).
func (o Options) Key() string {
	o = o.Normalize()
	h := sha256.New()
	fmt.Fprintf(h, "format=%s\nsuite=%s\nvariant=%s\nmirror=%s\ninclude=%s\n", FormatVersion, o.Suite, o.Variant, o.Mirror, strings.Join(o.Include, ","))
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultMirror is the Debian mirror this host's apt uses, or
// deb.debian.org.
func DefaultMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			var u string
			switch {
			case len(fields) >= 2 && fields[0] == "URIs:":
				u = fields[1]
			case len(fields) >= 3 && fields[0] == "deb":
				u = fields[1]
				if strings.HasPrefix(u, "[") {
					u = fields[2]
				}
			}
			if u != "" && strings.HasSuffix(strings.TrimRight(u, "/"), "/debian") {
				return strings.TrimRight(u, "/")
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// ErrNoDebootstrap says how to get debootstrap.
var ErrNoDebootstrap = errors.New("debootstrap is not installed: apt-get install debootstrap")

// Run bootstraps into dir (which must not exist yet), streaming
// debootstrap's progress lines to progress, then trims the tree.
func Run(ctx context.Context, o Options, dir string, progress func(string)) error {
	o = o.Normalize()
	if err := o.Validate(); err != nil {
		return err
	}
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		return ErrNoDebootstrap
	}
	args := []string{"--variant=minbase"}
	if len(o.Include) > 0 {
		args = append(args, "--include="+strings.Join(o.Include, ","))
	}
	args = append(args, o.Suite, dir, o.Mirror)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start debootstrap: %w", err)
	}
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			tail = append(tail, line)
			if len(tail) > 5 {
				tail = tail[1:]
			}
			progress(line)
		}
	}()
	err = cmd.Wait()
	pw.Close()
	<-done
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("debootstrap %s failed: %v: %s", o.Suite, err, strings.Join(tail, " | "))
	}
	return Trim(dir, o.Variant == "slim")
}
