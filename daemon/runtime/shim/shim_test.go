package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/daemon/runtime"
)

func TestRlimits(t *testing.T) {
	got := rlimits([]specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		{Type: "RLIMIT_NPROC", Soft: 10, Hard: 10},
		{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1},
	})
	if len(got) != 2 || got[0].Type != unix.RLIMIT_NOFILE || got[0].Soft != 1024 || got[0].Hard != 2048 || got[1].Type != unix.RLIMIT_NPROC {
		t.Errorf("rlimits = %+v", got)
	}
}

func TestReadKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "memory.events")
	if err := os.WriteFile(p, []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, key string
		want      int
	}{
		{p, "oom_kill", 2},
		{p, "oom", 1},
		{p, "missing", 0},
		{filepath.Join(t.TempDir(), "none"), "oom_kill", 0},
	}
	for _, tt := range tests {
		if got := readKey(tt.path, tt.key); got != tt.want {
			t.Errorf("readKey(%s) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestStartError(t *testing.T) {
	tests := []struct{ in, want string }{
		{`unable to start container process: exec: "nope": executable file not found in $PATH`, `failed to create task for container: exec: "nope": executable file not found in $PATH`},
		{"some other failure", "failed to create task for container: some other failure"},
	}
	for _, tt := range tests {
		if got := startError(errors.New(tt.in)).Error(); got != tt.want {
			t.Errorf("startError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteReady(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	writeReady(w, runtime.Response{Pid: 42})
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r)
	var got runtime.Response
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &got); err != nil || got.Pid != 42 || !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("ready line %q (%v)", buf.String(), err)
	}
	writeReady(nil, runtime.Response{}) // no ready pipe: nothing to do
}
