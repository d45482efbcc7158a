// Package volume owns local named volumes: directories under
// <data-root>/volumes/<name>/_data with their metadata (<name>/opts.json),
// the references containers hold on them, the local driver's mount
// options (type/device/o, mounted at first use), and seeding a new volume
// from an image path (CopyUp).
package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	apivolume "github.com/moby/moby/api/types/volume"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// AnonymousLabel marks a volume created without a name; plain prune
// removes only those.
const AnonymousLabel = "com.docker.volume.anonymous"

// Volume is one local volume.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string `json:"-"` // <root>/<name>/_data, derived
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	Scope      string
}

// Store holds the volumes under one root.
type Store struct {
	root   string
	mu     sync.Mutex
	vols   map[string]*Volume
	refs   map[string]map[string]bool // volume → container IDs
	mounts map[string]map[string]bool // volume with options → who mounted it
}

const metaFile = "opts.json"

// New loads the volumes under root (<data-root>/volumes), creating it. A
// directory without readable metadata is logged and skipped.
func New(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("create volume root: %w", err)
	}
	s := &Store{root: root, vols: map[string]*Volume{}, refs: map[string]map[string]bool{}, mounts: map[string]map[string]bool{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read volume root: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name(), metaFile))
		if err != nil {
			slog.Warn("skip volume without metadata", "name", e.Name(), "err", err)
			continue
		}
		var v Volume
		if err := json.Unmarshal(b, &v); err != nil || v.Name != e.Name() {
			slog.Warn("skip volume with bad metadata", "name", e.Name(), "err", err)
			continue
		}
		v.Mountpoint = filepath.Join(root, v.Name, "_data")
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		if v.Options == nil {
			v.Options = map[string]string{}
		}
		s.vols[v.Name] = &v
	}
	return s, nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// validateOpts checks the local driver's options: type, device and o, the
// first two together.
func validateOpts(opts map[string]string) error {
	for k := range opts {
		switch k {
		case "type", "device", "o":
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option: %q", k))
		}
	}
	if len(opts) == 0 {
		return nil
	}
	if opts["type"] == "" {
		return errdefs.ErrInvalidArgument.WithMessage(`missing required option: "type"`)
	}
	if opts["device"] == "" {
		return errdefs.ErrInvalidArgument.WithMessage(`missing required option: "device"`)
	}
	if _, _, err := mountFlags(opts["o"]); err != nil {
		return err
	}
	return nil
}

// Create makes a volume, or returns the existing one of that name (created
// false), as Docker's create is idempotent. An empty name makes an
// anonymous volume with a random 64-hex name.
func (s *Store) Create(ctx context.Context, name, driver string, labels, opts map[string]string) (*Volume, bool, error) {
	if driver == "" {
		driver = "local"
	}
	if driver != "local" {
		return nil, false, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", driver, driver))
	}
	if name == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		name = hex.EncodeToString(b)
	}
	if !validName.MatchString(name) {
		return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vols[name]; ok {
		return v, false, nil
	}
	if err := validateOpts(opts); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", name, err)
	}
	v := &Volume{Name: name, Driver: driver, Mountpoint: filepath.Join(s.root, name, "_data"),
		CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: copyMap(labels), Options: copyMap(opts), Scope: "local"}
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = atomicWrite(filepath.Join(s.root, name, metaFile), b)
	}
	if err != nil {
		_ = os.RemoveAll(filepath.Join(s.root, name))
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.vols[name] = v
	return v, true, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func atomicWrite(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func notFound(name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
}

// Get returns a volume by name.
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil, notFound(name)
	}
	return v, nil
}

// List returns all volumes by name.
func (s *Store) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Volume, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ref records that a container uses the volume. References live in memory:
// the daemon records them again for every container it loads.
func (s *Store) Ref(name, containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs[name] == nil {
		s.refs[name] = map[string]bool{}
	}
	s.refs[name][containerID] = true
}

// Unref drops a container's use.
func (s *Store) Unref(name, containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refs[name], containerID)
	if len(s.refs[name]) == 0 {
		delete(s.refs, name)
	}
}

// Refs lists the containers using the volume, sorted.
func (s *Store) Refs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refsLocked(name)
}

func (s *Store) refsLocked(name string) []string {
	out := []string{}
	for id := range s.refs[name] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Mount makes the volume's content ready at its Mountpoint for user (a
// container ID) and returns that path. A plain volume is a directory and
// needs nothing; one created with type/device/o options is mounted by its
// first user. Pair every Mount with an Unmount.
func (s *Store) Mount(ctx context.Context, name, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return "", notFound(name)
	}
	if len(v.Options) == 0 {
		return v.Mountpoint, nil
	}
	if len(s.mounts[name]) == 0 {
		if err := mountVolume(v); err != nil {
			return "", err
		}
		s.mounts[name] = map[string]bool{}
	}
	s.mounts[name][user] = true
	return v.Mountpoint, nil
}

// Unmount releases user's Mount; the last user unmounts the volume.
func (s *Store) Unmount(ctx context.Context, name, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	users, ok := s.mounts[name]
	if !ok || !users[user] {
		return nil
	}
	delete(users, user)
	if len(users) > 0 {
		return nil
	}
	delete(s.mounts, name)
	return unmountVolume(s.vols[name].Mountpoint)
}

func mountVolume(v *Volume) error {
	// A daemon that crashed may have left it mounted.
	if m, err := mountinfo.Mounted(v.Mountpoint); err == nil && m {
		return nil
	}
	flags, data, err := mountFlags(v.Options["o"])
	if err != nil {
		return err
	}
	device, typ := v.Options["device"], v.Options["type"]
	if flags&unix.MS_BIND != 0 {
		typ = ""
	}
	if err := unix.Mount(device, v.Mountpoint, typ, flags, data); err != nil {
		return fmt.Errorf("error while mounting volume '%s': failed to mount local volume: mount %s:%s, flags: %#x, data: %s: %w",
			v.Mountpoint, device, v.Mountpoint, flags, data, err)
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		// A bind mount takes ro only on a remount.
		if err := unix.Mount("", v.Mountpoint, "", flags|unix.MS_REMOUNT, ""); err != nil {
			_ = unix.Unmount(v.Mountpoint, unix.MNT_DETACH)
			return fmt.Errorf("mount volume %s read-only: %w", v.Name, err)
		}
	}
	return nil
}

func unmountVolume(p string) error {
	if m, err := mountinfo.Mounted(p); err != nil || !m {
		return nil
	}
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount volume %s: %w", p, err)
	}
	return nil
}

// mountFlags splits the o option into mount(2) flags and filesystem data.
func mountFlags(o string) (uintptr, string, error) {
	known := map[string]struct {
		clear bool
		flag  uintptr
	}{
		"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
		"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
		"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
		"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
		"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
		"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
		"nodiratime": {false, unix.MS_NODIRATIME}, "relatime": {false, unix.MS_RELATIME},
		"strictatime": {false, unix.MS_STRICTATIME},
		"bind":        {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
		"defaults": {false, 0},
	}
	var flags uintptr
	var data []string
	for _, opt := range strings.Split(o, ",") {
		if opt == "" {
			continue
		}
		if f, ok := known[opt]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if strings.ContainsAny(opt, "\x00") {
			return 0, "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount option %q", opt))
		}
		data = append(data, opt)
	}
	return flags, strings.Join(data, ","), nil
}

// Remove deletes a volume. One in use is refused even with force; force
// only makes a missing volume no error, as in Docker.
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		if force {
			return nil
		}
		return notFound(name)
	}
	if refs := s.refsLocked(name); len(refs) > 0 {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(refs, ", ")))
	}
	if len(v.Options) > 0 {
		delete(s.mounts, name)
		if err := unmountVolume(v.Mountpoint); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	// Never remove through a mount that is still there: it would delete
	// the device's (a bind source's) content.
	if m, err := mountinfo.Mounted(v.Mountpoint); err == nil && m {
		return fmt.Errorf("remove %s: %s is still mounted", name, v.Mountpoint)
	}
	if err := os.RemoveAll(filepath.Join(s.root, name)); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	delete(s.vols, name)
	delete(s.refs, name)
	return nil
}

// Prune removes unused volumes that labelFilter (nil: all) accepts: only
// anonymous ones, as Docker ≥ 23 does, or named ones too with all.
func (s *Store) Prune(ctx context.Context, all bool, labelFilter func(map[string]string) bool) (*apivolume.PruneReport, error) {
	rep := &apivolume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range s.List() {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if _, anon := v.Labels[AnonymousLabel]; !all && !anon {
			continue
		}
		if labelFilter != nil && !labelFilter(v.Labels) {
			continue
		}
		if len(s.Refs(v.Name)) > 0 {
			continue
		}
		size := dirSize(v.Mountpoint)
		if err := s.Remove(ctx, v.Name, false); err != nil {
			slog.Debug("prune volume", "name", v.Name, "err", err)
			continue
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

func dirSize(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// ToAPI renders a volume for the Engine API (UsageData nil).
func (s *Store) ToAPI(v *Volume) *apivolume.Volume {
	return &apivolume.Volume{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint,
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels, Options: v.Options, Scope: v.Scope,
	}
}
