package jsonfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

func TestWriteReadTailSince(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(p, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
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
		name string
		o    ReadOptions
		want int
		last string
	}{
		{"all", ReadOptions{Tail: -1}, 10, "stderr:line 9\n"},
		{"tail 3", ReadOptions{Tail: 3}, 3, "stderr:line 9\n"},
		{"tail 0", ReadOptions{Tail: 0}, 0, ""},
		{"since", ReadOptions{Tail: -1, Since: base.Add(8 * time.Second)}, 2, "stderr:line 9\n"},
		{"until", ReadOptions{Tail: -1, Until: base.Add(1 * time.Second)}, 2, "stderr:line 1\n"},
	}
	for _, tt := range tests {
		got := collect(t, p, tt.o)
		if len(got) != tt.want || (tt.want > 0 && got[len(got)-1] != tt.last) {
			t.Errorf("%s: got %q", tt.name, got)
		}
	}
}

func TestRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(p, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := w.Write("stdout", []byte(fmt.Sprintf("message number %02d\n", i)), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	files, _ := filepath.Glob(p + "*")
	if len(files) != 3 {
		t.Fatalf("files = %v, want 3", files)
	}
	got := collect(t, p, ReadOptions{Tail: -1, MaxFiles: 3})
	if len(got) == 0 || got[len(got)-1] != "stdout:message number 49\n" {
		t.Fatalf("last entry %q", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("entries out of order: %q then %q", got[i-1], got[i])
		}
	}
}

func TestFollowEndsOnDone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(p, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	got := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- Read(context.Background(), p, ReadOptions{Tail: -1, Follow: true, Done: done}, func(e Entry) error {
			got <- string(e.Line)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	_ = w.Write("stdout", []byte("late\n"), time.Now())
	select {
	case l := <-got:
		if l != "late\n" {
			t.Fatalf("followed %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not see a new line")
	}
	_ = w.Write("stdout", []byte("last\n"), time.Now())
	close(done)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end on Done")
	}
	if l := <-got; l != "last\n" {
		t.Fatalf("line written before Done was lost: %q", l)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}` + "\n" + "garbage\n{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "l")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tail := range []int{-1, 0, 2} {
			_ = Read(context.Background(), p, ReadOptions{Tail: tail}, func(Entry) error { return nil })
		}
	})
}
