package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

func addImageCommands(root *cobra.Command, a *app) {
	mgmt := &cobra.Command{Use: "image", Short: "Manage images"}
	images := a.imagesCmd()
	root.AddCommand(images, a.historyCmd(), a.tagCmd(), a.rmiCmd(), a.importCmd(), a.saveCmd(), a.loadCmd(),
		a.pullCmd(), a.pushCmd(), a.buildCmd())
	ls := a.imagesCmd()
	ls.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
	ls.Aliases = []string{"list"}
	rm := a.rmiCmd()
	rm.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	rm.Aliases = []string{"remove", "rmi"}
	mgmt.AddCommand(ls, rm, a.historyCmd(), a.tagCmd(), a.importCmd(), a.saveCmd(), a.loadCmd(),
		a.pullCmd(), a.pushCmd(), a.buildCmd(), a.imageInspectCmd(), a.imagePruneCmd(), a.bootstrapCmd())
	root.AddCommand(mgmt)
}

const defaultImagesFormat = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

var imageHeaders = headerContext{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"Size": "SIZE", "Digest": "DIGEST", "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

var imageFields = []string{"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}

// imageContext is one row of `images`: an image under one of its names.
type imageContext struct {
	img       image.Summary
	repo, tag string
	digest    string
	trunc     bool
	now       time.Time
}

func (c imageContext) ID() string {
	if c.trunc {
		return shortID(c.img.ID)
	}
	return c.img.ID
}
func (c imageContext) Repository() string { return c.repo }
func (c imageContext) Tag() string        { return c.tag }
func (c imageContext) Digest() string     { return c.digest }
func (c imageContext) CreatedSince() string {
	return humanAgo(time.Unix(c.img.Created, 0), c.now)
}
func (c imageContext) CreatedAt() string   { return time.Unix(c.img.Created, 0).String() }
func (c imageContext) Size() string        { return humanSize(c.img.Size) }
func (c imageContext) VirtualSize() string { return humanSize(c.img.Size) }
func (c imageContext) SharedSize() string {
	if c.img.SharedSize == -1 {
		return "N/A"
	}
	return humanSize(c.img.SharedSize)
}
func (c imageContext) UniqueSize() string {
	if c.img.SharedSize == -1 {
		return "N/A"
	}
	return humanSize(c.img.Size - c.img.SharedSize)
}
func (c imageContext) Containers() string {
	if c.img.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(c.img.Containers, 10)
}

// Label answers {{.Label "name"}}.
func (c imageContext) Label(name string) string { return c.img.Labels[name] }

func (c imageContext) MarshalJSON() ([]byte, error) { return contextJSON(c, imageFields) }

// imageRows expands summaries into one row per repository:tag, as docker
// images does (untagged images show <none>).
func imageRows(items []image.Summary, trunc, digests bool, now time.Time) []any {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Created > items[j].Created })
	var rows []any
	for _, img := range items {
		digestOf := map[string]string{}
		for _, d := range img.RepoDigests {
			repo, dg, ok := strings.Cut(d, "@")
			if ok {
				digestOf[repo] = dg
			}
		}
		added := false
		for _, rt := range img.RepoTags {
			repo, tag := splitRepoTag(rt)
			if repo == "<none>" && len(img.RepoTags) > 1 {
				continue
			}
			dg := digestOf[repo]
			if dg == "" {
				dg = "<none>"
			}
			rows = append(rows, imageContext{img: img, repo: repo, tag: tag, digest: dg, trunc: trunc, now: now})
			added = true
		}
		if !added {
			if len(img.RepoDigests) > 0 {
				for repo, dg := range digestOf {
					rows = append(rows, imageContext{img: img, repo: repo, tag: "<none>", digest: dg, trunc: trunc, now: now})
				}
			} else {
				rows = append(rows, imageContext{img: img, repo: "<none>", tag: "<none>", digest: "<none>", trunc: trunc, now: now})
			}
		}
	}
	_ = digests
	return rows
}

func splitRepoTag(rt string) (string, string) {
	i := strings.LastIndex(rt, ":")
	if i < 0 || strings.Contains(rt[i:], "/") {
		return rt, "<none>"
	}
	return rt[:i], rt[i+1:]
}

func (a *app) imagesCmd() *cobra.Command {
	var all, quiet, digests, noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := filterArgs(filters)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f.Add("reference", args[0])
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ImageList(cmd.Context(), client.ImageListOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			return renderImages(a.out, res.Items, format, quiet, digests, !noTrunc, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func renderImages(w io.Writer, items []image.Summary, format string, quiet, digests, trunc bool, now time.Time) error {
	rows := imageRows(items, trunc, digests, now)
	if quiet && format == "" {
		seen := map[string]bool{}
		for _, r := range rows {
			id := r.(imageContext).ID()
			if !seen[id] {
				seen[id] = true
				fmt.Fprintln(w, id)
			}
		}
		return nil
	}
	def := defaultImagesFormat
	if digests {
		def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	return listFormat(w, format, def, imageHeaders, rows)
}

func (a *app) imageInspectRaw(ctx context.Context, api *client.Client, name string) (json.RawMessage, error) {
	var buf bytes.Buffer
	if _, err := api.ImageInspect(ctx, name, client.ImageInspectWithRawResponse(&buf)); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

func (a *app) imageInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspect(cmd.Context(), "image", format, false, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeaders = headerContext{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

type historyContext struct {
	h     image.HistoryResponseItem
	trunc bool
	human bool
	now   time.Time
}

func (c historyContext) ID() string {
	if c.h.ID == "" || c.h.ID == "<missing>" {
		return "<missing>"
	}
	if c.trunc {
		return shortID(c.h.ID)
	}
	return c.h.ID
}
func (c historyContext) CreatedSince() string {
	if !c.human {
		return c.CreatedAt()
	}
	return humanAgo(time.Unix(c.h.Created, 0), c.now)
}
func (c historyContext) CreatedAt() string {
	if c.human {
		return time.Unix(c.h.Created, 0).Format(time.RFC3339)
	}
	return time.Unix(c.h.Created, 0).Format(time.RFC3339)
}
func (c historyContext) CreatedBy() string {
	s := strings.ReplaceAll(c.h.CreatedBy, "\t", " ")
	if c.trunc {
		s = ellipsis(s, 45)
	}
	return s
}
func (c historyContext) Size() string {
	if c.human {
		return humanSize(c.h.Size)
	}
	return strconv.FormatInt(c.h.Size, 10)
}
func (c historyContext) Comment() string { return c.h.Comment }
func (c historyContext) MarshalJSON() ([]byte, error) {
	return contextJSON(c, []string{"Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"})
}

func (a *app) historyCmd() *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			res, err := api.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			var rows []any
			for _, h := range res.Items {
				rows = append(rows, historyContext{h: h, trunc: !noTrunc, human: human, now: now})
			}
			if quiet && format == "" {
				format = "{{.ID}}"
			}
			return listFormat(a.out, format, defaultHistoryFormat, historyHeaders, rows)
		},
	}
	cmd.Flags().BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (a *app) tagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			_, err = api.ImageTag(cmd.Context(), client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		},
	}
}

func (a *app) rmiCmd() *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				res, err := api.ImageRemove(cmd.Context(), name, client.ImageRemoveOptions{Force: force, PruneChildren: !noPrune})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				printDeleted(a.out, res.Items)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printDeleted(w io.Writer, items []image.DeleteResponse) {
	for _, d := range items {
		if d.Untagged != "" {
			fmt.Fprintf(w, "Untagged: %s\n", d.Untagged)
		}
		if d.Deleted != "" {
			fmt.Fprintf(w, "Deleted: %s\n", d.Deleted)
		}
	}
}

func (a *app) imagePruneCmd() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			warn := "WARNING! This will remove all dangling images."
			if all {
				warn = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !a.confirm(warn) {
				return nil
			}
			return a.pruneImages(cmd.Context(), all, filters)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func (a *app) pruneImages(ctx context.Context, all bool, filters []string) error {
	f, err := filterArgs(filters)
	if err != nil {
		return err
	}
	f.Add("dangling", strconv.FormatBool(!all))
	api, err := a.client()
	if err != nil {
		return err
	}
	res, err := api.ImagePrune(ctx, client.ImagePruneOptions{Filters: f})
	if err != nil {
		return err
	}
	if len(res.Report.ImagesDeleted) > 0 {
		fmt.Fprintln(a.out, "Deleted Images:")
		printDeleted(a.out, res.Report.ImagesDeleted)
		fmt.Fprintln(a.out)
	}
	fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(int64(res.Report.SpaceReclaimed)))
	return nil
}

func (a *app) importCmd() *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			src := client.ImageImportSource{SourceName: "-"}
			switch {
			case args[0] == "-":
				src.Source = a.in
			case strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://"):
				src.SourceName = args[0]
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src.Source = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
				if _, err := reference.ParseNormalizedNamed(ref); err != nil {
					return err
				}
			}
			rc, err := api.ImageImport(cmd.Context(), src, ref, client.ImageImportOptions{Message: message, Changes: changes})
			if err != nil {
				return err
			}
			defer rc.Close()
			return jsonmessage.DisplayJSONMessagesStream(rc, a.out, 0, false, nil)
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func (a *app) saveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, closeFn, err := a.tarOutput(output)
			if err != nil {
				return fmt.Errorf("failed to save image: %w", err)
			}
			defer closeFn()
			api, err := a.client()
			if err != nil {
				return err
			}
			rc, err := api.ImageSave(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func (a *app) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := a.in
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if _, isTerm := term.GetFdInfo(a.in); isTerm {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			api, err := a.client()
			if err != nil {
				return err
			}
			rc, err := api.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(quiet))
			if err != nil {
				return err
			}
			defer rc.Close()
			fd, isTerm := term.GetFdInfo(a.out)
			return jsonmessage.DisplayJSONMessagesStream(rc, a.out, fd, isTerm && !quiet, nil)
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (a *app) pullCmd() *cobra.Command {
	var quiet, all bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if !all {
				named = reference.TagNameOnly(named)
			}
			out := a.out
			if quiet {
				out = io.Discard
			}
			if err := a.pull(cmd.Context(), reference.FamiliarString(named), out); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(a.out, named.String())
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func (a *app) pushCmd() *cobra.Command {
	var quiet, all bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := a.client()
			if err != nil {
				return err
			}
			resp, err := api.ImagePush(cmd.Context(), args[0], client.ImagePushOptions{All: all, RegistryAuth: encodedAuth(registryOf(args[0]))})
			if err != nil {
				return err
			}
			defer resp.Close()
			out := a.out
			if quiet {
				out = io.Discard
			}
			fd, isTerm := term.GetFdInfo(out)
			return jsonmessage.DisplayJSONMessagesStream(resp, out, fd, isTerm, nil)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	return cmd
}
