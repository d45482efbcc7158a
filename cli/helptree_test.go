package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/help.golden")

// TestHelpTree pins every command's help (usage line, aliases, flags and
// their help text) and exit code: a change to the tree shows up here.
func TestHelpTree(t *testing.T) {
	// The TLS flags' defaults come from the environment.
	t.Setenv("HOME", "/root")
	for _, k := range []string{"DOCKER_CERT_PATH", "DOCKER_CONFIG", "DOCKER_TLS", "DOCKER_TLS_VERIFY"} {
		t.Setenv(k, "")
	}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				continue
			}
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	root := NewRootCommand()
	walk(root, nil)
	var b strings.Builder
	for _, p := range paths {
		a, out, errOut := testApp()
		code := mainWith(a, append(append([]string{}, p...), "--help"))
		fmt.Fprintf(&b, "=== berth %s --help (exit %d)\n%s%s", strings.Join(p, " "), code, out, errOut)
		// Hidden flags and aliases too, which help does not show.
		c, _, _ := root.Find(p)
		fmt.Fprintf(&b, "--- aliases %q hidden %t\n", c.Aliases, c.Hidden)
		c.Flags().VisitAll(func(f *pflag.Flag) {
			fmt.Fprintf(&b, "--- flag %s -%s %s %q hidden %t\n", f.Name, f.Shorthand, f.Value.Type(), f.DefValue, f.Hidden)
		})
	}
	golden := filepath.Join("testdata", "help.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("help differs from %s at line %d:\n got: %q\nwant: %q\n(go test -run TestHelpTree ./cli -update rewrites it)", golden, i+1, g, w)
			}
		}
	}
}
