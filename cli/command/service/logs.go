package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
	"github.com/berth-project/berth/cli/command/task"
)

// logsOptions are service logs' flags.
type logsOptions struct {
	noResolve, noTrunc, noTaskIDs, follow, timestamps, details, raw bool
	since, tail                                                     string
}

func newLogsCommand(cli *command.Cli) *cobra.Command {
	var o logsOptions
	cmd := command.NewCommand("logs [OPTIONS] SERVICE|TASK", "Fetch the logs of a service or task", command.ExactArgs(1),
		cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			return runLogs(ctx, cli, api, o, args[0])
		}))
	fs := cmd.Flags()
	fs.BoolVar(&o.noResolve, "no-resolve", false, "Do not map IDs to Names in output")
	fs.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	fs.BoolVar(&o.raw, "raw", false, "Do not neatly format logs")
	fs.BoolVar(&o.noTaskIDs, "no-task-ids", false, "Do not include task IDs in output")
	fs.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	fs.StringVar(&o.since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	fs.BoolVar(&o.details, "details", false, "Show extra details provided to logs")
	fs.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// digits is how many characters n takes.
func digits(n int) int { return len(strconv.Itoa(n)) }

func runLogs(ctx context.Context, cli *command.Cli, api client.APIClient, o logsOptions, target string) error {
	var (
		tty   bool
		width = 1
		rc    io.ReadCloser
	)
	svc, err := api.ServiceInspect(ctx, target, client.ServiceInspectOptions{})
	isTask := false
	if err != nil {
		if !cerrdefs.IsNotFound(err) {
			return err
		}
		t, err := api.TaskInspect(ctx, target, client.TaskInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return fmt.Errorf("no such task or service: %v", target)
			}
			return err
		}
		isTask = true
		tty = t.Task.Spec.ContainerSpec != nil && t.Task.Spec.ContainerSpec.TTY
		width = digits(t.Task.Slot)
	} else {
		spec := svc.Service.Spec
		tty = spec.TaskTemplate.ContainerSpec != nil && spec.TaskTemplate.ContainerSpec.TTY
		if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
			width = digits(int(*r.Replicas))
		}
	}
	if tty && !o.raw {
		return errors.New("tty service logs only supported with --raw")
	}
	// Details carry the task of each line: ask for them unless --raw.
	details := o.details || !o.raw
	if isTask {
		rc, err = api.TaskLogs(ctx, target, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Since: o.since,
			Timestamps: o.timestamps, Follow: o.follow, Tail: o.tail, Details: details})
	} else {
		rc, err = api.ServiceLogs(ctx, target, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Since: o.since,
			Timestamps: o.timestamps, Follow: o.follow, Tail: o.tail, Details: details})
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	if tty {
		_, err = io.Copy(cli.Out, rc)
		return err
	}
	stdout, stderr := cli.Out, cli.Err
	if !o.raw {
		f := &taskNamer{api: api, opts: o, width: width, r: task.NewResolver(api, o.noResolve), cache: map[logContext]string{}}
		stdout = &logWriter{ctx: ctx, opts: o, f: f, w: cli.Out}
		stderr = &logWriter{ctx: ctx, opts: o, f: f, w: cli.Err}
	}
	_, err = stdcopy.StdCopy(stdout, stderr, rc)
	return err
}

// logContext is the task a log line came from.
type logContext struct{ nodeID, serviceID, taskID string }

// taskNamer names a line's task as docker does: "name.slot.taskid@node",
// padded to the widest slot.
type taskNamer struct {
	api   client.APIClient
	opts  logsOptions
	width int
	r     *task.Resolver
	cache map[logContext]string
}

func (f *taskNamer) name(ctx context.Context, lc logContext) (string, error) {
	if s, ok := f.cache[lc]; ok {
		return s, nil
	}
	node := f.r.Node(ctx, lc.nodeID)
	svc := f.r.Service(ctx, lc.serviceID)
	t, err := f.api.TaskInspect(ctx, lc.taskID, client.TaskInspectOptions{})
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s.%d", svc, t.Task.Slot)
	if !f.opts.noTaskIDs {
		if f.opts.noTrunc {
			name += "." + t.Task.ID
		} else {
			name += "." + formatter.ShortID(t.Task.ID)
		}
	}
	name += "@" + node + strings.Repeat(" ", max(f.width-digits(t.Task.Slot), 0))
	f.cache[lc] = name
	return name, nil
}

// logWriter rewrites each log line ("[TIMESTAMP ]DETAILS MESSAGE") as
// "[TIMESTAMP ]TASK    | [DETAILS ]MESSAGE".
type logWriter struct {
	ctx  context.Context
	opts logsOptions
	f    *taskNamer
	w    io.Writer
}

func (lw *logWriter) Write(buf []byte) (int, error) {
	n := 2
	if lw.opts.timestamps {
		n = 3
	}
	parts := bytes.SplitN(buf, []byte(" "), n)
	if len(parts) != n {
		return 0, fmt.Errorf("invalid context in log message: %v", string(buf))
	}
	details, err := parseLogDetails(string(parts[n-2]))
	if err != nil {
		return 0, err
	}
	lc, err := logContextOf(details)
	if err != nil {
		return 0, err
	}
	name, err := lw.f.name(lw.ctx, lc)
	if err != nil {
		return 0, err
	}
	var out []byte
	if lw.opts.timestamps {
		out = append(append(out, parts[0]...), ' ')
	}
	out = append(out, name+"    | "...)
	if lw.opts.details {
		kv := make([]string, 0, len(details))
		for k, v := range details {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		out = append(out, strings.Join(kv, ",")+" "...)
	}
	out = append(out, parts[n-1]...)
	if _, err := lw.w.Write(out); err != nil {
		return 0, err
	}
	return len(buf), nil
}

// parseLogDetails reads the "k=v,k=v" details (URL-escaped) of a line.
func parseLogDetails(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, errors.New("invalid details format")
		}
		var err error
		if k, err = url.QueryUnescape(k); err != nil {
			return nil, err
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// logContextOf takes the node, service and task IDs out of a line's
// details (what remains are the user's).
func logContextOf(d map[string]string) (logContext, error) {
	var lc logContext
	var ok bool
	if lc.nodeID, ok = d["com.docker.swarm.node.id"]; !ok {
		return lc, fmt.Errorf("missing node id in details: %v", d)
	}
	delete(d, "com.docker.swarm.node.id")
	if lc.serviceID, ok = d["com.docker.swarm.service.id"]; !ok {
		return lc, fmt.Errorf("missing service id in details: %v", d)
	}
	delete(d, "com.docker.swarm.service.id")
	if lc.taskID, ok = d["com.docker.swarm.task.id"]; !ok {
		return lc, fmt.Errorf("missing task id in details: %s", d)
	}
	delete(d, "com.docker.swarm.task.id")
	return lc, nil
}
