package stack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadOptions say what to load.
type LoadOptions struct {
	// Files are the compose files, merged in order; "-" is stdin.
	Files []string
	// Env is the environment interpolation reads (KEY=VALUE); the
	// .env file beside the first file adds to it.
	Env []string
	// WorkingDir is where relative paths resolve when the first file
	// is stdin; the first file's directory otherwise.
	WorkingDir string
}

// Load reads the compose files of namespace with compose-go and converts
// them (Convert). The keys swarm mode cannot honour are in the Stack's
// Unsupported and Deprecated, for the caller to warn about.
func Load(ctx context.Context, namespace string, o LoadOptions) (*Stack, error) {
	if err := ValidateName(namespace); err != nil {
		return nil, err
	}
	if len(o.Files) == 0 {
		return nil, fmt.Errorf("Please specify only one compose file (with --compose-file).")
	}
	dir := o.WorkingDir
	if o.Files[0] != "-" {
		abs, err := filepath.Abs(o.Files[0])
		if err != nil {
			return nil, fmt.Errorf("compose file %s: %w", o.Files[0], err)
		}
		dir = filepath.Dir(abs)
	}
	var found []loader.UnsupportedAttribute
	po, err := cli.NewProjectOptions(o.Files,
		cli.WithName(projectName(namespace)),
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(o.Env),
		cli.WithEnvFiles(), // the .env beside the first file
		cli.WithDotEnv,
		// A stack deploys every service, whatever its profiles.
		cli.WithProfiles([]string{"*"}),
		cli.WithResolvedPaths(true),
		cli.WithLoadOptions(loader.WithSupportedAttributes(supportedPaths(), func(f []loader.UnsupportedAttribute) {
			found = append(found, f...)
		})),
	)
	if err != nil {
		return nil, err
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, loadError(err)
	}
	st, err := Convert(project, namespace)
	if err != nil {
		return nil, err
	}
	unsupported, dep := screen(found)
	st.Unsupported = append(unsupported, st.Unsupported...)
	st.Deprecated = dep
	return st, nil
}

// projectName is the name compose-go knows the project by: its own rule
// is lowercase only, where a stack may be "MyStack" (Convert names the
// objects after the stack itself).
func projectName(namespace string) string { return strings.ToLower(namespace) }

// loadError keeps compose-go's message, less its "invalid compose
// project" tail, and says which file could not be read.
// An unknown key comes back from the schema as "services.web.imagez
// false schema"; it is said in docker's words.
func loadError(err error) error {
	msg, cut := strings.CutSuffix(err.Error(), ": invalid compose project")
	if m := falseSchema.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s%s Additional property %s is not allowed", m[1], m[2], m[3])
	}
	if cut {
		return errors.New(msg)
	}
	return err
}

var falseSchema = regexp.MustCompile(`^(validating .*: )?(\S+)\.([^.\s]+) false schema$`)

// isExternal reports an external: true resource.
func isExternal(e types.External) bool { return bool(e) }
