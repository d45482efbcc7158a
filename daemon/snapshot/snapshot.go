// Package snapshot owns overlayfs snapshots: unpacked image layers keyed by
// their chain ID (read-only lower dirs) and the writable snapshots of
// containers (upper + work dirs) mounted over them.
//
// On disk, under root:
//
//	layers/<chainid hex>/diff     the layer's files (overlay whiteouts)
//	layers/<chainid hex>/parent   the parent chain ID, if any
//	l/<12 hex>                    short symlink to layers/<chainid>/diff, so
//	                              the overlay mount data stays under a page
//	active/<key>/upper, work      a container's writable layer
//	empty/                        the lower dir of a scratch-based snapshot
package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
)

// Snapshotter manages layers and active snapshots under one root.
type Snapshotter struct {
	root string
}

// New opens the snapshotter at root, creating its directories.
func New(root string) (*Snapshotter, error) {
	for _, d := range []string{"layers", "active", "empty", "tmp", "l"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("create snapshot dir: %w", err)
		}
	}
	// Leftovers of interrupted unpacks.
	tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range tmp {
		_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	return &Snapshotter{root: root}, nil
}

func (s *Snapshotter) layerDir(chainID digest.Digest) string {
	return filepath.Join(s.root, "layers", chainID.Encoded())
}

// HasLayer reports whether the layer with chainID is unpacked.
func (s *Snapshotter) HasLayer(chainID digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerDir(chainID), "diff"))
	return err == nil
}

// ApplyLayer unpacks an uncompressed or gzip layer tar as the layer chainID
// on top of parent ("" for a base layer). It is idempotent: an existing
// layer is kept and its diff drained. The unpack goes to a temporary
// directory renamed into place, so a failure leaves nothing behind.
func (s *Snapshotter) ApplyLayer(ctx context.Context, parent, chainID digest.Digest, diff io.Reader) (int64, error) {
	return s.ApplyLayerVerified(ctx, parent, chainID, diff, nil)
}

// ApplyLayerVerified is ApplyLayer for a diff whose content is still
// being checked while it is unpacked: verify (when set) is called once
// the unpack is done and before the layer is renamed into place, and an
// error from it discards the layer.
func (s *Snapshotter) ApplyLayerVerified(ctx context.Context, parent, chainID digest.Digest, diff io.Reader, verify func() error) (int64, error) {
	if err := chainID.Validate(); err != nil {
		return 0, fmt.Errorf("apply layer: %w", err)
	}
	if s.HasLayer(chainID) {
		_, _ = io.Copy(io.Discard, diff)
		if verify != nil {
			if err := verify(); err != nil {
				return 0, err
			}
		}
		return s.layerSize(chainID), nil
	}
	if parent != "" && !s.HasLayer(parent) {
		return 0, fmt.Errorf("apply layer %s: parent layer %s is missing", chainID, parent)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Mkdir(filepath.Join(tmp, "diff"), 0o755); err != nil {
		return 0, err
	}
	size, err := archive.Apply(ctx, filepath.Join(tmp, "diff"), diff, archive.ApplyOptions{OverlayWhiteouts: true})
	if err != nil {
		return 0, fmt.Errorf("unpack layer %s: %w", chainID, err)
	}
	if parent != "" {
		if err := os.WriteFile(filepath.Join(tmp, "parent"), []byte(parent.String()), 0o600); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(fmt.Sprint(size)), 0o600); err != nil {
		return 0, err
	}
	if err := syncDir(tmp); err != nil {
		return 0, err
	}
	if verify != nil {
		if err := verify(); err != nil {
			return 0, err
		}
	}
	if err := os.Rename(tmp, s.layerDir(chainID)); err != nil {
		if s.HasLayer(chainID) {
			return size, nil // unpacked concurrently
		}
		return 0, fmt.Errorf("commit layer %s: %w", chainID, err)
	}
	return size, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (s *Snapshotter) layerSize(chainID digest.Digest) int64 {
	b, err := os.ReadFile(filepath.Join(s.layerDir(chainID), "size"))
	if err != nil {
		return 0
	}
	var n int64
	fmt.Sscan(string(b), &n)
	return n
}

// LayerSize is the unpacked size of one layer.
func (s *Snapshotter) LayerSize(chainID digest.Digest) int64 { return s.layerSize(chainID) }

// shortLink returns a short path (a symlink under root/l) to a layer's
// diff dir, creating it if needed.
func (s *Snapshotter) shortLink(chainID digest.Digest) (string, error) {
	link := filepath.Join(s.root, "l", chainID.Encoded()[:12])
	target := filepath.Join(s.layerDir(chainID), "diff")
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return link, nil
	}
	// A name of its own per call: two mounts of the same layer at once
	// (parallel build stages, a service's replicas) must not share one.
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := link + ".tmp" + hex.EncodeToString(rnd[:])
	if err := os.Symlink(target, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return link, nil
}

// LayerDirs returns the lower dirs of chainID, topmost first.
func (s *Snapshotter) LayerDirs(chainID digest.Digest) ([]string, error) {
	var dirs []string
	for cur := chainID; cur != ""; {
		if !s.HasLayer(cur) {
			return nil, fmt.Errorf("layer %s is missing", cur)
		}
		dirs = append(dirs, filepath.Join(s.layerDir(cur), "diff"))
		b, err := os.ReadFile(filepath.Join(s.layerDir(cur), "parent"))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		cur = digest.Digest(strings.TrimSpace(string(b)))
		if len(dirs) > 500 {
			return nil, fmt.Errorf("layer chain of %s is too deep", chainID)
		}
	}
	return dirs, nil
}

// RemoveLayer deletes one unpacked layer.
func (s *Snapshotter) RemoveLayer(ctx context.Context, chainID digest.Digest) error {
	if chainID == "" {
		return nil
	}
	dir := s.layerDir(chainID)
	link := filepath.Join(s.root, "l", chainID.Encoded()[:12])
	if cur, err := os.Readlink(link); err == nil && cur == filepath.Join(dir, "diff") {
		_ = os.Remove(link)
	}
	tmp := filepath.Join(s.root, "tmp", "rm-"+chainID.Encoded())
	if err := os.Rename(dir, tmp); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	return os.RemoveAll(tmp)
}

func (s *Snapshotter) activeDir(key string) string {
	return filepath.Join(s.root, "active", key)
}

// UpperDir is the writable dir of the active snapshot key.
func (s *Snapshotter) UpperDir(key string) string {
	return filepath.Join(s.activeDir(key), "upper")
}

// Prepare creates the active snapshot key (its upper and work dirs).
func (s *Snapshotter) Prepare(ctx context.Context, key string, parent digest.Digest) error {
	if key == "" || strings.ContainsAny(key, "/.") {
		return fmt.Errorf("prepare snapshot: invalid key %q", key)
	}
	if parent != "" && !s.HasLayer(parent) {
		return fmt.Errorf("prepare snapshot %s: layer %s is missing", key, parent)
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(s.activeDir(key), d), 0o755); err != nil {
			return fmt.Errorf("prepare snapshot %s: %w", key, err)
		}
	}
	return nil
}

// Mount mounts the active snapshot key over the layers of parent at target.
// Mounting an already mounted target is a no-op. Lower dirs are passed as
// short symlinks so that about a hundred layers fit in the one page of
// mount data; deeper chains use the new mount API (lowerdir+, Linux 6.8).
func (s *Snapshotter) Mount(ctx context.Context, key string, parent digest.Digest, target string) error {
	if mounted(target) {
		return nil
	}
	if _, err := os.Stat(s.UpperDir(key)); err != nil {
		return fmt.Errorf("mount %s: snapshot is not prepared: %w", key, err)
	}
	lowers := []string{filepath.Join(s.root, "empty")}
	if parent != "" {
		dirs, err := s.LayerDirs(parent)
		if err != nil {
			return fmt.Errorf("mount %s: %w", key, err)
		}
		lowers = lowers[:0]
		for cur, i := parent, 0; i < len(dirs); i++ {
			link, err := s.shortLink(cur)
			if err != nil {
				return fmt.Errorf("mount %s: %w", key, err)
			}
			lowers = append(lowers, link)
			cur = s.parentOf(cur)
		}
	}
	upper, work := s.UpperDir(key), filepath.Join(s.activeDir(key), "work")
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if len(data) < unix.Getpagesize()-1 {
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			return fmt.Errorf("mount overlay at %s: %w", target, err)
		}
		return nil
	}
	if err := mountNewAPI(lowers, upper, work, target); err != nil {
		return fmt.Errorf("mount overlay at %s (%d layers): %w", target, len(lowers), err)
	}
	return nil
}

// parentOf reads a layer's parent chain ID ("" for a base layer).
func (s *Snapshotter) parentOf(chainID digest.Digest) digest.Digest {
	b, err := os.ReadFile(filepath.Join(s.layerDir(chainID), "parent"))
	if err != nil {
		return ""
	}
	return digest.Digest(strings.TrimSpace(string(b)))
}

// mountNewAPI mounts overlay with fsopen/fsconfig, one lowerdir+ per
// layer, free of the one-page limit of mount(2) data. fsconfig takes
// strings of at most 255 bytes: longer paths go through an O_PATH fd.
func mountNewAPI(lowers []string, upper, work, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	// The fds stay open until the mount is made: the kernel may resolve
	// the paths only at create time.
	var fds []int
	defer func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}()
	set := func(key, p string) error {
		if len(p) >= 256 {
			pfd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, pfd)
			p = fmt.Sprintf("/proc/self/fd/%d", pfd)
		}
		return unix.FsconfigSetString(fd, key, p)
	}
	for _, l := range lowers {
		if err := set("lowerdir+", l); err != nil {
			return fmt.Errorf("lowerdir+ %s: %w", l, err)
		}
	}
	if err := set("upperdir", upper); err != nil {
		return fmt.Errorf("upperdir: %w", err)
	}
	if err := set("workdir", work); err != nil {
		return fmt.Errorf("workdir: %w", err)
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// Unmount detaches target; unmounting what is not mounted is a no-op. A
// busy mount is detached lazily.
func (s *Snapshotter) Unmount(ctx context.Context, target string) error {
	for i := 0; i < 8 && mounted(target); i++ {
		err := unix.Unmount(target, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(target, unix.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return nil
}

// mounted reports whether target is a mount point.
func mounted(target string) bool {
	var st, pst unix.Stat_t
	if err := unix.Lstat(target, &st); err != nil {
		return false
	}
	if err := unix.Lstat(filepath.Dir(target), &pst); err != nil {
		return false
	}
	if st.Dev != pst.Dev {
		return true
	}
	// Same device can still be a mount (bind of the same fs): ask mountinfo.
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == target {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// Remove deletes the active snapshot key.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	if key == "" || strings.ContainsAny(key, "/.") {
		return nil
	}
	if err := os.RemoveAll(s.activeDir(key)); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", key, err)
	}
	return nil
}

// Usage is the disk usage of the active snapshot's upper dir.
func (s *Snapshotter) Usage(key string) (int64, error) {
	var total int64
	err := filepath.Walk(s.UpperDir(key), func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
