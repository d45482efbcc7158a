package container

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/cli/command"
)

// connPair returns two connected unix stream sockets (supporting CloseWrite).
func connPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() { c, _ := l.Accept(); ch <- c }()
	c1, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-ch
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1.(*net.UnixConn), c2.(*net.UnixConn)
}

// frame multiplexes p as the Engine API does for non-tty streams.
func frame(stream stdcopy.StdType, p []byte) []byte {
	h := []byte{byte(stream), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	return append(h, p...)
}

func TestStreamNonTTY(t *testing.T) {
	local, remote := connPair(t)
	// The "daemon": echo stdin back, multiplexed on stdout, then a line on stderr.
	go func() {
		in, _ := io.ReadAll(remote)
		remote.Write(frame(stdcopy.Stdout, bytes.ToUpper(in)))
		remote.Write(frame(stdcopy.Stderr, []byte("warn\n")))
		remote.Close()
	}()
	var out, errOut bytes.Buffer
	cli := command.New(strings.NewReader("hello\n"), &out, &errOut)
	resp := &client.HijackedResponse{Conn: local, Reader: bufio.NewReader(local)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stream(ctx, cli, resp, streamOpts{stdin: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO\n" || errOut.String() != "warn\n" {
		t.Errorf("out %q err %q", out.String(), errOut.String())
	}
}

func TestStreamDetach(t *testing.T) {
	local, remote := connPair(t)
	got := make(chan []byte, 1)
	go func() {
		remote.Write([]byte("prompt$ "))
		b, _ := io.ReadAll(remote)
		got <- b
	}()
	var out bytes.Buffer
	cli := command.New(strings.NewReader("ls\n\x10\x11after"), &out, io.Discard)
	resp := &client.HijackedResponse{Conn: local, Reader: bufio.NewReader(local)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := stream(ctx, cli, resp, streamOpts{tty: true, stdin: true})
	if !errors.Is(err, errDetached) {
		t.Fatalf("err = %v, want detached", err)
	}
	select {
	case b := <-got:
		if string(b) != "ls\n" {
			t.Errorf("remote got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("remote never saw the connection close")
	}
}
