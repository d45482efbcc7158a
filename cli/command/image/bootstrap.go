package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/internal/bootstrap"
)

// bootstrapCmd is `berth image bootstrap debian:SUITE`: a base image made
// from Debian's own packages with debootstrap (run here, by the CLI, as
// root), imported into the daemon. The result is cached by its inputs.
func newBootstrapCommand(cli *command.Cli) *cobra.Command {
	var o bootstrap.Options
	var tag string
	var include []string
	cmd := command.NewCommand("bootstrap [OPTIONS] debian:SUITE", "Make a Debian base image from a package mirror (debootstrap)", command.ExactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			distro, suite, _ := strings.Cut(args[0], ":")
			if distro != "debian" {
				return fmt.Errorf("unsupported distribution %q: berth bootstraps debian:SUITE (e.g. debian:bookworm)", distro)
			}
			if suite == "" {
				suite = "bookworm"
			}
			o.Suite, o.Include = suite, include
			o = o.Normalize()
			if err := o.Validate(); err != nil {
				return err
			}
			if tag == "" {
				tag = "debian:" + o.Suite
				if o.Variant == "slim" {
					tag += "-slim"
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBootstrap(ctx, cli, o, tag)
		})
	f := cmd.Flags()
	f.StringVar(&o.Variant, "variant", "minbase", "minbase, or slim (no docs, man pages or locales, like Docker's -slim images)")
	f.StringVar(&o.Mirror, "mirror", "", "Debian mirror URL (default: this host's apt mirror, or http://deb.debian.org/debian)")
	f.StringSliceVar(&include, "include", nil, "Extra packages, comma-separated")
	f.StringVarP(&tag, "tag", "t", "", "Name the image (default debian:SUITE, or debian:SUITE-slim)")
	return cmd
}

func runBootstrap(ctx context.Context, cli *command.Cli, o bootstrap.Options, tag string) error {
	api, err := cli.Client()
	if err != nil {
		return err
	}
	key := o.Key()
	f := client.Filters{}
	f = f.Add("label", "berth.bootstrap.key="+key)
	list, err := api.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	if len(list.Items) > 0 {
		id := list.Items[0].ID
		if _, err := api.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: tag}); err != nil {
			return err
		}
		fmt.Fprintf(cli.Out, "Using cached bootstrap %s (same suite, variant, mirror and packages)\n", shortImageID(id))
		fmt.Fprintf(cli.Out, "Tagged %s\n", tag)
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("berth image bootstrap runs debootstrap and needs root")
	}
	dir, err := os.MkdirTemp("", "berth-bootstrap-")
	if err != nil {
		return err
	}
	root := dir + "/rootfs"
	defer cleanupTree(dir)
	start := time.Now()
	fmt.Fprintf(cli.Out, "+ debootstrap --variant=minbase %s %s (%s)\n", o.Suite, o.Mirror, strings.Join(o.Include, ","))
	if err := bootstrap.Run(ctx, o, root, func(line string) { fmt.Fprintf(cli.Out, "  %s\n", line) }); err != nil {
		return err
	}
	fmt.Fprintf(cli.Out, "+ trimmed (%s variant); importing as %s\n", o.Variant, tag)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bootstrap.WriteTar(root, pw)) }()
	changes := []string{
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		`CMD ["bash"]`,
		"LABEL berth.bootstrap.key=" + key,
		"LABEL berth.bootstrap.suite=" + o.Suite,
		"LABEL berth.bootstrap.variant=" + o.Variant,
		"LABEL berth.bootstrap.mirror=" + o.Mirror,
	}
	if len(o.Include) > 0 {
		inc := append([]string{}, o.Include...)
		sort.Strings(inc)
		changes = append(changes, "LABEL berth.bootstrap.include="+strings.Join(inc, ","))
	}
	rc, err := api.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, tag,
		client.ImageImportOptions{Changes: changes, Message: "berth image bootstrap debian:" + o.Suite})
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	defer rc.Close()
	var status struct{ Status string }
	if err := json.NewDecoder(rc).Decode(&status); err != nil {
		return err
	}
	fmt.Fprintf(cli.Out, "%s (%s) in %s\n", tag, shortImageID(status.Status), time.Since(start).Round(time.Second))
	return nil
}

func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// cleanupTree unmounts anything left mounted under dir (debootstrap mounts
// proc and sys in its target) and removes it.
func cleanupTree(dir string) {
	b, _ := os.ReadFile("/proc/self/mounts")
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			mps = append(mps, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	_ = os.RemoveAll(dir)
}
