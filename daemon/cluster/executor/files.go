package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/swarmkit/v2/agent/exec"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"golang.org/x/sys/unix"
)

// Where a task's container finds its secrets and configs, as in Docker:
// a secret's relative target is under /run/secrets, a config's under /.
const (
	secretMountPath = "/run/secrets"
	configMountPath = "/"
	// defaultFileMode is the mode of a secret or config file whose
	// reference gives none (the CLI's default, 0444).
	defaultFileMode os.FileMode = 0o444
)

// fileRef is one secret or config reference of a task, resolved: the
// object it names, the path its file has in the container, and the
// file's owner and mode there.
type fileRef struct {
	secret   bool // a secret (else a config)
	id, name string
	target   string // absolute, in the container
	uid, gid int
	mode     os.FileMode
	file     string // the file's name in the task's directory
}

func (r fileRef) kind() string {
	if r.secret {
		return "secret"
	}
	return "config"
}

// resolveTarget turns a reference's file target into the path in the
// container: an absolute target as is, a relative one under base, an
// empty one the object's name under base.
func resolveTarget(target, name, base string) string {
	if target == "" {
		target = name
	}
	if filepath.IsAbs(target) {
		return filepath.Clean(target)
	}
	return filepath.Join(base, target)
}

// fileOwner parses a reference's uid or gid: empty is root.
func fileOwner(s, what, kind, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q for %s %s", what, s, kind, name)
	}
	return n, nil
}

// newFileRef resolves one reference's file target.
func newFileRef(secret bool, id, name string, f *swarmapi.FileTarget, index int) (fileRef, error) {
	r := fileRef{secret: secret, id: id, name: name, mode: defaultFileMode}
	base := configMountPath
	if secret {
		base = secretMountPath
	}
	r.target = resolveTarget(f.Name, name, base)
	var err error
	if r.uid, err = fileOwner(f.UID, "uid", r.kind(), name); err != nil {
		return fileRef{}, err
	}
	if r.gid, err = fileOwner(f.GID, "gid", r.kind(), name); err != nil {
		return fileRef{}, err
	}
	if f.Mode != 0 {
		r.mode = f.Mode.Perm()
	}
	// One file per reference: a secret referenced twice may have two
	// modes or owners.
	r.file = filepath.Join(r.kind()+"s", fmt.Sprintf("%d-%s", index, id))
	return r, nil
}

// taskFileRefs lists the secrets and configs a task's container sees as
// files, in the spec's order. References without a file target (a
// config used as a credential spec) are not files and are left out.
func taskFileRefs(spec *swarmapi.ContainerSpec) ([]fileRef, error) {
	if spec == nil {
		return nil, nil
	}
	var out []fileRef
	for i, s := range spec.Secrets {
		f := s.GetFile()
		if f == nil {
			continue
		}
		r, err := newFileRef(true, s.SecretID, s.SecretName, f, i)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	for i, c := range spec.Configs {
		f := c.GetFile()
		if f == nil {
			continue
		}
		r, err := newFileRef(false, c.ConfigID, c.ConfigName, f, i)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// taskFiles keeps the secret and config files of this node's tasks under
// root (in the daemon's exec root), one directory per task. With tmpfs,
// each task's directory is a tmpfs of its own, remounted read-only once
// written, so that secrets never reach a disk; the container sees each
// file through a read-only bind mount.
type taskFiles struct {
	root  string
	tmpfs bool
	chown func(path string, uid, gid int) error

	mu sync.Mutex // serialises setting up and releasing directories
}

func newTaskFiles(root string) *taskFiles {
	return &taskFiles{root: root, tmpfs: true, chown: os.Lchown}
}

// validTaskID reports whether id names a directory of root's own
// (SwarmKit's IDs are base-36; anything else is refused).
func validTaskID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`)
}

// dir is a task's directory.
func (f *taskFiles) dir(taskID string) string { return filepath.Join(f.root, taskID) }

// mounts are the bind mounts that show refs to the task's container.
func (f *taskFiles) mounts(taskID string, refs []fileRef) []mount.Mount {
	out := make([]mount.Mount, 0, len(refs))
	for _, r := range refs {
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: filepath.Join(f.dir(taskID), r.file), Target: r.target, ReadOnly: true})
	}
	return out
}

// complete reports whether every file of refs is in the task's directory.
func (f *taskFiles) complete(taskID string, refs []fileRef) bool {
	for _, r := range refs {
		if _, err := os.Stat(filepath.Join(f.dir(taskID), r.file)); err != nil {
			return false
		}
	}
	return true
}

// setup writes the files of refs, read through deps, into a new
// directory for the task (replacing any left from before). A secret or
// config deps cannot give is an error in Docker's words. On error nothing
// is left behind.
func (f *taskFiles) setup(taskID string, refs []fileRef, deps exec.DependencyGetter) (err error) {
	if len(refs) == 0 {
		return nil
	}
	if f.root == "" {
		return errors.New("no directory for task secrets and configs")
	}
	if !validTaskID(taskID) {
		return fmt.Errorf("invalid task ID %q", taskID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := f.dir(taskID)
	if err := f.releaseLocked(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create task files directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.releaseLocked(dir)
		}
	}()
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if f.tmpfs {
		if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "mode=0700"); err != nil {
			return fmt.Errorf("mount tmpfs for task secrets: %w", err)
		}
	}
	for _, r := range refs {
		data, err := refData(r, deps)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, r.file)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("error creating %s mount path: %w", r.kind(), err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("error injecting %s: %w", r.kind(), err)
		}
		if err := f.chown(p, r.uid, r.gid); err != nil {
			return fmt.Errorf("error setting ownership for %s: %w", r.kind(), err)
		}
		if err := os.Chmod(p, r.mode); err != nil {
			return fmt.Errorf("error setting file mode for %s: %w", r.kind(), err)
		}
	}
	if f.tmpfs {
		if err := unix.Mount("", dir, "", flags|unix.MS_REMOUNT|unix.MS_RDONLY, "mode=0700"); err != nil {
			return fmt.Errorf("unable to remount secret dir as readonly: %w", err)
		}
	}
	return nil
}

// refData is the content of a reference's file, templates expanded (deps
// is SwarmKit's templated getter).
func refData(r fileRef, deps exec.DependencyGetter) ([]byte, error) {
	if deps == nil {
		return nil, fmt.Errorf("unable to get %s from %s store: no %s provider available", r.kind(), r.kind(), r.kind())
	}
	if r.secret {
		s, err := deps.Secrets().Get(r.id)
		if err == nil && s == nil {
			err = fmt.Errorf("secret %s not found", r.id)
		}
		if err != nil {
			return nil, fmt.Errorf("unable to get secret from secret store: %w", err)
		}
		return s.Spec.Data, nil
	}
	c, err := deps.Configs().Get(r.id)
	if err == nil && c == nil {
		err = fmt.Errorf("config %s not found", r.id)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to get config from config store: %w", err)
	}
	return c.Spec.Data, nil
}

// release removes a task's directory, unmounting its tmpfs.
func (f *taskFiles) release(taskID string) error {
	if f.root == "" || !validTaskID(taskID) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.releaseLocked(f.dir(taskID))
}

func (f *taskFiles) releaseLocked(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unmountAll(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove task files: %w", err)
	}
	return nil
}

// unmountAll detaches every mount at or below dir, deepest first. It
// fails rather than leave a mount behind, so that nothing is ever removed
// through one.
func unmountAll(dir string) error {
	for {
		mps, err := mountsUnder(dir)
		if err != nil || len(mps) == 0 {
			return err
		}
		for _, mp := range mps {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmount %s: %w", mp, err)
			}
		}
		// A mount stacked on another shows up again: go round once more.
		// Each round takes the top of every stack, or it gives up.
		left, err := mountsUnder(dir)
		if err != nil {
			return err
		}
		if len(left) >= len(mps) {
			return fmt.Errorf("could not unmount %s", strings.Join(left, ", "))
		}
	}
}

// mountsUnder lists this process's mount points at or below dir, deepest
// first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// RemoveTaskFiles removes every task's secret and config files under root
// (what New was given), unmounting their tmpfs: for a node that left its
// swarm, or a daemon starting with no swarm after leaving one uncleanly.
func RemoveTaskFiles(root string) error {
	if err := unmountAll(root); err != nil {
		return err
	}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("remove task files: %w", err)
	}
	return nil
}
