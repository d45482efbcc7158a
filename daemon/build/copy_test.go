package build

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func list(t *testing.T, root string) string {
	t.Helper()
	var out []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			if fi.IsDir() {
				rel += "/"
			}
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestCopySemantics(t *testing.T) {
	ctxFiles := map[string]string{"a.txt": "a", "b.txt": "b", "dir/c": "c", "dir/sub/d": "d"}
	cases := []struct {
		name  string
		srcs  []string
		dest  string
		image map[string]string // files already in the rootfs
		want  string
		err   string
	}{
		{"file to new path", []string{"a.txt"}, "/x", nil, "x", ""},
		{"file into dir/", []string{"a.txt"}, "/app/", nil, "app/ app/a.txt", ""},
		{"file into existing dir", []string{"a.txt"}, "/app", map[string]string{"app/": ""}, "app/ app/a.txt", ""},
		{"dir contents", []string{"dir"}, "/app", nil, "app/ app/c app/sub/ app/sub/d", ""},
		{"whole context", []string{"."}, "/app/", nil, "app/ app/a.txt app/b.txt app/dir/ app/dir/c app/dir/sub/ app/dir/sub/d", ""},
		{"wildcard", []string{"*.txt"}, "/w/", nil, "w/ w/a.txt w/b.txt", ""},
		{"several need a dir", []string{"a.txt", "b.txt"}, "/w", nil, "", "must be a directory and end with a /"},
		{"missing", []string{"nope"}, "/w", nil, "", "file not found in build context"},
		{"outside", []string{"../etc/passwd"}, "/w", nil, "", "outside the build context"},
		{"no match", []string{"*.go"}, "/w/", nil, "", "no source files were specified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctxDir := tree(t, ctxFiles)
			root := tree(t, c.image)
			s := &session{ctxDir: ctxDir}
			var sources []source
			var err error
			for _, src := range c.srcs {
				var ms []match
				ms, err = s.resolveSources(ctxDir, src, "COPY", false)
				if err != nil {
					break
				}
				for _, m := range ms {
					sources = append(sources, source{path: m.full, rel: m.rel})
				}
			}
			if err == nil && len(sources) > 1 && !strings.HasSuffix(c.dest, "/") {
				err = errString("When using COPY with more than one source file, the destination must be a directory and end with a /")
			}
			if err == nil {
				cp := copier{root: root}
				for _, sc := range sources {
					if err = cp.copy(context.Background(), sc, c.dest); err != nil {
						break
					}
				}
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := list(t, root); got != c.want {
				t.Errorf("rootfs = %q, want %q", got, c.want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCopyDoesNotFollowImageSymlinksOut(t *testing.T) {
	ctxDir := tree(t, map[string]string{"a": "a"})
	root := tree(t, nil)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	cp := copier{root: root}
	if err := cp.copy(context.Background(), source{path: filepath.Join(ctxDir, "a"), rel: "/a"}, "/evil/"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("COPY wrote through a symlink to the host: %v", ents)
	}
}

func TestDockerignore(t *testing.T) {
	dir := tree(t, map[string]string{
		".dockerignore": "*.tmp\n!keep.tmp\nsecret/\n# comment\n",
		"a.tmp":         "", "keep.tmp": "", "app.py": "", "secret/key": "", "Dockerfile": "",
	})
	if err := applyDockerignore(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := list(t, dir), ".dockerignore Dockerfile app.py keep.tmp"; got != want {
		t.Errorf("context = %q, want %q", got, want)
	}
}

func TestIsArchive(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"gzip":  {0x1f, 0x8b, 8, 0},
		"bzip2": []byte("BZh91AY"),
		"xz":    {0xfd, '7', 'z', 'X', 'Z', 0},
		"zstd":  {0x28, 0xb5, 0x2f, 0xfd, 0},
		"plain": []byte("hello world"),
		"tar":   append(make([]byte, 257), []byte("ustar\x0000")...),
	}
	want := map[string]bool{"bzip2": true, "xz": false, "gzip": true, "zstd": true, "plain": false, "tar": true}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if len(content) < 512 && name == "tar" {
			content = append(content, make([]byte, 512-len(content))...)
		}
		_ = os.WriteFile(p, content, 0o644)
		if got, _ := isArchive(p); got != want[name] {
			t.Errorf("%s: isArchive = %v", name, got)
		}
	}
}

func TestRunEnv(t *testing.T) {
	v := "http://proxy:3128"
	s := &session{opts: Options{BuildArgs: map[string]*string{"http_proxy": &v}}, usedArgs: map[string]bool{}}
	st := &state{args: map[string]string{"A": "1", "B": "2"}, order: []string{"A", "B"}}
	st.cfg.Config.Env = []string{"B=env"}
	env, prefix := s.runEnv(st)
	if strings.Join(env, ",") != "A=1,http_proxy=http://proxy:3128" || prefix != "|1 A=1 " {
		t.Errorf("env %q prefix %q", env, prefix)
	}
}

type recOutput struct{ lines []string }

func (r *recOutput) Stream(s string) { r.lines = append(r.lines, s) }
func (r *recOutput) Aux(string)      {}

func TestOrderedOutput(t *testing.T) {
	cases := []struct {
		name string
		run  func(o *orderedOutput)
		want string
	}{
		{"in order", func(o *orderedOutput) {
			o.stream(0, "a")
			o.finish(0)
			o.stream(1, "b")
			o.finish(1)
		}, "ab"},
		{"later stage held back", func(o *orderedOutput) {
			o.stream(1, "b1")
			o.stream(0, "a")
			o.finish(1)
			o.stream(0, "a2")
			o.finish(0)
			o.stream(-1, "end")
		}, "aa2b1end"},
		{"stages after a failure are dropped", func(o *orderedOutput) {
			o.stream(2, "c")
			o.stream(1, "b")
			o.cut(1)
			o.stream(2, "c2")
			o.finish(2)
			o.finish(1)
			o.stream(0, "a")
			o.finish(0)
		}, "ab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recOutput{}
			o := newOrderedOutput(r, 3)
			c.run(o)
			if got := strings.Join(r.lines, ""); got != c.want {
				t.Errorf("output %q, want %q", got, c.want)
			}
		})
	}
}
