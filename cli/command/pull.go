package command

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/cli/config"
)

// PullImage pulls ref with the stored credentials of its registry and
// shows docker's progress on out (run and create pull a missing image).
func PullImage(ctx context.Context, api client.APIClient, ref string, platform *ocispec.Platform, out io.Writer) error {
	opts := client.ImagePullOptions{RegistryAuth: config.EncodedAuth(config.RegistryOf(ref))}
	if platform != nil {
		opts.Platforms = []ocispec.Platform{*platform}
	}
	resp, err := api.ImagePull(ctx, ref, opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	return DisplayStream(resp, out, true)
}

// DisplayStream shows a daemon's JSON progress stream (pull, push, load,
// import) on out as docker does: with progress, bars redrawn in place
// when out is a terminal; otherwise one line a message.
func DisplayStream(r io.Reader, out io.Writer, progress bool) error {
	fd, isTerm := term.GetFdInfo(out)
	return jsonmessage.DisplayJSONMessagesStream(r, out, fd, isTerm && progress, nil)
}

// ParsePlatform parses --platform os[/arch[/variant]].
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: expected os[/arch[/variant]]", s)
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}
