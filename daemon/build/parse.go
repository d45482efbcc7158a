package build

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// plan is a parsed Dockerfile: its stages up to the target.
type plan struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	steps    int // total number of steps (FROMs included), for "Step n/N"
}

// parseDockerfile parses a Dockerfile with BuildKit's parser. Errors name
// the file, the line and the instruction.
func parseDockerfile(name string, src []byte, opts Options) (*plan, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, parseErr(name, src, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, parseErr(name, src, err)
	}
	if len(stages) == 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: no build stage in the Dockerfile (it needs a FROM)", name))
	}
	for _, st := range stages {
		for _, c := range st.Commands {
			if err := supported(c); err != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s:%d: %v", name, line(c.Location()), err))
			}
		}
	}
	if opts.Target != "" {
		i, ok := instructions.HasStage(stages, strings.ToLower(opts.Target))
		if !ok {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to reach build target %s in Dockerfile", opts.Target))
		}
		stages = stages[:i+1]
	}
	if len(opts.Labels) > 0 {
		keys := make([]string, 0, len(opts.Labels))
		for k := range opts.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		last := &stages[len(stages)-1]
		for _, k := range keys {
			last.AddCommand(instructions.NewLabelCommand(k, opts.Labels[k], true))
		}
	}
	p := &plan{stages: stages, metaArgs: metaArgs, escape: res.EscapeToken}
	for _, st := range stages {
		p.steps += 1 + len(st.Commands)
	}
	return p, nil
}

// supported refuses what the classic builder cannot do, with a clear word.
func supported(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.RunCommand:
		if len(c.FlagsUsed) > 0 {
			return fmt.Errorf("RUN --%s needs BuildKit, which berth does not provide", c.FlagsUsed[0])
		}
		if len(c.Files) > 0 {
			return fmt.Errorf("RUN with a here-document needs BuildKit, which berth does not provide")
		}
	case *instructions.CopyCommand:
		if c.Link || c.Parents || len(c.ExcludePatterns) > 0 || len(c.SourceContents) > 0 {
			return fmt.Errorf("COPY --link, --parents, --exclude and here-documents need BuildKit, which berth does not provide")
		}
	case *instructions.AddCommand:
		if c.Link || c.Checksum != "" || len(c.ExcludePatterns) > 0 || len(c.SourceContents) > 0 || c.KeepGitDir != nil {
			return fmt.Errorf("ADD --link, --checksum, --exclude, --keep-git-dir and here-documents need BuildKit, which berth does not provide")
		}
	}
	return nil
}

func line(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// parseErr words a parser error as "Dockerfile:3: unknown instruction:
// FOO (FOO bar)".
func parseErr(name string, src []byte, err error) error {
	ln := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		ln = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			msg = msg[:i] + msg[i+j+2:]
		}
	}
	if ln > 0 {
		lines := strings.Split(string(src), "\n")
		text := ""
		if ln <= len(lines) {
			text = strings.TrimSpace(lines[ln-1])
		}
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error on line %d of %s: %s (%s)", ln, name, msg, text))
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error in %s: %s", name, msg))
}

// expander substitutes $VAR / ${VAR:-x} as Docker does.
func expander(lex *shell.Lex, env []string) instructions.SingleWordExpander {
	getter := shell.EnvsFromSlice(env)
	return func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, getter)
		return s, err
	}
}

// predefined build args: usable without an ARG line and not recorded in
// the image's history.
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

func isPredefinedArg(k string) bool { return predefinedArgs[k] }

func validTag(t string) error {
	ref, err := reference.ParseNormalizedNamed(t)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s: %v", t, err))
	}
	if _, ok := ref.(reference.Digested); ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid tag %s: a build tag cannot have a digest", t))
	}
	return nil
}

func normalizeTag(t string) string {
	ref, err := reference.ParseNormalizedNamed(t)
	if err != nil {
		return t
	}
	return reference.FamiliarString(reference.TagNameOnly(ref))
}
