// Package build holds `berth build`: the context (a directory, or a tar or
// a Dockerfile on stdin, .dockerignore applied) sent to the daemon's
// builder, and its progress shown as docker's classic builder does.
package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

type buildFlags struct {
	tags, buildArgs, labels []string
	file, target, iidfile   string
	network                 string
	noCache, quiet, pull    bool
}

// NewBuildCommand is `build`.
func NewBuildCommand(cli *command.Cli) *cobra.Command {
	var o buildFlags
	cmd := command.NewCommand("build [OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", command.ExactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, cli, args[0], o)
		})
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "Name and optionally a tag in the \"name:tag\" format")
	f.StringVarP(&o.file, "file", "f", "", "Name of the Dockerfile (Default is \"PATH/Dockerfile\"; \"-\" reads it from STDIN)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build")
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	f.StringVar(&o.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	return cmd
}

func runBuild(cmd *cobra.Command, cli *command.Cli, ctxArg string, o buildFlags) error {
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, nil, 0o644); err != nil {
			return fmt.Errorf("write iidfile: %w", err)
		}
	}
	var dockerfile []byte // a Dockerfile to add to the context
	dfName := o.file
	if o.file == "-" {
		if ctxArg == "-" {
			return errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		b, err := io.ReadAll(cli.In)
		if err != nil {
			return fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		dockerfile, dfName = b, ".dockerfile."+randomSuffix()
	}
	var body io.Reader
	switch {
	case ctxArg == "-":
		br := bufio.NewReader(cli.In)
		if isArchiveHead(br) {
			body = br
		} else {
			// A Dockerfile alone: the context holds only it.
			b, err := io.ReadAll(br)
			if err != nil {
				return fmt.Errorf("read Dockerfile from stdin: %w", err)
			}
			var buf bytes.Buffer
			if err := writeDockerfileTar(&buf, "Dockerfile", b); err != nil {
				return err
			}
			body, dfName = &buf, "Dockerfile"
		}
	case strings.HasPrefix(ctxArg, "http://") || strings.HasPrefix(ctxArg, "https://") || strings.HasPrefix(ctxArg, "git@"):
		return fmt.Errorf("unable to prepare context: berth builds from a local directory or STDIN; remote contexts (%s) are not supported yet", ctxArg)
	default:
		fi, err := os.Stat(ctxArg)
		if err != nil {
			return fmt.Errorf("unable to prepare context: path %q not found", ctxArg)
		}
		if !fi.IsDir() {
			return fmt.Errorf("unable to prepare context: context must be a directory: %s", ctxArg)
		}
		if o.file != "" && o.file != "-" {
			// A Dockerfile outside the context is sent inside it under a
			// generated name, as docker does.
			abs, err := filepath.Abs(o.file)
			if err != nil {
				return err
			}
			ctxAbs, _ := filepath.Abs(ctxArg)
			if rel, err := filepath.Rel(ctxAbs, abs); err == nil && !strings.HasPrefix(rel, "..") {
				dfName = filepath.ToSlash(rel)
			} else {
				b, err := os.ReadFile(o.file)
				if err != nil {
					return fmt.Errorf("unable to prepare context: %w", err)
				}
				dockerfile, dfName = b, ".dockerfile."+randomSuffix()
			}
		}
		excludes, err := readDockerignore(ctxArg)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(writeContextTar(pw, ctxArg, excludes, dfName, dockerfile))
		}()
		defer pr.Close()
		body = pr
	}
	ba := map[string]*string{}
	for _, kv := range o.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if env, set := os.LookupEnv(k); set {
				v = env
			} else {
				ba[k] = nil
				continue
			}
		}
		ba[k] = &v
	}
	api, err := cli.Client()
	if err != nil {
		return err
	}
	res, err := api.ImageBuild(cmd.Context(), body, client.ImageBuildOptions{
		Tags: o.tags, Dockerfile: dfName, BuildArgs: ba, Labels: command.ParseKeyValues(o.labels), Target: o.target,
		NoCache: o.noCache, SuppressOutput: o.quiet, PullParent: o.pull, Remove: true, NetworkMode: o.network,
	})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var imageID string
	aux := func(m jsonstream.Message) {
		var r struct{ ID string }
		if m.Aux != nil && json.Unmarshal(*m.Aux, &r) == nil && r.ID != "" {
			imageID = r.ID
		}
	}
	out := cli.Out
	if o.quiet {
		out = io.Discard
	}
	fd, isTerm := term.GetFdInfo(out)
	var display io.Writer = out
	if isTerm && !o.quiet {
		display = &stepTimer{w: out, start: time.Now()}
	}
	if err := jsonmessage.DisplayJSONMessagesStream(res.Body, display, fd, isTerm, aux); err != nil {
		return err
	}
	if st, ok := display.(*stepTimer); ok {
		st.finish()
	}
	if o.quiet {
		fmt.Fprintln(cli.Out, imageID)
	}
	if o.iidfile != "" && imageID != "" {
		if err := os.WriteFile(o.iidfile, []byte(imageID), 0o644); err != nil {
			return fmt.Errorf("write iidfile: %w", err)
		}
	}
	return nil
}

// stepTimer is the terminal view: each step line is followed, when the
// step ends, by how long it took and whether it came from the cache.
type stepTimer struct {
	w      io.Writer
	start  time.Time
	step   time.Time
	cached bool
	inStep bool
}

func (s *stepTimer) Write(p []byte) (int, error) {
	text := string(p)
	if strings.HasPrefix(text, "Step ") || strings.HasPrefix(text, "Successfully built") {
		s.endStep()
		if strings.HasPrefix(text, "Step ") {
			s.step, s.cached, s.inStep = time.Now(), false, true
		}
	}
	if strings.Contains(text, "---> Using cache") {
		s.cached = true
	}
	return s.w.Write(p)
}

func (s *stepTimer) endStep() {
	if !s.inStep {
		return
	}
	s.inStep = false
	note := ""
	if s.cached {
		note = ", CACHED"
	}
	fmt.Fprintf(s.w, " ---> done in %.2fs%s\n", time.Since(s.step).Seconds(), note)
}

func (s *stepTimer) finish() {
	s.endStep()
	fmt.Fprintf(s.w, "Build finished in %.2fs\n", time.Since(s.start).Seconds())
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isArchiveHead sniffs a tar (maybe gzip or zstd compressed) on stdin.
func isArchiveHead(br *bufio.Reader) bool {
	head, _ := br.Peek(512)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	if len(head) >= 4 && bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

func writeDockerfileTar(w io.Writer, name string, content []byte) error {
	tw := tar.NewWriter(w)
	if err := addTarFile(tw, name, content); err != nil {
		return err
	}
	return tw.Close()
}

// addTarFile adds a regular file made of content.
func addTarFile(tw *tar.Writer, name string, content []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

// readDockerignore reads the context's .dockerignore patterns.
func readDockerignore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

// writeContextTar streams dir as the build context, leaving out what
// .dockerignore excludes (never the Dockerfile or .dockerignore), and
// adds an extra Dockerfile under dfName when given.
func writeContextTar(w io.Writer, dir string, pm *patternmatcher.PatternMatcher, dfName string, extra []byte) error {
	tw := tar.NewWriter(w)
	keep := map[string]bool{".dockerignore": true, "Dockerfile": true, filepath.ToSlash(dfName): true}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil && !keep[rel] {
			excluded, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if excluded {
				if info.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				if !info.IsDir() {
					return nil
				}
			}
		}
		return command.AddTarEntry(tw, path, rel, info, true)
	})
	if err != nil {
		return fmt.Errorf("archive build context %s: %w", dir, err)
	}
	if extra != nil {
		if err := addTarFile(tw, dfName, extra); err != nil {
			return err
		}
	}
	return tw.Close()
}
