// images and history: the image lists.

package image

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

const defaultImagesFormat = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

var imageHeaders = formatter.Headers{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"Size": "SIZE", "Digest": "DIGEST", "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
	"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

var imageFields = []string{"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}

// imageContext is one row of `images`: an image under one of its names.
type imageContext struct {
	img       imagetypes.Summary
	repo, tag string
	digest    string
	trunc     bool
	now       time.Time
}

func (c imageContext) ID() string {
	return formatter.ID(c.img.ID, c.trunc)
}

func (c imageContext) Repository() string { return c.repo }

func (c imageContext) Tag() string { return c.tag }

func (c imageContext) Digest() string { return c.digest }

func (c imageContext) CreatedSince() string {
	return formatter.HumanAgo(time.Unix(c.img.Created, 0), c.now)
}

func (c imageContext) CreatedAt() string { return time.Unix(c.img.Created, 0).String() }

func (c imageContext) Size() string { return formatter.HumanSize(c.img.Size) }

func (c imageContext) VirtualSize() string { return formatter.HumanSize(c.img.Size) }

func (c imageContext) SharedSize() string {
	if c.img.SharedSize == -1 {
		return "N/A"
	}
	return formatter.HumanSize(c.img.SharedSize)
}

func (c imageContext) UniqueSize() string {
	if c.img.SharedSize == -1 {
		return "N/A"
	}
	return formatter.HumanSize(c.img.Size - c.img.SharedSize)
}

func (c imageContext) Containers() string {
	if c.img.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(c.img.Containers, 10)
}

// Label answers {{.Label "name"}}.
func (c imageContext) Label(name string) string { return c.img.Labels[name] }

func (c imageContext) MarshalJSON() ([]byte, error) { return formatter.ContextJSON(c, imageFields) }

// imageRows expands summaries into one row per repository:tag, as docker
// images does (untagged images show <none>).
func imageRows(items []imagetypes.Summary, trunc, digests bool, now time.Time) []any {
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

// imagesList is `images`: its table, fields and -q.
var imagesList = command.List{
	Use:           "images [OPTIONS] [REPOSITORY[:TAG]]",
	Short:         "List images",
	Args:          command.MaxArgs(1),
	DefaultFormat: defaultImagesFormat,
	Headers:       imageHeaders,
	QuietFormat:   "{{.ID}}",
	QuietHelp:     "Only show image IDs",
	NoTruncHelp:   "Don't truncate output",
	FilterHelp:    "Filter output based on conditions provided",
}

// NewImagesCommand is `images` (and `image ls`).
func NewImagesCommand(cli *command.Cli) *cobra.Command {
	var all, digests bool
	l := imagesList
	l.Flags = func(fl *pflag.FlagSet) {
		fl.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
		fl.BoolVar(&digests, "digests", false, "Show digests")
	}
	l.Rows = func(ctx context.Context, api client.APIClient, o *command.ListOptions, args []string) ([]any, error) {
		if len(args) == 1 {
			o.Filters.Add("reference", args[0])
		}
		res, err := api.ImageList(ctx, client.ImageListOptions{All: all, Filters: o.Filters})
		if err != nil {
			return nil, err
		}
		return listRows(res.Items, o, digests, time.Now()), nil
	}
	return l.Command(cli)
}

// listRows is one row per name of each image; -q alone lists each image
// once.
func listRows(items []imagetypes.Summary, o *command.ListOptions, digests bool, now time.Time) []any {
	rows := imageRows(items, !o.NoTrunc, digests, now)
	if digests {
		o.DefaultFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	if !o.Quiet || o.Format != "" {
		return rows
	}
	var unique []any
	seen := map[string]bool{}
	for _, r := range rows {
		if id := r.(imageContext).ID(); !seen[id] {
			seen[id] = true
			unique = append(unique, r)
		}
	}
	return unique
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeaders = formatter.Headers{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

type historyContext struct {
	h     imagetypes.HistoryResponseItem
	trunc bool
	human bool
	now   time.Time
}

func (c historyContext) ID() string {
	if c.h.ID == "" || c.h.ID == "<missing>" {
		return "<missing>"
	}
	return formatter.ID(c.h.ID, c.trunc)
}

func (c historyContext) CreatedSince() string {
	if !c.human {
		return c.CreatedAt()
	}
	return formatter.HumanAgo(time.Unix(c.h.Created, 0), c.now)
}

func (c historyContext) CreatedAt() string { return time.Unix(c.h.Created, 0).Format(time.RFC3339) }

func (c historyContext) CreatedBy() string {
	s := strings.ReplaceAll(c.h.CreatedBy, "\t", " ")
	if c.trunc {
		s = formatter.Ellipsis(s, 45)
	}
	return s
}

func (c historyContext) Size() string {
	if c.human {
		return formatter.HumanSize(c.h.Size)
	}
	return strconv.FormatInt(c.h.Size, 10)
}

func (c historyContext) Comment() string { return c.h.Comment }

func (c historyContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(c, []string{"Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"})
}

// NewHistoryCommand is `history`.
func NewHistoryCommand(cli *command.Cli) *cobra.Command {
	var human bool
	return command.List{
		Use:           "history [OPTIONS] IMAGE",
		Short:         "Show the history of an image",
		Args:          command.ExactArgs(1),
		DefaultFormat: defaultHistoryFormat,
		Headers:       historyHeaders,
		QuietFormat:   "{{.ID}}",
		QuietHelp:     "Only show image IDs",
		NoTruncHelp:   "Don't truncate output",
		Flags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
		},
		Rows: func(ctx context.Context, api client.APIClient, o *command.ListOptions, args []string) ([]any, error) {
			res, err := api.ImageHistory(ctx, args[0])
			if err != nil {
				return nil, err
			}
			now := time.Now()
			return formatter.Rows(res.Items, func(h imagetypes.HistoryResponseItem) any {
				return historyContext{h: h, trunc: !o.NoTrunc, human: human, now: now}
			}), nil
		},
	}.Command(cli)
}
