package image

import (
	"bytes"
	"io"
	"testing"
	"time"

	imagetypes "github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/cli/command"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRenderImages(t *testing.T) {
	imgs := []imagetypes.Summary{
		{ID: "sha256:aaaaaaaaaaaa1111", RepoTags: []string{"busybox:latest", "busybox:1.36"}, Created: fixedNow.Add(-3 * 24 * time.Hour).Unix(), Size: 4_860_000, Containers: -1, SharedSize: -1},
		{ID: "sha256:bbbbbbbbbbbb2222", Created: fixedNow.Add(-time.Minute).Unix(), Size: 1234},
	}
	var buf bytes.Buffer
	if err := renderImages(&buf, imgs, "", false, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\n" +
		"<none>       <none>    bbbbbbbbbbbb   About a minute ago   1.23kB\n" +
		"busybox      latest    aaaaaaaaaaaa   3 days ago           4.86MB\n" +
		"busybox      1.36      aaaaaaaaaaaa   3 days ago           4.86MB\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := renderImages(&buf, imgs, "", true, false, true, fixedNow); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "bbbbbbbbbbbb\naaaaaaaaaaaa\n" {
		t.Errorf("quiet = %q", buf.String())
	}
	buf.Reset()
	if err := renderImages(&buf, imgs, "{{.Repository}}:{{.Tag}} {{.Size}}", false, false, false, fixedNow); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "<none>:<none> 1.23kB\nbusybox:latest 4.86MB\nbusybox:1.36 4.86MB\n" {
		t.Errorf("template = %q", buf.String())
	}
}

func TestSplitRepoTag(t *testing.T) {
	for in, want := range map[string][2]string{
		"busybox:latest":         {"busybox", "latest"},
		"localhost:5000/a/b:1.0": {"localhost:5000/a/b", "1.0"},
		"localhost:5000/a":       {"localhost:5000/a", "<none>"},
		"<none>:<none>":          {"<none>", "<none>"},
	} {
		r, tg := splitRepoTag(in)
		if r != want[0] || tg != want[1] {
			t.Errorf("%q = %q %q", in, r, tg)
		}
	}
}

// renderImages renders items as `images` would with these flags.
func renderImages(w io.Writer, items []imagetypes.Summary, format string, quiet, digests, trunc bool, now time.Time) error {
	o := command.ListOptions{Format: format, Quiet: quiet, NoTrunc: !trunc}
	rows := listRows(items, &o, digests, now)
	return imagesList.Render(w, o, rows)
}
