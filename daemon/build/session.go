package build

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/daemon/image"
)

// session is one build.
type session struct {
	b      *Builder
	opts   Options
	out    Output
	ctxDir string
	tmp    string
	dfName string
	plan   *plan
	hashes sync.Map // context path → content digest, computed once per build
	output *orderedOutput
	runs   []*stageRun // one per stage, built concurrently

	mu       sync.Mutex
	usedArgs map[string]bool
}

// stageRun is one stage being built. Stages run concurrently; one that
// needs an earlier stage (FROM, COPY --from) waits for it.
type stageRun struct {
	done  chan struct{}
	img   *image.Image // nil: FROM scratch with nothing added
	err   error
	first int // step number of its FROM line
}

// stageImage waits for stage i and returns its image.
func (s *session) stageImage(ctx context.Context, i int) (*image.Image, error) {
	r := s.runs[i]
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("stage %d failed", i)
	}
	return r.img, nil
}

func (s *session) markUsed(k string) {
	s.mu.Lock()
	s.usedArgs[k] = true
	s.mu.Unlock()
}

// state is the stage being built.
type state struct {
	idx    int          // stage index
	step   int          // current step number
	img    *image.Image // current image; nil for FROM scratch before a step
	cfg    dockerspec.DockerOCIImage
	args   map[string]string // ARGs declared in the stage that have a value
	order  []string          // declaration order of args
	cmdSet bool              // CMD given in this stage (ENTRYPOINT keeps it)
	lex    *shell.Lex
}

func (st *state) parentID() digest.Digest {
	if st.img == nil {
		return ""
	}
	return st.img.ID
}

func (st *state) setImage(img *image.Image) {
	st.img = img
	st.cfg = img.Config
}

// env is what variable substitution sees: the declared args, then the
// image's env (ENV wins over ARG).
func (st *state) env() []string {
	var out []string
	have := map[string]bool{}
	for _, kv := range st.cfg.Config.Env {
		k, _, _ := strings.Cut(kv, "=")
		have[k] = true
	}
	for _, k := range st.order {
		if v, ok := st.args[k]; ok && !have[k] {
			out = append(out, k+"="+v)
		}
	}
	return append(out, st.cfg.Config.Env...)
}

func (st *state) expand() instructions.SingleWordExpander { return expander(st.lex, st.env()) }

// say prints progress of a stage (in stage order: a later stage's lines
// wait until the earlier stages are done).
func (s *session) say(stage int, format string, a ...any) {
	if !s.opts.Quiet {
		s.output.stream(stage, fmt.Sprintf(format, a...))
	}
}

func (s *session) run(ctx context.Context) (*image.Image, error) {
	lex := shell.NewLex(s.plan.escape)
	// Global ARGs (before the first FROM), for FROM lines and stage ARGs.
	meta := map[string]string{}
	var metaEnv []string
	for _, a := range s.plan.metaArgs {
		for _, kv := range a.Args {
			k := kv.Key
			val, ok := "", false
			if kv.Value != nil {
				v, _, err := lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(metaEnv))
				if err != nil {
					return nil, s.stepErr(a.Location(), err)
				}
				val, ok = v, true
			}
			if v, given := s.opts.BuildArgs[k]; given && v != nil {
				val, ok = *v, true
				s.markUsed(k)
			}
			if ok {
				meta[k] = val
				metaEnv = append(metaEnv, k+"="+val)
			}
		}
	}
	// Every stage starts at once; each waits for the stages it uses.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.output = newOrderedOutput(s.out, len(s.plan.stages))
	step := 1
	for _, stg := range s.plan.stages {
		s.runs = append(s.runs, &stageRun{done: make(chan struct{}), first: step})
		step += 1 + len(stg.Commands)
	}
	var firstErr error
	var errMu sync.Mutex
	var wg sync.WaitGroup
	for i, stg := range s.plan.stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.runs[i]
			// A shell.Lex keeps its word state in itself: one per stage,
			// or concurrent stages corrupt each other's words.
			r.img, r.err = s.buildStage(ctx, i, stg, shell.NewLex(s.plan.escape), meta, metaEnv)
			close(r.done)
			if r.err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = r.err
					s.output.cut(i)
					cancel()
				}
				errMu.Unlock()
			}
			s.output.finish(i)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	last := s.runs[len(s.runs)-1].img
	if last == nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(errNoImage.Error())
	}
	return last, nil
}

func (s *session) stepErr(loc []parser.Range, err error) error {
	if errdefs.IsInvalidArgument(err) || errdefs.IsNotFound(err) {
		return err
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s:%d: %v", s.dfName, line(loc), err))
}

// stageIndex finds an earlier stage by name or index.
func (s *session) stageIndex(name string, before int) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n >= 0 && n < before
	}
	for i := 0; i < before; i++ {
		if s.plan.stages[i].Name != "" && s.plan.stages[i].Name == strings.ToLower(name) {
			return i, true
		}
	}
	return 0, false
}

func (s *session) buildStage(ctx context.Context, idx int, stg instructions.Stage, lex *shell.Lex, meta map[string]string, metaEnv []string) (*image.Image, error) {
	st := &state{idx: idx, step: s.runs[idx].first, args: map[string]string{}, lex: lex}
	s.say(idx, "Step %d/%d : %s\n", st.step, s.plan.steps, stg.SourceCode)
	base, _, err := lex.ProcessWord(stg.BaseName, shell.EnvsFromSlice(metaEnv))
	if err != nil {
		return nil, s.stepErr(stg.Location, err)
	}
	switch i, ok := s.stageIndex(base, idx); {
	case ok && !isNumeric(base):
		img, err := s.stageImage(ctx, i)
		if err != nil {
			return nil, err
		}
		if img != nil {
			st.setImage(img)
		}
	case strings.EqualFold(base, "scratch"):
	default:
		img, err := s.b.images.Get(ctx, base)
		if (err != nil && errdefs.IsNotFound(err)) || (err == nil && s.opts.Pull) {
			perr := s.b.run.Pull(ctx, base, func(l string) { s.say(idx, "%s\n", l) })
			if perr != nil && err != nil {
				return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("%s:%d: FROM %s: %v", s.dfName, line(stg.Location), base, perr))
			}
			if perr != nil {
				s.say(idx, "pull %s failed (%v): using the local image\n", base, perr)
			}
			img, err = s.b.images.Get(ctx, base)
		}
		if err != nil {
			return nil, err
		}
		st.setImage(img)
	}
	if st.img != nil {
		s.say(idx, " ---> %s\n", short(st.img.ID.Encoded()))
	}
	if st.img != nil && len(st.cfg.Config.OnBuild) > 0 {
		triggers := st.cfg.Config.OnBuild
		st.cfg.Config.OnBuild = nil
		plural := ""
		if len(triggers) > 1 {
			plural = "s"
		}
		s.say(idx, "# Executing %d build trigger%s\n", len(triggers), plural)
		for _, t := range triggers {
			res, err := parser.Parse(strings.NewReader(t))
			if err != nil {
				return nil, s.stepErr(stg.Location, fmt.Errorf("ONBUILD trigger %q: %w", t, err))
			}
			for _, n := range res.AST.Children {
				c, err := instructions.ParseCommand(n)
				if err != nil {
					return nil, s.stepErr(stg.Location, fmt.Errorf("ONBUILD trigger %q: %w", t, err))
				}
				if err := supported(c); err != nil {
					return nil, s.stepErr(stg.Location, err)
				}
				if err := s.dispatch(ctx, st, idx, c, meta); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, c := range stg.Commands {
		st.step++
		s.say(idx, "Step %d/%d : %s\n", st.step, s.plan.steps, c.(fmt.Stringer).String())
		t0 := time.Now()
		if err := s.dispatch(ctx, st, idx, c, meta); err != nil {
			return nil, err
		}
		s.b.log.Debug("build step", "step", st.step, "instruction", c.Name(), "elapsed", time.Since(t0))
	}
	return st.img, nil
}

func isNumeric(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// configStep finishes a step that only changes the config: from the cache
// or as a new image sharing its parent's layers.
func (s *session) configStep(ctx context.Context, st *state, createdBy string) error {
	key := stepKey(st.parentID(), createdBy, "")
	if s.fromCache(ctx, st, key) {
		return nil
	}
	img, err := s.b.images.Derive(ctx, image.DeriveOptions{Parent: st.img, Config: st.cfg, CreatedBy: createdBy})
	if err != nil {
		return err
	}
	return s.stepDone(st, key, img)
}

func (s *session) stepDone(st *state, key string, img *image.Image) error {
	if err := s.b.cache.put(key, img.ID); err != nil {
		s.b.log.Warn("build cache", "err", err)
	}
	st.setImage(img)
	s.say(st.idx, " ---> %s\n", short(img.ID.Encoded()))
	return nil
}

// fromCache reuses the image a step made before, if it is still there.
func (s *session) fromCache(ctx context.Context, st *state, key string) bool {
	if s.opts.NoCache {
		return false
	}
	id := s.b.cache.get(key)
	if id == "" {
		return false
	}
	img, err := s.b.images.Get(ctx, id.String())
	if err != nil || img.ID != id {
		return false
	}
	st.setImage(img)
	s.say(st.idx, " ---> Using cache\n ---> %s\n", short(img.ID.Encoded()))
	return true
}

func nop(st *state, text string) string {
	return strings.Join(shellOf(st), " ") + " #(nop) " + text
}

func shellOf(st *state) []string {
	if len(st.cfg.Config.Shell) > 0 {
		return st.cfg.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

func (s *session) dispatch(ctx context.Context, st *state, idx int, c instructions.Command, meta map[string]string) error {
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := ex.Expand(st.expand()); err != nil {
				return s.stepErr(c.Location(), err)
			}
		}
	}
	ic := &st.cfg.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			ic.Env = setEnv(ic.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return s.configStep(ctx, st, nop(st, " ENV "+strings.Join(parts, " ")))
	case *instructions.LabelCommand:
		if ic.Labels == nil {
			ic.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range c.Labels {
			ic.Labels[kv.Key] = kv.Value
			parts = append(parts, strconv.Quote(kv.Key)+"="+strconv.Quote(kv.Value))
		}
		return s.configStep(ctx, st, nop(st, " LABEL "+strings.Join(parts, " ")))
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
		return s.configStep(ctx, st, nop(st, " MAINTAINER "+c.Maintainer))
	case *instructions.WorkdirCommand:
		return s.workdir(ctx, st, c.Path)
	case *instructions.UserCommand:
		ic.User = c.User
		return s.configStep(ctx, st, nop(st, " USER "+c.User))
	case *instructions.VolumeCommand:
		if ic.Volumes == nil {
			ic.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return s.stepErr(c.Location(), fmt.Errorf("VOLUME specified can not be an empty string"))
			}
			ic.Volumes[v] = struct{}{}
		}
		return s.configStep(ctx, st, nop(st, fmt.Sprintf(" VOLUME %q", c.Volumes)))
	case *instructions.StopSignalCommand:
		ic.StopSignal = c.Signal
		return s.configStep(ctx, st, nop(st, " STOPSIGNAL "+c.Signal))
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			w, err := st.lex.ProcessWords(p, shell.EnvsFromSlice(st.env()))
			if err != nil {
				return s.stepErr(c.Location(), err)
			}
			ports = append(ports, w...)
		}
		if err := image.ApplyChanges(&st.cfg, []string{"EXPOSE " + strings.Join(ports, " ")}); err != nil {
			return s.stepErr(c.Location(), err)
		}
		return s.configStep(ctx, st, nop(st, " EXPOSE "+strings.Join(ports, " ")))
	case *instructions.CmdCommand:
		ic.Cmd = commandLine(st, c.ShellDependantCmdLine)
		st.cmdSet = true
		return s.configStep(ctx, st, nop(st, fmt.Sprintf(" CMD %q", ic.Cmd)))
	case *instructions.EntrypointCommand:
		ic.Entrypoint = commandLine(st, c.ShellDependantCmdLine)
		if !st.cmdSet {
			ic.Cmd = nil
		}
		return s.configStep(ctx, st, nop(st, fmt.Sprintf(" ENTRYPOINT %q", ic.Entrypoint)))
	case *instructions.HealthCheckCommand:
		h := *c.Health
		ic.Healthcheck = &h
		return s.configStep(ctx, st, nop(st, fmt.Sprintf(" HEALTHCHECK %q %s %s %s %s %d", h.Test, h.Interval, h.Timeout, h.StartPeriod, h.StartInterval, h.Retries)))
	case *instructions.ShellCommand:
		ic.Shell = c.Shell
		return s.configStep(ctx, st, nop(st, fmt.Sprintf(" SHELL %q", c.Shell)))
	case *instructions.OnbuildCommand:
		ic.OnBuild = append(ic.OnBuild, c.Expression)
		return s.configStep(ctx, st, nop(st, " ONBUILD "+c.Expression))
	case *instructions.ArgCommand:
		var names []string
		for _, kv := range c.Args {
			k := kv.Key
			val, ok := "", false
			if kv.Value != nil {
				val, ok = *kv.Value, true
			} else if v, has := meta[k]; has {
				val, ok = v, true
			}
			if v, given := s.opts.BuildArgs[k]; given {
				s.markUsed(k)
				if v != nil {
					val, ok = *v, true
				}
			}
			if _, seen := st.args[k]; !seen {
				st.order = append(st.order, k)
			}
			if ok {
				st.args[k] = val
			} else {
				delete(st.args, k)
			}
			names = append(names, kv.String())
		}
		return s.configStep(ctx, st, nop(st, " ARG "+strings.Join(names, " ")))
	case *instructions.RunCommand:
		return s.runStep(ctx, st, c)
	case *instructions.CopyCommand:
		return s.copyStep(ctx, st, idx, copySpec{name: "COPY", srcs: c.SourcePaths, dest: c.DestPath, from: c.From, chown: c.Chown, chmod: c.Chmod, loc: c.Location()})
	case *instructions.AddCommand:
		return s.copyStep(ctx, st, idx, copySpec{name: "ADD", add: true, srcs: c.SourcePaths, dest: c.DestPath, chown: c.Chown, chmod: c.Chmod, loc: c.Location()})
	}
	return s.stepErr(c.Location(), fmt.Errorf("%s is not supported by berth's builder", strings.ToUpper(c.Name())))
}

func commandLine(st *state, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(append([]string{}, shellOf(st)...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			out := append([]string{}, env...)
			out[i] = k + "=" + v
			return out
		}
	}
	return append(append([]string{}, env...), k+"="+v)
}

// runEnv is what a RUN command sees besides the image's env: the stage's
// args (not shadowed by ENV) and the proxy args given with --build-arg.
// It also returns the "|N a=b" history prefix Docker records.
func (s *session) runEnv(st *state) ([]string, string) {
	have := map[string]bool{}
	for _, kv := range st.cfg.Config.Env {
		k, _, _ := strings.Cut(kv, "=")
		have[k] = true
	}
	var env, recorded []string
	declared := map[string]bool{}
	for _, k := range st.order {
		declared[k] = true
		if v, ok := st.args[k]; ok && !have[k] {
			env = append(env, k+"="+v)
			recorded = append(recorded, k+"="+v)
		}
	}
	var proxies []string
	for k, v := range s.opts.BuildArgs {
		if isPredefinedArg(k) && !declared[k] && v != nil && !have[k] {
			proxies = append(proxies, k+"="+*v)
			s.markUsed(k)
		}
	}
	sort.Strings(proxies)
	env = append(env, proxies...)
	prefix := ""
	if len(recorded) > 0 {
		prefix = fmt.Sprintf("|%d %s ", len(recorded), strings.Join(recorded, " "))
	}
	return env, prefix
}

func (s *session) runStep(ctx context.Context, st *state, c *instructions.RunCommand) error {
	argv := commandLine(st, c.ShellDependantCmdLine)
	if len(argv) == 0 {
		return s.stepErr(c.Location(), fmt.Errorf("RUN needs a command"))
	}
	env, prefix := s.runEnv(st)
	createdBy := prefix + strings.Join(argv, " ")
	// Proxy args change what the command sees, not what it means: they
	// are in the key only through the history prefix, as Docker does.
	key := stepKey(st.parentID(), createdBy, "")
	if s.fromCache(ctx, st, key) {
		return nil
	}
	if st.img == nil {
		return s.stepErr(c.Location(), fmt.Errorf("RUN needs a base image with a shell: FROM scratch has no files yet"))
	}
	ic := st.cfg.Config
	cfg := &apicontainer.Config{
		Image:      st.img.ID.String(),
		Cmd:        argv,
		Env:        append(env, ic.Env...),
		User:       ic.User,
		WorkingDir: ic.WorkingDir,
	}
	var tail tailBuffer
	var w io.Writer = &tail
	if !s.opts.Quiet {
		w = io.MultiWriter(&tail, stageWriter{s, st.idx})
	}
	var made *image.Image
	code, err := s.b.run.RunContainer(ctx, RunRequest{
		Config:  cfg,
		Network: s.opts.Network,
		Out:     w,
		Created: func(id string) { s.say(st.idx, " ---> Running in %s\n", short(id)) },
		Commit: func(ctx context.Context, key string) error {
			var err error
			made, err = s.b.images.Derive(ctx, image.DeriveOptions{Parent: st.img, Config: st.cfg, SnapshotKey: key, CreatedBy: createdBy})
			return err
		},
	})
	if err != nil {
		return fmt.Errorf("RUN %s: %w", strings.Join(argv, " "), err)
	}
	if code != 0 {
		msg := fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(argv, " "), code)
		if s.opts.Quiet {
			if t := strings.TrimRight(tail.String(), "\n"); t != "" {
				msg += "\n" + t
			}
		}
		return &stepError{step: createdBy, err: errdefs.ErrUnknown.WithMessage(msg)}
	}
	if made == nil {
		return fmt.Errorf("RUN %s: no image was committed", strings.Join(argv, " "))
	}
	return s.stepDone(st, key, made)
}

// workdir sets the working directory and creates it, as a layer, when
// the image does not have it.
func (s *session) workdir(ctx context.Context, st *state, p string) error {
	ic := &st.cfg.Config
	if !path.IsAbs(p) {
		base := ic.WorkingDir
		if base == "" {
			base = "/"
		}
		p = path.Join(base, p)
	}
	p = path.Clean(p)
	ic.WorkingDir = p
	createdBy := nop(st, "WORKDIR "+p)
	key := stepKey(st.parentID(), createdBy, "")
	if s.fromCache(ctx, st, key) {
		return nil
	}
	img, err := s.layerStep(ctx, st, createdBy, func(root string) (bool, error) {
		return mkdirIfMissing(root, p)
	})
	if err != nil {
		return err
	}
	return s.stepDone(st, key, img)
}

// stageWriter streams a RUN's output as its stage's progress.
type stageWriter struct {
	s     *session
	stage int
}

func (w stageWriter) Write(p []byte) (int, error) {
	w.s.output.stream(w.stage, string(p))
	return len(p), nil
}

// orderedOutput keeps the classic builder's sequential output while
// stages run concurrently: the earliest unfinished stage streams live,
// later ones are held back until it is done.
type orderedOutput struct {
	mu    sync.Mutex
	out   Output
	held  [][]string
	done  []bool
	cur   int
	limit int // stages after it are cancelled: their output is dropped
}

func newOrderedOutput(out Output, stages int) *orderedOutput {
	return &orderedOutput{out: out, held: make([][]string, stages), done: make([]bool, stages), limit: stages}
}

// cut drops the output of the stages after a failed one: they were only
// cancelled because of it.
func (o *orderedOutput) cut(failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if failed < o.limit {
		o.limit = failed
		for i := failed + 1; i < len(o.held); i++ {
			o.held[i] = nil
		}
	}
}

// stream prints text for a stage; a negative stage (after the stages)
// prints at once.
func (o *orderedOutput) stream(stage int, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case stage < 0 || stage == o.cur:
		o.out.Stream(text)
	case stage <= o.limit:
		o.held[stage] = append(o.held[stage], text)
	}
}

// finish marks a stage done and lets the next ones print what they hold.
func (o *orderedOutput) finish(stage int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[stage] = true
	for o.cur < len(o.done) && o.done[o.cur] {
		o.cur++
		if o.cur < len(o.held) {
			for _, t := range o.held[o.cur] {
				o.out.Stream(t)
			}
			o.held[o.cur] = nil
		}
	}
}

// tailBuffer keeps the last lines of a command's output.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 2048

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append([]byte{}, t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(t.buf), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
