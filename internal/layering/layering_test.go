// Package layering holds the test that keeps berth's layers apart (see
// docs/architecture.md): data flows down, never up.
package layering

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/berth-project/berth"

// pkg is one package of the module with its direct and transitive imports.
type pkg struct {
	path    string
	imports []string
	deps    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-tags", "seccomp", "-f", "{{.ImportPath}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkgs = append(pkgs, pkg{path: parts[0], imports: split(parts[1]), deps: split(parts[2])})
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func under(p, dir string) bool {
	r := rel(p)
	return r == dir || strings.HasPrefix(r, dir+"/")
}

// TestLayers fails when a package reaches up or across a layer.
func TestLayers(t *testing.T) {
	rules := []struct {
		name    string
		applies func(p string) bool
		// transitive: check every dependency, not only direct imports.
		transitive bool
		forbidden  func(dep string) bool
	}{
		{
			name:      "a daemon/* package imports the root daemon (the composition root)",
			applies:   func(p string) bool { return under(p, "daemon") && rel(p) != "daemon" },
			forbidden: func(d string) bool { return d == module+"/daemon" },
		},
		{
			name:       "the engine depends on the HTTP layer (api/server)",
			applies:    func(p string) bool { return under(p, "daemon") },
			transitive: true,
			forbidden:  func(d string) bool { return under(d, "api/server") },
		},
		{
			name: "a client-side package (cli, stack, machine, web, visualizer) depends on the engine",
			applies: func(p string) bool {
				return under(p, "cli") || under(p, "stack") || under(p, "machine") || under(p, "web") || under(p, "visualizer")
			},
			transitive: true,
			forbidden:  func(d string) bool { return under(d, "daemon") },
		},
		{
			name:      "SwarmKit imported outside daemon/cluster",
			applies:   func(p string) bool { return !under(p, "daemon/cluster") },
			forbidden: func(d string) bool { return strings.HasPrefix(d, "github.com/moby/swarmkit") },
		},
		{
			name:       "api/backend depends on net/http",
			applies:    func(p string) bool { return under(p, "api/backend") },
			transitive: true,
			forbidden:  func(d string) bool { return d == "net/http" },
		},
	}
	for _, p := range listPackages(t) {
		for _, r := range rules {
			if !r.applies(p.path) {
				continue
			}
			deps := p.imports
			if r.transitive {
				deps = p.deps
			}
			for _, d := range deps {
				if r.forbidden(d) {
					t.Errorf("%s: %s imports %s", r.name, rel(p.path), d)
				}
			}
		}
	}
}
