package cli

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// splitCpArg splits "container:path"; a local path has no container part.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg
	}
	return c, rest
}

func (a *app) cpCmd() *cobra.Command {
	var archive, follow, quiet bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcC, srcP := splitCpArg(args[0])
			dstC, dstP := splitCpArg(args[1])
			switch {
			case srcC != "" && dstC != "":
				return errors.New("copying between containers is not supported")
			case srcC == "" && dstC == "":
				return errors.New("must specify at least one container source")
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			if srcC != "" {
				return a.copyFrom(cmd.Context(), api, srcC, srcP, dstP, follow)
			}
			return a.copyTo(cmd.Context(), api, srcP, dstC, dstP, archive, follow)
		},
	}
	cmd.Flags().BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy")
	return cmd
}

func (a *app) copyFrom(ctx context.Context, api *client.Client, ctr, src, dst string, follow bool) error {
	if follow {
		if st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: src}); err == nil && st.Stat.LinkTarget != "" {
			src = st.Stat.LinkTarget
		}
	}
	res, err := api.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err := io.Copy(a.out, res.Content)
		return err
	}
	// Into an existing directory: keep the source's name; otherwise the
	// copied item takes the destination's name.
	srcBase := res.Stat.Name
	if srcBase == "" {
		srcBase = path.Base(src)
	}
	destDir, rename := dst, ""
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		destDir, rename = filepath.Dir(dst), filepath.Base(dst)
	}
	return untar(res.Content, destDir, srcBase, rename)
}

// untar extracts r into dir, renaming the top-level entry from -> to.
func untar(r io.Reader, dir, from, to string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		if to != "" && (name == from || strings.HasPrefix(name, from+"/")) {
			name = to + strings.TrimPrefix(name, from)
		}
		if strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
			return fmt.Errorf("archive entry %q escapes destination", hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		}
		_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
	}
}

func (a *app) copyTo(ctx context.Context, api *client.Client, src, ctr, dst string, archive, follow bool) error {
	if src == "-" {
		_, err := api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: dst, Content: a.in, CopyUIDGID: archive})
		return err
	}
	if follow {
		if p, err := filepath.EvalSymlinks(src); err == nil {
			src = p
		}
	}
	if _, err := os.Lstat(src); err != nil {
		return err
	}
	destDir, name := dst, filepath.Base(src)
	st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	switch {
	case err == nil && st.Stat.Mode.IsDir():
	case err == nil || cerrdefs.IsNotFound(err):
		destDir, name = path.Dir(dst), path.Base(dst)
	default:
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarPath(src, name, pw)) }()
	defer pr.Close()
	_, err = api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: destDir, Content: pr, CopyUIDGID: archive})
	return err
}

// tarPath archives src (file or directory) with its top entry named name.
func tarPath(src, name string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = path.Join(name, filepath.ToSlash(rel))
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	return tw.Close()
}

const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = headerContext{"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

// statsContext is one row of `stats`, computed from a sample.
type statsContext struct {
	container, id, name string
	cpu, memPerc        float64
	mem, limit          float64
	rx, tx, rd, wr      float64
	pids                uint64
}

func (s statsContext) Container() string { return s.container }
func (s statsContext) ID() string        { return shortID(s.id) }
func (s statsContext) Name() string      { return strings.TrimPrefix(s.name, "/") }
func (s statsContext) CPUPerc() string   { return fmt.Sprintf("%.2f%%", s.cpu) }
func (s statsContext) MemUsage() string {
	return humanBinary(int64(s.mem)) + " / " + humanBinary(int64(s.limit))
}
func (s statsContext) MemPerc() string { return fmt.Sprintf("%.2f%%", s.memPerc) }
func (s statsContext) NetIO() string {
	return humanSize(int64(s.rx)) + " / " + humanSize(int64(s.tx))
}
func (s statsContext) BlockIO() string {
	return humanSize(int64(s.rd)) + " / " + humanSize(int64(s.wr))
}
func (s statsContext) PIDs() string { return fmt.Sprint(s.pids) }
func (s statsContext) MarshalJSON() ([]byte, error) {
	return contextJSON(s, []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"})
}

// statsRow computes docker's derived figures from one sample.
func statsRow(name string, v container.StatsResponse) statsContext {
	s := statsContext{container: name, id: v.ID, name: v.Name, pids: v.PidsStats.Current}
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	online := float64(v.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		s.cpu = cpuDelta / sysDelta * online * 100
	}
	mem := float64(v.MemoryStats.Usage)
	if c, ok := v.MemoryStats.Stats["total_inactive_file"]; ok && float64(c) < mem {
		mem -= float64(c)
	} else if c, ok := v.MemoryStats.Stats["inactive_file"]; ok && float64(c) < mem {
		mem -= float64(c)
	}
	s.mem, s.limit = mem, float64(v.MemoryStats.Limit)
	if s.limit > 0 {
		s.memPerc = mem / s.limit * 100
	}
	for _, n := range v.Networks {
		s.rx += float64(n.RxBytes)
		s.tx += float64(n.TxBytes)
	}
	for _, e := range v.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			s.rd += float64(e.Value)
		case "write":
			s.wr += float64(e.Value)
		}
	}
	return s
}

func (a *app) statsCmd() *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, err := a.client()
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				res, err := api.ContainerList(ctx, client.ContainerListOptions{All: all})
				if err != nil {
					return err
				}
				for _, c := range res.Items {
					names = append(names, c.ID)
				}
			}
			for {
				rows := make([]any, len(names))
				var wg sync.WaitGroup
				var mu sync.Mutex
				var errs []string
				for i, n := range names {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := api.ContainerStats(ctx, n, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: true})
						var v container.StatsResponse
						if err == nil {
							err = json.NewDecoder(res.Body).Decode(&v)
							res.Body.Close()
						}
						if err != nil {
							mu.Lock()
							errs = append(errs, err.Error())
							mu.Unlock()
							rows[i] = statsContext{container: n, id: n, name: "--"}
							return
						}
						rows[i] = statsRow(n, v)
					}()
				}
				wg.Wait()
				if noStream && len(errs) > 0 && len(errs) == len(names) {
					return errors.New(strings.Join(errs, "\n"))
				}
				if !noStream {
					fmt.Fprint(a.out, "\033[2J\033[H")
				}
				if err := listFormat(a.out, format, defaultStatsFormat, statsHeaders, rows); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}
