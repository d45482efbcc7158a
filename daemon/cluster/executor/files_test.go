package executor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/swarmkit/v2/agent"
	"github.com/moby/swarmkit/v2/agent/exec"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/template"
)

func secretRef(id, name string, f *swarmapi.FileTarget) *swarmapi.SecretReference {
	r := &swarmapi.SecretReference{SecretID: id, SecretName: name}
	if f != nil {
		r.Target = &swarmapi.SecretReference_File{File: f}
	}
	return r
}

func configRef(id, name string, f *swarmapi.FileTarget) *swarmapi.ConfigReference {
	r := &swarmapi.ConfigReference{ConfigID: id, ConfigName: name}
	if f != nil {
		r.Target = &swarmapi.ConfigReference_File{File: f}
	} else {
		r.Target = &swarmapi.ConfigReference_Runtime{Runtime: &swarmapi.RuntimeTarget{}}
	}
	return r
}

func TestTaskFileRefs(t *testing.T) {
	tests := []struct {
		name    string
		spec    *swarmapi.ContainerSpec
		want    []fileRef
		wantErr string
	}{
		{
			name: "secret target defaults to its name under /run/secrets, root, 0444",
			spec: &swarmapi.ContainerSpec{Secrets: []*swarmapi.SecretReference{secretRef("s1", "pw", &swarmapi.FileTarget{})}},
			want: []fileRef{{secret: true, id: "s1", name: "pw", target: "/run/secrets/pw", mode: 0o444, file: "secrets/0-s1"}},
		},
		{
			name: "secret relative and absolute targets, owner and mode",
			spec: &swarmapi.ContainerSpec{Secrets: []*swarmapi.SecretReference{
				secretRef("s1", "pw", &swarmapi.FileTarget{Name: "other", UID: "1000", GID: "100", Mode: 0o400}),
				secretRef("s1", "pw", &swarmapi.FileTarget{Name: "/etc/pw", UID: "0", GID: "0", Mode: 0o440}),
				secretRef("s2", "tls", &swarmapi.FileTarget{Name: "certs/../tls/key.pem", Mode: 0o444}),
			}},
			want: []fileRef{
				{secret: true, id: "s1", name: "pw", target: "/run/secrets/other", uid: 1000, gid: 100, mode: 0o400, file: "secrets/0-s1"},
				{secret: true, id: "s1", name: "pw", target: "/etc/pw", mode: 0o440, file: "secrets/1-s1"},
				{secret: true, id: "s2", name: "tls", target: "/run/secrets/tls/key.pem", mode: 0o444, file: "secrets/2-s2"},
			},
		},
		{
			name: "config target defaults to /<name>; relative is under /",
			spec: &swarmapi.ContainerSpec{Configs: []*swarmapi.ConfigReference{
				configRef("c1", "cfg", &swarmapi.FileTarget{}),
				configRef("c2", "app", &swarmapi.FileTarget{Name: "etc/app.conf", Mode: 0o600, UID: "33"}),
				configRef("c3", "abs", &swarmapi.FileTarget{Name: "/etc/app.conf"}),
			}},
			want: []fileRef{
				{id: "c1", name: "cfg", target: "/cfg", mode: 0o444, file: "configs/0-c1"},
				{id: "c2", name: "app", target: "/etc/app.conf", uid: 33, mode: 0o600, file: "configs/1-c2"},
				{id: "c3", name: "abs", target: "/etc/app.conf", mode: 0o444, file: "configs/2-c3"},
			},
		},
		{
			name: "references that are not files are left out",
			spec: &swarmapi.ContainerSpec{
				Secrets: []*swarmapi.SecretReference{secretRef("s1", "pw", nil)},
				Configs: []*swarmapi.ConfigReference{configRef("c1", "credspec", nil), configRef("c2", "cfg", &swarmapi.FileTarget{Name: "/x"})},
			},
			want: []fileRef{{id: "c2", name: "cfg", target: "/x", mode: 0o444, file: "configs/1-c2"}},
		},
		{
			name: "mode bits beyond permissions are dropped",
			spec: &swarmapi.ContainerSpec{Secrets: []*swarmapi.SecretReference{secretRef("s1", "pw", &swarmapi.FileTarget{Name: "pw", Mode: os.ModeDir | 0o755})}},
			want: []fileRef{{secret: true, id: "s1", name: "pw", target: "/run/secrets/pw", mode: 0o755, file: "secrets/0-s1"}},
		},
		{
			name:    "uid not a number",
			spec:    &swarmapi.ContainerSpec{Secrets: []*swarmapi.SecretReference{secretRef("s1", "pw", &swarmapi.FileTarget{Name: "pw", UID: "www"})}},
			wantErr: `invalid uid "www" for secret pw`,
		},
		{
			name:    "negative gid",
			spec:    &swarmapi.ContainerSpec{Configs: []*swarmapi.ConfigReference{configRef("c1", "cfg", &swarmapi.FileTarget{GID: "-1"})}},
			wantErr: `invalid gid "-1" for config cfg`,
		},
		{name: "no spec"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := taskFileRefs(tc.spec)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// filesTask is a task of service "web" whose spec references refs.
func filesTask(secrets []*swarmapi.SecretReference, configs []*swarmapi.ConfigReference) *swarmapi.Task {
	return task(&swarmapi.ContainerSpec{Image: "busybox", Secrets: secrets, Configs: configs}, nil)
}

// depsFor is what a controller gives setup: the agent's stores,
// restricted to the task, templates expanded.
func depsFor(t *swarmapi.Task, dm exec.DependencyManager) exec.DependencyGetter {
	return template.NewTemplatedDependencyGetter(agent.Restrict(dm, t), t, nil)
}

type chownCall struct {
	path     string
	uid, gid int
}

func testFiles(t *testing.T) (*taskFiles, *[]chownCall) {
	var calls []chownCall
	f := &taskFiles{root: filepath.Join(t.TempDir(), "tasks"), chown: func(p string, uid, gid int) error {
		calls = append(calls, chownCall{p, uid, gid})
		return nil
	}}
	return f, &calls
}

func TestTaskFilesSetup(t *testing.T) {
	dm := agent.NewDependencyManager(nil)
	dm.Secrets().Add(
		swarmapi.Secret{ID: "s1", Spec: swarmapi.SecretSpec{Annotations: swarmapi.Annotations{Name: "pw"}, Data: []byte("s3cret")}},
		swarmapi.Secret{ID: "s2", Spec: swarmapi.SecretSpec{Annotations: swarmapi.Annotations{Name: "tpl"}, Data: []byte("svc={{.Service.Name}}"), Templating: &swarmapi.Driver{Name: "golang"}}},
		swarmapi.Secret{ID: "s9", Spec: swarmapi.SecretSpec{Annotations: swarmapi.Annotations{Name: "other"}, Data: []byte("not yours")}},
	)
	dm.Configs().Add(swarmapi.Config{ID: "c1", Spec: swarmapi.ConfigSpec{Annotations: swarmapi.Annotations{Name: "cfg"}, Data: []byte("pw is {{secret \"pw\"}}"), Templating: &swarmapi.Driver{Name: "golang"}}})

	tk := filesTask(
		[]*swarmapi.SecretReference{
			secretRef("s1", "pw", &swarmapi.FileTarget{Name: "pw", UID: "0", GID: "0", Mode: 0o444}),
			secretRef("s1", "pw", &swarmapi.FileTarget{Name: "other", UID: "1000", GID: "1000", Mode: 0o400}),
			secretRef("s2", "tpl", &swarmapi.FileTarget{Name: "tpl", Mode: 0o444}),
		},
		[]*swarmapi.ConfigReference{configRef("c1", "cfg", &swarmapi.FileTarget{Name: "/etc/app.conf", Mode: 0o440})},
	)
	refs, err := taskFileRefs(tk.Spec.GetContainer())
	if err != nil {
		t.Fatal(err)
	}
	f, calls := testFiles(t)
	if err := f.setup(tk.ID, refs, depsFor(tk, dm)); err != nil {
		t.Fatal(err)
	}
	dir := f.dir(tk.ID)
	for _, c := range []struct {
		file, data string
		mode       os.FileMode
	}{
		{"secrets/0-s1", "s3cret", 0o444},
		{"secrets/1-s1", "s3cret", 0o400},
		{"secrets/2-s2", "svc=web", 0o444},
		{"configs/0-c1", "pw is s3cret", 0o440},
	} {
		p := filepath.Join(dir, c.file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.data {
			t.Errorf("%s: %q, want %q", c.file, b, c.data)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %o, want %o", c.file, fi.Mode().Perm(), c.mode)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("task dir mode %o", fi.Mode().Perm())
	}
	if want := (chownCall{filepath.Join(dir, "secrets/1-s1"), 1000, 1000}); len(*calls) != 4 || (*calls)[1] != want {
		t.Errorf("chown calls %v", *calls)
	}
	if !f.complete(tk.ID, refs) {
		t.Error("complete: false after setup")
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeBind, Source: filepath.Join(dir, "secrets/0-s1"), Target: "/run/secrets/pw", ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, "secrets/1-s1"), Target: "/run/secrets/other", ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, "secrets/2-s2"), Target: "/run/secrets/tpl", ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, "configs/0-c1"), Target: "/etc/app.conf", ReadOnly: true},
	}
	if got := f.mounts(tk.ID, refs); !reflect.DeepEqual(got, wantMounts) {
		t.Errorf("mounts %+v", got)
	}

	// Set up again (a second Prepare): the same files, nothing stale.
	if err := os.WriteFile(filepath.Join(dir, "stale"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.setup(tk.ID, refs, depsFor(tk, dm)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale")); !os.IsNotExist(err) {
		t.Errorf("stale file kept: %v", err)
	}

	if err := f.release(tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("task dir after release: %v", err)
	}
	if f.complete(tk.ID, refs) {
		t.Error("complete: true after release")
	}
	if err := f.release(tk.ID); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestTaskFilesSetupErrors(t *testing.T) {
	dm := agent.NewDependencyManager(nil)
	dm.Secrets().Add(swarmapi.Secret{ID: "s1", Spec: swarmapi.SecretSpec{Data: []byte("x")}})
	dm.Secrets().Add(swarmapi.Secret{ID: "bad", Spec: swarmapi.SecretSpec{Data: []byte("{{"), Templating: &swarmapi.Driver{Name: "golang"}}})
	tests := []struct {
		name    string
		task    *swarmapi.Task
		deps    func(*swarmapi.Task) exec.DependencyGetter
		wantErr string
	}{
		{
			name:    "secret not in the store",
			task:    filesTask([]*swarmapi.SecretReference{secretRef("s1", "a", &swarmapi.FileTarget{Name: "a"}), secretRef("gone", "pw", &swarmapi.FileTarget{Name: "pw"})}, nil),
			wantErr: "unable to get secret from secret store: secret gone not found",
		},
		{
			name:    "config not in the store",
			task:    filesTask(nil, []*swarmapi.ConfigReference{configRef("gone", "cfg", &swarmapi.FileTarget{Name: "/cfg"})}),
			wantErr: "unable to get config from config store: config gone not found",
		},
		{
			name:    "bad template",
			task:    filesTask([]*swarmapi.SecretReference{secretRef("bad", "bad", &swarmapi.FileTarget{Name: "bad"})}, nil),
			wantErr: "unable to get secret from secret store: failed to expand templated secret bad",
		},
		{
			name: "secret of another task",
			task: filesTask([]*swarmapi.SecretReference{secretRef("s1", "a", &swarmapi.FileTarget{Name: "a"})}, nil),
			deps: func(*swarmapi.Task) exec.DependencyGetter {
				return depsFor(filesTask(nil, nil), dm)
			},
			wantErr: "unable to get secret from secret store: task not authorized to access secret s1",
		},
		{
			name:    "no dependency store",
			task:    filesTask([]*swarmapi.SecretReference{secretRef("s1", "a", &swarmapi.FileTarget{Name: "a"})}, nil),
			deps:    func(*swarmapi.Task) exec.DependencyGetter { return nil },
			wantErr: "unable to get secret from secret store: no secret provider available",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := taskFileRefs(tc.task.Spec.GetContainer())
			if err != nil {
				t.Fatal(err)
			}
			deps := depsFor(tc.task, dm)
			if tc.deps != nil {
				deps = tc.deps(tc.task)
			}
			f, _ := testFiles(t)
			err = f.setup(tc.task.ID, refs, deps)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if _, err := os.Stat(f.dir(tc.task.ID)); !os.IsNotExist(err) {
				t.Errorf("task dir left after a failed setup: %v", err)
			}
		})
	}

	f, _ := testFiles(t)
	for _, id := range []string{"", ".", "..", "a/b"} {
		if err := f.setup(id, []fileRef{{secret: true, id: "s1", file: "secrets/0-s1"}}, nil); err == nil {
			t.Errorf("setup of task ID %q: no error", id)
		}
	}
	if err := (&taskFiles{}).setup("t", []fileRef{{secret: true, id: "s1"}}, nil); err == nil {
		t.Error("setup with no root: no error")
	}
	if err := f.setup("t", nil, nil); err != nil {
		t.Errorf("setup of no refs: %v", err)
	}
}

// TestTaskFilesTmpfs runs setup as the daemon does: the task's directory
// is a tmpfs of its own, read-only once written, gone once released.
func TestTaskFilesTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dm := agent.NewDependencyManager(nil)
	dm.Secrets().Add(swarmapi.Secret{ID: "s1", Spec: swarmapi.SecretSpec{Data: []byte("s3cret")}})
	tk := filesTask([]*swarmapi.SecretReference{secretRef("s1", "pw", &swarmapi.FileTarget{Name: "pw", UID: "1", GID: "2", Mode: 0o400})}, nil)
	refs, _ := taskFileRefs(tk.Spec.GetContainer())
	root := filepath.Join(t.TempDir(), "tasks")
	f := newTaskFiles(root)
	if err := f.setup(tk.ID, refs, depsFor(tk, dm)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = RemoveTaskFiles(root) })
	dir := f.dir(tk.ID)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var line string
	for _, l := range strings.Split(string(mi), "\n") {
		if fs := strings.Fields(l); len(fs) > 4 && fs[4] == dir {
			line = l
		}
	}
	if !strings.Contains(line, " - tmpfs ") || !strings.Contains(line, " ro,") {
		t.Fatalf("task dir is not a read-only tmpfs: %q", line)
	}
	p := filepath.Join(dir, "secrets/0-s1")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	if err := os.WriteFile(p, []byte("x"), 0o600); err == nil {
		t.Error("secret file writable")
	}
	if err := RemoveTaskFiles(root); err != nil {
		t.Fatal(err)
	}
	if m, _ := mountsUnder(root); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("root left: %v", err)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:          "/a/b",
		`/a\040b`:       "/a b",
		`/a\011b\134c`:  "/a\tb\\c",
		`/trailing\04`:  `/trailing\04`,
		`/not\999octal`: `/not\999octal`,
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
