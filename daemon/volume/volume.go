// Package volume owns local named volumes: directories under
// <data-root>/volumes/<name>/_data with their metadata, the references
// containers hold on them, and seeding a new volume from an image path.
package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	apivolume "github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"
)

// Volume is one local volume.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	Scope      string
}

// Store holds the volumes under one root.
type Store struct {
	root string
	mu   sync.Mutex
	vols map[string]*Volume
	refs map[string]map[string]bool // volume → container IDs
}

const metaFile = "opts.json"

// New loads the volumes under root.
func New(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("create volume root: %w", err)
	}
	s := &Store{root: root, vols: map[string]*Volume{}, refs: map[string]map[string]bool{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(root, e.Name(), metaFile))
		if err != nil {
			continue
		}
		var v Volume
		if err := json.Unmarshal(b, &v); err != nil || v.Name != e.Name() {
			continue
		}
		v.Mountpoint = filepath.Join(root, v.Name, "_data")
		s.vols[v.Name] = &v
	}
	return s, nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Create makes a volume, or returns the existing one of that name. An
// empty name makes an anonymous volume with a random 64-hex name.
func (s *Store) Create(ctx context.Context, name, driver string, labels, opts map[string]string) (*Volume, bool, error) {
	if driver == "" {
		driver = "local"
	}
	if driver != "local" {
		return nil, false, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", driver, driver))
	}
	for k := range opts {
		return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option: %q (driver options are not supported by berth's local driver yet)", k))
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
	if labels == nil {
		labels = map[string]string{}
	}
	v := &Volume{Name: name, Driver: driver, Mountpoint: filepath.Join(s.root, name, "_data"),
		CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels, Options: map[string]string{}, Scope: "local"}
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	b, _ := json.Marshal(v)
	tmp := filepath.Join(s.root, name, metaFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.root, name, metaFile)); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.vols[name] = v
	return v, true, nil
}

// Get returns a volume by name.
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
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

// Ref records that a container uses the volume.
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
}

// Refs lists the containers using the volume.
func (s *Store) Refs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.refs[name] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Remove deletes a volume; one in use is refused (force does not override
// that, as in Docker: force only ignores a missing volume).
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		if force {
			return nil
		}
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
	}
	if refs := s.refs[name]; len(refs) > 0 {
		var ids []string
		for id := range refs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", ")))
	}
	if err := os.RemoveAll(filepath.Join(s.root, name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	delete(s.vols, name)
	delete(s.refs, name)
	return nil
}

// Prune removes unused volumes: anonymous ones only, or all with all.
func (s *Store) Prune(ctx context.Context, all bool, labelFilter func(map[string]string) bool) (*apivolume.PruneReport, error) {
	rep := &apivolume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range s.List() {
		if len(s.Refs(v.Name)) > 0 || !labelFilter(v.Labels) {
			continue
		}
		if _, anon := v.Labels["com.docker.volume.anonymous"]; !all && !anon {
			continue
		}
		size := dirSize(v.Mountpoint)
		if err := s.Remove(ctx, v.Name, false); err != nil {
			continue
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

func dirSize(p string) int64 {
	var n int64
	_ = filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// ToAPI renders a volume for the Engine API.
func (s *Store) ToAPI(v *Volume) *apivolume.Volume {
	return &apivolume.Volume{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint,
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels, Options: v.Options, Scope: v.Scope,
	}
}

// CopyUp copies the tree at src into the empty dir dst, keeping modes,
// owners, times and symlinks (never following them).
func CopyUp(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case rel == ".":
			if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
				return err
			}
		case fi.IsDir():
			if err := os.Mkdir(target, fi.Mode().Perm()); err != nil && !os.IsExist(err) {
				return err
			}
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(p, target, fi.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // devices, sockets, fifos are not copied
		}
		if st != nil {
			_ = os.Lchown(target, int(st.Uid), int(st.Gid))
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			_ = os.Chmod(target, fi.Mode())
		}
		ts := []unix.Timespec{unix.NsecToTimespec(fi.ModTime().UnixNano()), unix.NsecToTimespec(fi.ModTime().UnixNano())}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	})
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
