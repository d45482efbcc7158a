package lifecycle

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

func TestParseBind(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		spec    string
		typ     mount.Type
		src     string
		name    string
		dst     string
		rw      bool
		wantErr bool
	}{
		{spec: dir + ":/app", typ: mount.TypeBind, src: dir, dst: "/app", rw: true},
		{spec: dir + ":/app:ro", typ: mount.TypeBind, src: dir, dst: "/app", rw: false},
		{spec: "data:/var/lib/data", typ: mount.TypeVolume, name: "data", dst: "/var/lib/data", rw: true},
		{spec: "/anon", typ: mount.TypeVolume, dst: "/anon", rw: true},
		{spec: "data:/x:rw,shared", typ: mount.TypeVolume, name: "data", dst: "/x", rw: true},
		{spec: "data:relative", wantErr: true},
		{spec: "a:b:c:d", wantErr: true},
		{spec: "./rel:/x", wantErr: true},
		{spec: "data:/x:bogus", wantErr: true},
		{spec: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			mp, err := parseBind(tt.spec)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseBind(%q) = %+v, want error", tt.spec, mp)
				}
				if !errdefs.IsInvalidArgument(err) {
					t.Errorf("error %v is not invalid-argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mp.Type != tt.typ || mp.Source != tt.src || mp.Name != tt.name || mp.Destination != tt.dst || mp.RW != tt.rw {
				t.Errorf("parseBind(%q) = %+v", tt.spec, mp)
			}
		})
	}
}

func FuzzParseBind(f *testing.F) {
	for _, s := range []string{"/a:/b", "v:/x:ro", "/x", "::", "a:b:c:d", "v:/x:rw,z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if strings.HasPrefix(spec, "/") {
			t.Skip("absolute sources create host directories")
		}
		mp, err := parseBind(spec)
		if err == nil && (mp == nil || !strings.HasPrefix(mp.Destination, "/")) {
			t.Fatalf("accepted %q with bad destination %+v", spec, mp)
		}
	})
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"})
	want := []string{"PATH=/bin", "A=2", "B=3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
		err  bool
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"TERM", syscall.SIGTERM, false},
		{"kill", syscall.SIGKILL, false},
		{"9", syscall.SIGKILL, false},
		{"SIGNOPE", 0, true},
		{"0", 0, true},
		{"99", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSignal(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSignal(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		err  bool
	}{
		{"", []byte{16, 17}, false},
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"ctrl-a,x", []byte{1, 'x'}, false},
		{"ctrl-[", []byte{27}, false},
		{"ctrl-", nil, true},
		{"foo", nil, true},
	}
	for _, tt := range tests {
		got, err := parseDetachKeys(tt.in)
		if (err != nil) != tt.err || !bytes.Equal(got, tt.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestDetachReader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string
		detached bool
	}{
		{"plain", "hello", "hello", false},
		{"detach", "ab\x10\x11cd", "ab", true},
		{"broken sequence released", "a\x10b", "a\x10b", false},
		{"repeated ctrl-p", "\x10\x10\x11", "\x10", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detached := false
			r := newDetachReader(strings.NewReader(tt.in), []byte{16, 17}, func() { detached = true })
			got, err := io.ReadAll(r)
			if err != nil && err != errDetached {
				t.Fatal(err)
			}
			if (err == errDetached) != tt.detached {
				t.Errorf("err = %v, detached = %v", err, tt.detached)
			}
			if string(got) != tt.want || detached != tt.detached {
				t.Errorf("got %q detached=%v, want %q detached=%v", got, detached, tt.want, tt.detached)
			}
		})
	}
}

func FuzzDetachReader(f *testing.F) {
	f.Add([]byte("ab\x10\x11cd"), 3)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		if chunk <= 0 || chunk > 64 {
			chunk = 1
		}
		r := newDetachReader(bytes.NewReader(in), []byte{16, 17}, func() {})
		buf := make([]byte, chunk)
		total := 0
		for {
			n, err := r.Read(buf)
			total += n
			if err != nil {
				break
			}
			if total > len(in) {
				t.Fatalf("read %d bytes from %d", total, len(in))
			}
		}
	})
}

func TestFilterPS(t *testing.T) {
	out := "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:01 ? 00:00:00 sleep 1000\n"
	resp, err := filterPS(out, []int{42})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Processes) != 1 || resp.Processes[0][7] != "sleep 1000" || resp.Processes[0][1] != "42" {
		t.Errorf("filterPS = %+v", resp.Processes)
	}
	if _, err := filterPS("A B\n1 2\n", nil); err == nil {
		t.Error("want error without a PID column")
	}
}

func TestLogOptions(t *testing.T) {
	tests := []struct {
		in      map[string]string
		size    int64
		files   int
		wantErr bool
	}{
		{nil, -1, 1, false},
		{map[string]string{"max-size": "10m", "max-file": "3"}, 10 << 20, 3, false},
		{map[string]string{"max-file": "3"}, 0, 0, true},
		{map[string]string{"max-size": "x"}, 0, 0, true},
		{map[string]string{"max-size": "1k", "max-file": "0"}, 0, 0, true},
	}
	for _, tt := range tests {
		size, files, err := logOptions(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && (size != tt.size || files != tt.files)) {
			t.Errorf("logOptions(%v) = %d, %d, %v", tt.in, size, files, err)
		}
	}
}

func TestValidateHostConfig(t *testing.T) {
	tests := []struct {
		name string
		hc   apicontainer.HostConfig
		ok   bool
	}{
		{"default", apicontainer.HostConfig{}, true},
		{"rm with restart", apicontainer.HostConfig{AutoRemove: true, RestartPolicy: apicontainer.RestartPolicy{Name: "always"}}, false},
		{"tiny memory", apicontainer.HostConfig{Resources: apicontainer.Resources{Memory: 1024}}, false},
		{"container: without a name", apicontainer.HostConfig{NetworkMode: "container:"}, false},
		{"host network", apicontainer.HostConfig{NetworkMode: "host"}, true},
	}
	for _, tt := range tests {
		if err := validateHostConfig(&tt.hc); (err == nil) != tt.ok {
			t.Errorf("%s: validateHostConfig = %v", tt.name, err)
		}
	}
}
