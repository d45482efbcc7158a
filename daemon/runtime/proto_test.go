package runtime

import (
	"bytes"
	"testing"
)

func TestFrames(t *testing.T) {
	for _, tc := range []struct {
		kind byte
		p    string
	}{
		{FrameStdout, "hello\n"},
		{FrameStderr, ""},
		{FrameExit, "137"},
	} {
		var b bytes.Buffer
		if err := WriteFrame(&b, tc.kind, []byte(tc.p)); err != nil {
			t.Fatal(err)
		}
		k, p, err := ReadFrame(&b)
		if err != nil || k != tc.kind || string(p) != tc.p {
			t.Fatalf("ReadFrame = %d %q %v, want %d %q", k, p, err, tc.kind, tc.p)
		}
	}
	if _, _, err := ReadFrame(bytes.NewReader([]byte{1, 0xff, 0xff, 0xff, 0xff})); err == nil {
		t.Fatal("oversized frame accepted")
	}
	if _, _, err := ReadFrame(bytes.NewReader([]byte{1, 0, 0, 0, 5, 'a'})); err == nil {
		t.Fatal("short frame accepted")
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{3, 0, 0, 0, 1, '0'})
	f.Add([]byte{2, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		k, p, err := ReadFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteFrame(&b, k, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), in[:5+len(p)]) {
			t.Fatalf("round trip %x != %x", b.Bytes(), in[:5+len(p)])
		}
	})
}
