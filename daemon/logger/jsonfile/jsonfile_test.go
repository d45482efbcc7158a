package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func collect(t *testing.T, path string, o ReadOptions) []string {
	t.Helper()
	var out []string
	if err := Read(context.Background(), path, o, func(e Entry) error {
		out = append(out, e.Stream+":"+string(e.Line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func newWriter(t *testing.T, path string, maxSize int64, maxFiles int) *Writer {
	t.Helper()
	w, err := NewWriter(path, maxSize, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	ts := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	if err := w.Write("stdout", []byte("hi\n"), ts); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := `{"log":"hi\n","stream":"stdout","time":"2026-11-22T11:00:00.123456789Z"}` + "\n"
	if string(b) != want {
		t.Errorf("file = %s, want %s", b, want)
	}
}

func TestWriteReadTailSince(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		stream := "stdout"
		if i%2 == 1 {
			stream = "stderr"
		}
		if err := w.Write(stream, []byte(fmt.Sprintf("line %d\n", i)), base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	tests := []struct {
		name  string
		o     ReadOptions
		want  int
		first string
		last  string
	}{
		{"all", ReadOptions{Tail: -1}, 10, "stdout:line 0\n", "stderr:line 9\n"},
		{"tail 3", ReadOptions{Tail: 3}, 3, "stderr:line 7\n", "stderr:line 9\n"},
		{"tail 0", ReadOptions{Tail: 0}, 0, "", ""},
		{"tail more than all", ReadOptions{Tail: 100}, 10, "stdout:line 0\n", "stderr:line 9\n"},
		{"since", ReadOptions{Tail: -1, Since: base.Add(8 * time.Second)}, 2, "stdout:line 8\n", "stderr:line 9\n"},
		{"until", ReadOptions{Tail: -1, Until: base.Add(1 * time.Second)}, 2, "stdout:line 0\n", "stderr:line 1\n"},
		{"since and until", ReadOptions{Tail: -1, Since: base.Add(3 * time.Second), Until: base.Add(5 * time.Second)}, 3, "stderr:line 3\n", "stderr:line 5\n"},
		{"tail then since", ReadOptions{Tail: 5, Since: base.Add(8 * time.Second)}, 2, "stdout:line 8\n", "stderr:line 9\n"},
		{"missing file", ReadOptions{Tail: -1}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := p
			if tt.name == "missing file" {
				path += ".none"
			}
			got := collect(t, path, tt.o)
			if len(got) != tt.want || (tt.want > 0 && (got[0] != tt.first || got[len(got)-1] != tt.last)) {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestPartialAndCorruptLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	_ = w.Write("stdout", []byte("prompt> "), time.Now()) // a partial line is an entry of its own
	_ = w.Write("stdout", []byte("done\n"), time.Now())
	w.Close()
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	fmt.Fprint(f, "garbage\nnull\n{}\n")
	fmt.Fprint(f, `{"log":"torn`) // a torn last line: not an entry yet
	f.Close()
	for _, tail := range []int{-1, 10} {
		got := collect(t, p, ReadOptions{Tail: tail})
		if strings.Join(got, "|") != "stdout:prompt> |stdout:done\n" {
			t.Errorf("tail %d: %q", tail, got)
		}
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		maxFiles  int
		wantFiles int
	}{{1, 1}, {2, 2}, {3, 3}, {5, 5}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxFiles), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c-json.log")
			w := newWriter(t, p, 200, tt.maxFiles)
			for i := 0; i < 50; i++ {
				if err := w.Write("stdout", []byte(fmt.Sprintf("message number %02d\n", i)), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			files, _ := filepath.Glob(p + "*")
			if len(files) != tt.wantFiles {
				t.Fatalf("files = %v, want %d", files, tt.wantFiles)
			}
			for _, f := range files {
				if fi, _ := os.Stat(f); fi.Size() > 200 {
					t.Errorf("%s is %d bytes, over max-size", f, fi.Size())
				}
			}
			for _, tail := range []int{-1, 4, 1000} {
				got := collect(t, p, ReadOptions{Tail: tail, MaxFiles: tt.maxFiles})
				if len(got) == 0 || got[len(got)-1] != "stdout:message number 49\n" {
					t.Fatalf("tail %d: last entry %q", tail, got)
				}
				if tail == 4 && tt.maxFiles > 1 && len(got) != 4 {
					t.Errorf("tail 4 across files: %q", got)
				}
				for i := 1; i < len(got); i++ {
					if got[i-1] >= got[i] {
						t.Fatalf("entries out of order: %q then %q", got[i-1], got[i])
					}
				}
			}
		})
	}
}

func TestConcurrentWrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 4096, 3)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = w.Write("stdout", []byte(strings.Repeat("x", 30)+"\n"), time.Now())
			}
		}()
	}
	wg.Wait()
	w.Close()
	for _, l := range collect(t, p, ReadOptions{Tail: -1, MaxFiles: 3}) {
		if l != "stdout:"+strings.Repeat("x", 30)+"\n" {
			t.Fatalf("interleaved entry %q", l)
		}
	}
}

func TestTailLargeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	line := []byte(strings.Repeat("y", 1000) + "\n")
	for i := 0; i < 20000; i++ { // ~21 MB
		_ = w.Write("stdout", line, time.Now())
	}
	_ = w.Write("stderr", []byte("the end\n"), time.Now())
	w.Close()
	start := time.Now()
	got := collect(t, p, ReadOptions{Tail: 2})
	if len(got) != 2 || got[1] != "stderr:the end\n" {
		t.Fatalf("tail = %d entries, last %q", len(got), got[len(got)-1])
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("tail 2 of a 21 MB log took %v", d)
	}
}

// follow starts a following Read and returns its lines and its result.
func follow(t *testing.T, ctx context.Context, p string, o ReadOptions) (<-chan string, <-chan error) {
	t.Helper()
	o.Follow = true
	got := make(chan string, 1000)
	errc := make(chan error, 1)
	go func() {
		errc <- Read(ctx, p, o, func(e Entry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	return got, errc
}

func expect(t *testing.T, got <-chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case l := <-got:
			if l != w {
				t.Fatalf("followed %q, want %q", l, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("follow did not see %q", w)
		}
	}
}

func result(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end")
		return nil
	}
}

func TestFollowEndsOnDone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	_ = w.Write("stdout", []byte("old\n"), time.Now())
	done := make(chan struct{})
	got, errc := follow(t, context.Background(), p, ReadOptions{Tail: -1, Done: done})
	expect(t, got, "old\n")
	_ = w.Write("stdout", []byte("late\n"), time.Now())
	expect(t, got, "late\n")
	_ = w.Write("stdout", []byte("last\n"), time.Now())
	close(done)
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
	expect(t, got, "last\n")
}

func TestFollowPartialLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	f, _ := os.Create(p)
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	got, errc := follow(t, ctx, p, ReadOptions{Tail: 0})
	entry := `{"log":"split\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}` + "\n"
	f.WriteString(entry[:20])
	time.Sleep(50 * time.Millisecond)
	select {
	case l := <-got:
		t.Fatalf("half an entry was read: %q", l)
	default:
	}
	f.WriteString(entry[20:])
	expect(t, got, "split\n")
	cancel()
	if err := result(t, errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestFollowRotation(t *testing.T) {
	for _, maxFiles := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(maxFiles), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c-json.log")
			w := newWriter(t, p, 300, maxFiles)
			done := make(chan struct{})
			got, errc := follow(t, context.Background(), p, ReadOptions{Tail: -1, MaxFiles: maxFiles, Done: done})
			for i := 0; i < 30; i++ {
				l := fmt.Sprintf("rotating line %02d\n", i)
				_ = w.Write("stdout", []byte(l), time.Now())
				expect(t, got, l) // one at a time: no entry may be lost
			}
			close(done)
			if err := result(t, errc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFollowBeforeTheLogExists(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c-json.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, errc := follow(t, ctx, p, ReadOptions{Tail: -1})
	w := newWriter(t, p, 0, 1)
	_ = w.Write("stderr", []byte("first\n"), time.Now())
	expect(t, got, "first\n")
	// Removing the container's directory ends the follow.
	w.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := result(t, errc); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, p, 0, 1)
	for i := 0; i < 3; i++ {
		_ = w.Write("stdout", []byte("x\n"), time.Now())
	}
	stop := errors.New("client went away")
	n := 0
	err := Read(context.Background(), p, ReadOptions{Tail: -1, Follow: true}, func(Entry) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d entries", err, n)
	}
}

// FuzzRead feeds arbitrary bytes as a log file: Read must never panic, and
// every entry it returns must come from a decodable line.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}` + "\n" + "garbage\n{\n"))
	f.Add([]byte(`{"log":"a","stream":"stderr","time":"bad"}` + "\n" + `{"log":"b","stream":"stdout"}`))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(`null` + "\n" + `[1,2]` + "\n" + `{"stream":7}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "l")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var all int
		for _, tail := range []int{-1, 0, 1, 2} {
			n := 0
			err := Read(context.Background(), p, ReadOptions{Tail: tail}, func(e Entry) error {
				if e.Stream == "" {
					t.Fatalf("entry without a stream: %+v", e)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tail == -1 {
				all = n
			} else if n > tail || n > all {
				t.Fatalf("tail %d returned %d of %d entries", tail, n, all)
			}
		}
	})
}
