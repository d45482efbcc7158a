package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

func lines(resp []apiimage.DeleteResponse) string {
	var out []string
	for _, r := range resp {
		if r.Untagged != "" {
			out = append(out, "U "+r.Untagged)
		}
		if r.Deleted != "" {
			out = append(out, "D "+r.Deleted[:19])
		}
	}
	return strings.Join(out, ",")
}

func TestDeleteSemantics(t *testing.T) {
	ctx := context.Background()
	cid := strings.Repeat("c", 64)
	none := func(digest.Digest) (string, bool) { return "", false }
	stopped := func(digest.Digest) (string, bool) { return cid, false }
	running := func(digest.Digest) (string, bool) { return cid, true }
	tests := []struct {
		name    string
		tags    []string
		ref     string // "ID" and "SHORT" stand for the image ID
		force   bool
		inUse   InUseFunc
		wantErr string
		want    string // U/D lines, D lines cut to 19 characters
		gone    bool
	}{
		{name: "last tag deletes", tags: []string{"a"}, ref: "a", inUse: none, want: "U a:latest,D sha256:ID,D sha256:LAYER", gone: true},
		{name: "one of two tags untags", tags: []string{"a", "b:1"}, ref: "b:1", inUse: none, want: "U b:1"},
		{name: "by ID with two tags", tags: []string{"a", "b:1"}, ref: "SHORT", inUse: none,
			wantErr: "conflict: unable to delete SHORT (must be forced) - image is referenced in multiple repositories"},
		{name: "by ID with two tags forced", tags: []string{"a", "b:1"}, ref: "ID", force: true, inUse: none, want: "U a:latest,U b:1,D sha256:ID,D sha256:LAYER", gone: true},
		{name: "by ID with one tag", tags: []string{"a"}, ref: "SHORT", inUse: none, want: "U a:latest,D sha256:ID,D sha256:LAYER", gone: true},
		{name: "by name, stopped user", tags: []string{"a"}, ref: "a", inUse: stopped,
			wantErr: `conflict: unable to remove repository reference "a" (must force) - container cccccccccccc is using its referenced image SHORT`},
		{name: "by name forced, running user: untag only", tags: []string{"a"}, ref: "a", force: true, inUse: running, want: "U a:latest"},
		{name: "by ID, stopped user", tags: []string{"a"}, ref: "SHORT", inUse: stopped,
			wantErr: "conflict: unable to delete SHORT (must be forced) - image is being used by stopped container cccccccccccc"},
		{name: "by ID, running user, forced", tags: []string{"a"}, ref: "ID", force: true, inUse: running,
			wantErr: "conflict: unable to delete SHORT (cannot be forced) - image is being used by running container cccccccccccc"},
		{name: "untagged by ID, stopped user, forced: kept", ref: "ID", force: true, inUse: stopped, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			img, err := s.Import(ctx, rootfsTar(t, map[string]string{"f": "x"}), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range tt.tags {
				if err := s.Tag(ctx, img.ID, tag); err != nil {
					t.Fatal(err)
				}
			}
			short := img.ID.Encoded()[:12]
			ref := strings.NewReplacer("SHORT", short, "ID", img.ID.String()).Replace(tt.ref)
			resp, err := s.Delete(ctx, ref, tt.force, false, tt.inUse)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "SHORT", short)
				if !errdefs.IsConflict(err) || err.Error() != want {
					t.Fatalf("error = %v\nwant    %s", err, want)
				}
				if _, err := s.Get(ctx, img.ID.String()); err != nil {
					t.Errorf("image gone after a refused delete")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer("sha256:ID", img.ID.String()[:19], "sha256:LAYER", img.ChainID.String()[:19]).Replace(tt.want)
			if got := lines(resp); got != want {
				t.Errorf("response = %s\nwant       %s", got, want)
			}
			_, err = s.Get(ctx, img.ID.String())
			if tt.gone != errdefs.IsNotFound(err) {
				t.Errorf("image gone = %v, want %v", err, tt.gone)
			}
			if tt.gone && s.snaps.HasLayer(img.ChainID) {
				t.Errorf("layer left behind")
			}
		})
	}
}

func TestTagErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img, err := s.Import(ctx, rootfsTar(t, map[string]string{"f": "x"}), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"Upper":                               "invalid reference format: repository name (library/Upper) must be lowercase",
		"a:b:c":                               "invalid reference format",
		"a@sha256:" + strings.Repeat("0", 64): "refusing to create a tag with a digest reference",
		"scratch":                             "'scratch' is a reserved name",
	} {
		if err := s.Tag(ctx, img.ID, ref); !errdefs.IsInvalidArgument(err) || err.Error() != want {
			t.Errorf("Tag(%q) = %v, want %q", ref, err, want)
		}
	}
	if err := s.Tag(ctx, img.ID, "ok:v1"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "ok:v1")
	if got.LastTagTime.IsZero() || s.Inspect(got).Metadata.LastTagTime.IsZero() {
		t.Errorf("LastTagTime not recorded")
	}
	if removed, err := s.Untag(ctx, "ok:v1"); err != nil || !removed {
		t.Errorf("Untag = %v, %v", removed, err)
	}
	if removed, _ := s.Untag(ctx, "ok:v1"); removed {
		t.Errorf("second Untag removed something")
	}
	got, _ = s.Get(ctx, img.ID.String())
	if sum := s.Summary(got); sum.RepoTags == nil || len(sum.RepoTags) != 0 {
		t.Errorf("untagged image RepoTags = %#v, want []", sum.RepoTags)
	}
	if insp := s.Inspect(got); insp.RepoTags == nil || len(insp.RepoTags) != 0 {
		t.Errorf("untagged image inspect RepoTags = %#v, want []", insp.RepoTags)
	}
}

func TestSharedLayerSurvivesDelete(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	ctx := context.Background()
	s := newStore(t)
	rootfs := rootfsTar(t, map[string]string{"shared": "yes"}).Bytes()
	a, err := s.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: "a", Changes: []string{"ENV X=a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Ref: "b", Changes: []string{"ENV X=b"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || a.ChainID != b.ChainID {
		t.Fatalf("images %s %s chains %s %s", a.ID, b.ID, a.ChainID, b.ChainID)
	}
	resp, err := s.Delete(ctx, "a", false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(resp); strings.Count(got, "D ") != 1 {
		t.Errorf("deleting a reported %s; its layer is shared", got)
	}
	if err := s.snaps.Prepare(ctx, "ctr", b.ChainID); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "rootfs")
	_ = os.Mkdir(target, 0o755)
	if err := s.snaps.Mount(ctx, "ctr", b.ChainID, target); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(target, "shared"))
	_ = s.snaps.Unmount(ctx, target)
	_ = s.snaps.Remove(ctx, "ctr")
	if err != nil || string(data) != "yes" {
		t.Fatalf("b's layer after deleting a: %q %v", data, err)
	}
	if _, err := s.Delete(ctx, "b", false, false, nil); err != nil {
		t.Fatal(err)
	}
	if s.snaps.HasLayer(b.ChainID) {
		t.Errorf("layer kept after its last image went")
	}
}
