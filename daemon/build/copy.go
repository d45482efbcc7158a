package build

import (
	"bufio"
	"compress/bzip2"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/daemon/image"
	"github.com/berth-project/berth/daemon/runtime/spec"
	"github.com/berth-project/berth/internal/archive"
)

// copySpec is one ADD or COPY, after substitution.
type copySpec struct {
	name         string // "ADD" or "COPY"
	add          bool
	srcs         []string
	dest         string
	from         string
	chown, chmod string
	loc          []parser.Range
}

// layerStep mounts a writable snapshot over the current image, lets fn
// change it and commits the changes as a layer. When fn reports no
// change the step becomes configuration-only.
func (s *session) layerStep(ctx context.Context, st *state, createdBy string, fn func(root string) (changed bool, err error)) (*image.Image, error) {
	var chain digest.Digest
	if st.img != nil {
		chain = st.img.ChainID
	}
	key, target, release, err := s.mount(ctx, chain)
	if err != nil {
		return nil, err
	}
	defer release()
	changed, err := fn(target)
	if uerr := s.b.snaps.Unmount(context.WithoutCancel(ctx), target); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	opts := image.DeriveOptions{Parent: st.img, Config: st.cfg, CreatedBy: createdBy}
	if changed {
		opts.SnapshotKey = key
	}
	return s.b.images.Derive(ctx, opts)
}

// mount prepares and mounts a throw-away snapshot over chain; release
// unmounts and removes it.
func (s *session) mount(ctx context.Context, chain digest.Digest) (key, target string, release func(), err error) {
	var rb [8]byte
	_, _ = rand.Read(rb[:])
	key = "build-" + hex.EncodeToString(rb[:])
	target = filepath.Join(s.b.root, "mnt", key)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", "", nil, err
	}
	release = func() {
		c := context.WithoutCancel(ctx)
		_ = s.b.snaps.Unmount(c, target)
		_ = os.Remove(target)
		_ = s.b.snaps.Remove(c, key)
	}
	if err := s.b.snaps.Prepare(ctx, key, chain); err != nil {
		release()
		return "", "", nil, err
	}
	if err := s.b.snaps.Mount(ctx, key, chain, target); err != nil {
		release()
		return "", "", nil, err
	}
	return key, target, release, nil
}

func mkdirIfMissing(root, p string) (bool, error) {
	full, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return false, err
	}
	if fi, err := os.Stat(full); err == nil {
		if !fi.IsDir() {
			return false, fmt.Errorf("WORKDIR %s: not a directory", p)
		}
		return false, nil
	}
	if err := mkdirAllIn(root, p, 0o755, -1, -1); err != nil {
		return false, err
	}
	return true, nil
}

// mkdirAllIn creates p (a path inside root) and its missing parents,
// resolving links inside root; new directories get uid/gid (unless -1).
func mkdirAllIn(root, p string, mode os.FileMode, uid, gid int) error {
	full, err := securejoin.SecureJoin(root, path.Clean("/"+p))
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("mkdir %s: outside the root", p)
	}
	if rel == "." {
		return nil
	}
	// SecureJoin resolved every link: the existing components are real
	// directories inside root.
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: %s is not a directory", p, strings.TrimPrefix(cur, root))
			}
			continue
		}
		if err := os.Mkdir(cur, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if uid >= 0 {
			if err := os.Lchown(cur, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *session) copyStep(ctx context.Context, st *state, idx int, c copySpec) error {
	if len(c.srcs) == 0 {
		return s.stepErr(c.loc, fmt.Errorf("%s requires at least two arguments", c.name))
	}
	dest := c.dest
	destDir := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "."
	if !path.IsAbs(dest) {
		wd := st.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	if destDir && !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	// The source tree: the context, another stage or an image.
	srcRoot := s.ctxDir
	var content []string
	if c.from != "" {
		img, err := s.fromImage(ctx, idx, c.from)
		if err != nil {
			return s.stepErr(c.loc, err)
		}
		if img == nil {
			return s.stepErr(c.loc, fmt.Errorf("COPY --from=%s: the stage has no files", c.from))
		}
		_, target, release, err := s.mount(ctx, img.ChainID)
		if err != nil {
			return err
		}
		defer release()
		srcRoot = target
		content = append(content, "from:"+img.ID.String())
	}
	var sources []source
	for _, src := range c.srcs {
		if c.add && isURL(src) {
			sc, err := s.download(ctx, src)
			if err != nil {
				return s.stepErr(c.loc, err)
			}
			sources = append(sources, sc)
			content = append(content, src+"="+sc.digest)
			continue
		}
		matches, err := s.resolveSources(srcRoot, src, c.name, c.from != "")
		if err != nil {
			return s.stepErr(c.loc, err)
		}
		for _, m := range matches {
			sc := source{path: m.full, rel: m.rel, user: src}
			if c.from == "" {
				d, err := s.hashPath(m.full)
				if err != nil {
					return s.stepErr(c.loc, err)
				}
				sc.digest = d
			}
			content = append(content, m.rel+"="+sc.digest)
			sources = append(sources, sc)
		}
	}
	if len(sources) > 1 && !strings.HasSuffix(dest, "/") {
		return s.stepErr(c.loc, fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", c.name))
	}
	var mode *os.FileMode
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return s.stepErr(c.loc, fmt.Errorf("invalid chmod parameter %q: it must be an octal mode", c.chmod))
		}
		fm := os.FileMode(m)
		mode = &fm
	}
	flags := ""
	if c.from != "" {
		flags += " --from=" + c.from
	}
	if c.chown != "" {
		flags += " --chown=" + c.chown
	}
	if c.chmod != "" {
		flags += " --chmod=" + c.chmod
	}
	createdBy := nop(st, fmt.Sprintf("%s%s %s in %s ", c.name, flags, strings.Join(c.srcs, " "), dest))
	key := stepKey(st.parentID(), createdBy, strings.Join(content, "\n"))
	if s.fromCache(ctx, st, key) {
		return nil
	}
	img, err := s.layerStep(ctx, st, createdBy, func(root string) (bool, error) {
		uid, gid := 0, 0
		if c.chown != "" {
			u, g, err := resolveChown(root, c.chown)
			if err != nil {
				return false, err
			}
			uid, gid = u, g
		}
		cp := copier{root: root, uid: uid, gid: gid, mode: mode, add: c.add}
		for _, sc := range sources {
			if err := cp.copy(ctx, sc, dest); err != nil {
				return false, fmt.Errorf("%s failed: %w", c.name, err)
			}
		}
		return true, nil
	})
	if err != nil {
		return s.stepErr(c.loc, err)
	}
	return s.stepDone(st, key, img)
}

// fromImage resolves COPY --from: an earlier stage by name or index, or
// an image.
func (s *session) fromImage(ctx context.Context, idx int, from string) (*image.Image, error) {
	if i, ok := s.stageIndex(from, idx); ok {
		return s.stageImage(ctx, i)
	}
	if n, err := strconv.Atoi(from); err == nil {
		return nil, fmt.Errorf("COPY --from=%d: invalid stage index (this is stage %d)", n, idx)
	}
	for i := idx; i < len(s.plan.stages); i++ {
		if s.plan.stages[i].Name == strings.ToLower(from) {
			return nil, fmt.Errorf("COPY --from=%s: the stage is defined later (or is this one); stages can only copy from earlier stages", from)
		}
	}
	img, err := s.b.images.Get(ctx, from)
	if err != nil {
		if perr := s.b.run.Pull(ctx, from, func(string) {}); perr != nil {
			return nil, fmt.Errorf("COPY --from=%s: no such stage, and the image cannot be pulled: %v", from, perr)
		}
		if img, err = s.b.images.Get(ctx, from); err != nil {
			return nil, fmt.Errorf("COPY --from=%s: %w", from, err)
		}
	}
	return img, nil
}

type source struct {
	path   string // host path
	rel    string // path relative to the source root, for naming
	user   string // as written in the Dockerfile
	digest string
	// set for downloads: the file name and modification time
	name  string
	mtime time.Time
	url   bool
}

type match struct{ full, rel string }

// resolveSources expands one source (maybe a wildcard) inside root.
func (s *session) resolveSources(root, src, name string, fromStage bool) ([]match, error) {
	clean := path.Clean("/" + filepath.ToSlash(src))
	if !fromStage {
		if rel := path.Clean(filepath.ToSlash(src)); rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("%s failed: forbidden path outside the build context: %s", name, src)
		}
	}
	if strings.ContainsAny(clean, "*?[") {
		var out []match
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root))
			rel = path.Clean(rel)
			ok, merr := path.Match(clean, rel)
			if merr != nil {
				return fmt.Errorf("%s failed: bad pattern %q: %w", name, src, merr)
			}
			if ok && rel != "/" {
				out = append(out, match{full: p, rel: rel})
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s failed: no source files were specified", name)
		}
		return out, nil
	}
	if !fromStage {
		link, err := escapingLink(root, clean)
		if err != nil {
			return nil, err
		}
		switch {
		case link == clean:
			// The source itself is such a link: it is copied as a link.
			parent, err := securejoin.SecureJoin(root, path.Dir(clean))
			if err != nil {
				return nil, err
			}
			return []match{{full: filepath.Join(parent, path.Base(clean)), rel: clean}}, nil
		case link != "":
			return nil, fmt.Errorf("%s failed: forbidden path outside the build context: %s (the symlink %s leads out of it)", name, src, link)
		}
	}
	full, err := securejoin.SecureJoin(root, clean)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(full); err != nil {
		where := "build context or excluded by .dockerignore"
		if fromStage {
			where = "source stage or image"
		}
		return nil, fmt.Errorf("%s failed: file not found in %s: stat %s: file does not exist", name, where, strings.TrimPrefix(clean, "/"))
	}
	return []match{{full: full, rel: clean}}, nil
}

// hashPath digests a context path: names, modes, link targets and file
// contents of the tree under it. Digests are computed once per build.
func (s *session) hashPath(p string) (string, error) {
	if v, ok := s.hashes.Load(p); ok {
		return v.(string), nil
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(q, p)
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(q)
			fmt.Fprintf(h, "%s\x00", t)
		case fi.Mode().IsRegular():
			f, err := os.Open(q)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(h, f, buf)
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "\x00%d\x00", fi.Size())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	d := hex.EncodeToString(h.Sum(nil))
	s.hashes.Store(p, d)
	return d, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// download fetches an ADD URL into the build's temp dir.
func (s *session) download(ctx context.Context, raw string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return source{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return source{}, fmt.Errorf("ADD %s: failed to GET with status %s", raw, resp.Status)
	}
	f, err := os.CreateTemp(s.tmp, "download-")
	if err != nil {
		return source{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return source{}, fmt.Errorf("ADD %s: %w", raw, err)
	}
	name := path.Base(u.Path)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = path.Base(params["filename"])
	}
	if name == "" || name == "/" || name == "." {
		name = "index.html"
	}
	mtime := time.Now()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	return source{path: f.Name(), rel: name, name: name, digest: hex.EncodeToString(h.Sum(nil)), mtime: mtime, url: true}, nil
}

// resolveChown maps "user[:group]" (names or numbers) through the
// image's /etc/passwd and /etc/group.
func resolveChown(root, chown string) (int, int, error) {
	u, g, hasGroup := strings.Cut(chown, ":")
	uid, gid, _, err := spec.ResolveUser(root, u, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
	}
	if hasGroup {
		_, ggid, _, err := spec.ResolveUser(root, "0:"+g, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
		}
		gid = ggid
	} else if _, err := strconv.Atoi(u); err == nil {
		gid = uid // a numeric user alone means uid:uid, as Docker does
	}
	return int(uid), int(gid), nil
}

// copier writes sources into a mounted rootfs.
type copier struct {
	root     string
	uid, gid int
	mode     *os.FileMode
	add      bool
}

func (c *copier) copy(ctx context.Context, sc source, dest string) error {
	if sc.url {
		target := dest
		if strings.HasSuffix(dest, "/") {
			target = path.Join(dest, sc.name)
		}
		if err := c.file(sc.path, target, 0o600); err != nil {
			return err
		}
		full, _ := securejoin.SecureJoin(c.root, target)
		return os.Chtimes(full, sc.mtime, sc.mtime)
	}
	fi, err := os.Lstat(sc.path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return c.tree(ctx, sc.path, dest)
	}
	if c.add && fi.Mode().IsRegular() {
		if ok, err := isArchive(sc.path); err != nil {
			return err
		} else if ok {
			return c.extract(ctx, sc.path, dest)
		}
	}
	target := dest
	if strings.HasSuffix(dest, "/") {
		target = path.Join(dest, path.Base(sc.rel))
	} else if full, err := securejoin.SecureJoin(c.root, dest); err == nil {
		if dfi, err := os.Stat(full); err == nil && dfi.IsDir() {
			target = path.Join(dest, path.Base(sc.rel))
		}
	}
	return c.entry(sc.path, fi, target)
}

// tree copies the contents of dir into dest.
func (c *copier) tree(ctx context.Context, dir, dest string) error {
	if err := mkdirAllIn(c.root, dest, 0o755, c.uid, c.gid); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return c.entry(p, fi, path.Join(dest, filepath.ToSlash(strings.TrimPrefix(p, dir))))
	})
}

// entry copies one file, directory or symlink to target (a rootfs path).
func (c *copier) entry(src string, fi fs.FileInfo, target string) error {
	if err := mkdirAllIn(c.root, path.Dir(target), 0o755, c.uid, c.gid); err != nil {
		return err
	}
	parent, err := securejoin.SecureJoin(c.root, path.Dir(target))
	if err != nil {
		return err
	}
	dst := filepath.Join(parent, path.Base(target))
	mode := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if c.mode != nil {
		mode = *c.mode
	}
	switch {
	case fi.IsDir():
		if dfi, err := os.Lstat(dst); err == nil && !dfi.IsDir() {
			if err := os.Remove(dst); err != nil {
				return err
			}
		}
		if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := removeNonDir(dst); err != nil {
			return err
		}
		if err := os.Symlink(link, dst); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		if err := c.file(src, target, mode); err != nil {
			return err
		}
	default:
		return nil // sockets, devices and fifos are not copied
	}
	if err := os.Lchown(dst, c.uid, c.gid); err != nil {
		return err
	}
	mt := fi.ModTime()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func removeNonDir(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("cannot overwrite directory %s with a non-directory", p)
	}
	return os.Remove(p)
}

// file copies a regular file's content to target (a rootfs path).
func (c *copier) file(src, target string, mode os.FileMode) error {
	if err := mkdirAllIn(c.root, path.Dir(target), 0o755, c.uid, c.gid); err != nil {
		return err
	}
	parent, err := securejoin.SecureJoin(c.root, path.Dir(target))
	if err != nil {
		return err
	}
	dst := filepath.Join(parent, path.Base(target))
	if err := removeNonDir(dst); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if c.mode != nil {
		mode = *c.mode
	}
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	return os.Lchown(dst, c.uid, c.gid)
}

// isArchive reports whether ADD should unpack the file: a tar, maybe
// gzip, bzip2 or zstd compressed (xz is copied as a file: the standard
// library has no xz reader).
func isArchive(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	for _, magic := range [][]byte{{0x1f, 0x8b}, {'B', 'Z', 'h'}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if len(head) >= len(magic) && string(head[:len(magic)]) == string(magic) {
			return true, nil
		}
	}
	return n >= 262 && string(head[257:262]) == "ustar", nil
}

// extract unpacks a local archive into dest (ADD).
func (c *copier) extract(ctx context.Context, src, dest string) error {
	if err := mkdirAllIn(c.root, dest, 0o755, -1, -1); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	full, err := securejoin.SecureJoin(c.root, dest)
	if err != nil {
		return err
	}
	br := bufio.NewReader(f)
	var r io.ReadCloser
	if head, _ := br.Peek(3); string(head) == "BZh" {
		r = io.NopCloser(bzip2.NewReader(br))
	} else if r, err = archive.Decompress(br); err != nil {
		return err
	}
	defer r.Close()
	if _, err := archive.Apply(ctx, full, r, archive.ApplyOptions{LiteralWhiteouts: true}); err != nil {
		return fmt.Errorf("unpack %s: %w", filepath.Base(src), err)
	}
	return nil
}

// applyDockerignore removes what .dockerignore excludes from the
// extracted context (clients usually leave it out already). The
// Dockerfile and .dockerignore themselves stay readable to the builder.
func applyDockerignore(ctxDir string) error {
	f, err := os.Open(filepath.Join(ctxDir, ".dockerignore"))
	if err != nil {
		return nil
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("read .dockerignore: %v", err))
	}
	if len(patterns) == 0 {
		return nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(".dockerignore: %v", err))
	}
	var remove []string
	err = filepath.WalkDir(ctxDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == ctxDir {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, ctxDir+"/"))
		ok, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if ok {
			remove = append(remove, p)
			if d.IsDir() && !pm.Exclusions() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(remove)))
	for _, p := range remove {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() && pm.Exclusions() {
			// An exception may keep something inside: remove it only
			// when nothing is left in it.
			if err := os.Remove(p); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
				return err
			}
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// escapingLink returns the first symlink on the way to clean (a path
// inside the build context root) whose relative target climbs above the
// context, or "" if there is none. Docker sends such links in a context
// untouched; only using one is refused. Absolute targets resolve inside
// the context, as SecureJoin does.
func escapingLink(root, clean string) (string, error) {
	if clean == "/" {
		return "", nil
	}
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		host := filepath.Join(root, next)
		fi, err := os.Lstat(host)
		if err != nil {
			return "", nil // missing: the caller reports it
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return "", err
			}
			if climbsAbove(path.Dir(next), target) {
				return "/" + strings.Join(parts[:i+1], "/"), nil
			}
		}
		full, err := securejoin.SecureJoin(root, next)
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(root, full)
		if err != nil {
			return "", err
		}
		cur = path.Clean("/" + filepath.ToSlash(rel))
	}
	return "", nil
}

// climbsAbove reports whether a relative symlink target, read in the
// directory dir (an absolute path inside the root), climbs above the root.
func climbsAbove(dir, target string) bool {
	if path.IsAbs(target) {
		return false
	}
	depth := 0
	if dir != "/" {
		depth = strings.Count(dir, "/")
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "..":
			if depth--; depth < 0 {
				return true
			}
		case "", ".":
		default:
			depth++
		}
	}
	return false
}
