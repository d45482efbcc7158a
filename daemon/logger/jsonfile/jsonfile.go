// Package jsonfile owns container logs in Docker's json-file format: one
// JSON object per line ({"log":"hi\n","stream":"stdout","time":"…"}) in
// <id>-json.log, rotated to <id>-json.log.1 … .N-1.
package jsonfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Writer appends entries to a log file, rotating it by size.
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

// NewWriter opens path for appending. maxSize <= 0 never rotates; at most
// maxFiles files (the live one included) are kept.
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxFiles < 1 {
		maxFiles = 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log %s: %w", path, err)
	}
	return &Writer{path: path, f: f, size: st.Size(), maxSize: maxSize, maxFiles: maxFiles}, nil
}

// Write appends one entry. line keeps its trailing newline, if any.
func (w *Writer) Write(stream string, line []byte, t time.Time) error {
	b, err := json.Marshal(record{Log: string(line), Stream: stream, Time: t.UTC()})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return err
}

func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	if w.maxFiles > 1 {
		for i := w.maxFiles - 1; i > 1; i-- {
			_ = os.Rename(w.path+"."+strconv.Itoa(i-1), w.path+"."+strconv.Itoa(i))
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Entry is one decoded log entry.
type Entry struct {
	Stream string
	Line   []byte
	Time   time.Time
}

// ReadOptions select entries. Zero times are unbounded; Tail < 0 means all.
type ReadOptions struct {
	Since, Until time.Time
	Tail         int
	Follow       bool
	MaxFiles     int
	// Done, with Follow, ends following: what is written up to then is
	// read and Read returns.
	Done <-chan struct{}
}

// Read calls fn for each selected entry, oldest first, reading rotated
// files before the live one. A line that does not decode is skipped: a
// crash can leave a torn last line and that must not hide the rest.
func Read(ctx context.Context, path string, o ReadOptions, fn func(Entry) error) error {
	files := []string{}
	for i := o.MaxFiles - 1; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	files = append(files, path)
	emit := func(e Entry) error {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return nil
		}
		if !o.Until.IsZero() && e.Time.After(o.Until) {
			return nil
		}
		return fn(e)
	}
	var offset int64
	if o.Tail >= 0 {
		entries, off, err := tail(files, o.Tail)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := emit(e); err != nil {
				return err
			}
		}
		offset = off
	} else {
		for i, p := range files {
			n, err := readFrom(p, 0, emit)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if i == len(files)-1 {
				offset = n
			}
		}
	}
	if !o.Follow {
		return nil
	}
	return follow(ctx, path, offset, o.Done, emit)
}

// readFrom decodes complete lines of p from off and returns the offset
// after the last complete line.
func readFrom(p string, off int64, fn func(Entry) error) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return off, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			off += int64(len(line))
			if e, ok := decode(line); ok {
				if ferr := fn(e); ferr != nil {
					return off, ferr
				}
			}
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

func decode(line []byte) (Entry, bool) {
	var r record
	if err := json.Unmarshal(bytes.TrimSpace(line), &r); err != nil {
		return Entry{}, false
	}
	return Entry{Stream: r.Stream, Line: []byte(r.Log), Time: r.Time}, true
}

// tail returns the last n entries across files (newest file last), reading
// backwards in blocks so a large log is never loaded whole, and the end
// offset of the live file.
func tail(files []string, n int) ([]Entry, int64, error) {
	var out [][]byte
	var liveEnd int64
	for i := len(files) - 1; i >= 0; i-- {
		lines, end, err := lastLines(files[i], n-len(out))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, 0, err
		}
		if i == len(files)-1 {
			liveEnd = end
		}
		out = append(lines, out...)
		if len(out) >= n {
			break
		}
	}
	entries := make([]Entry, 0, len(out))
	for _, l := range out {
		if e, ok := decode(l); ok {
			entries = append(entries, e)
		}
	}
	return entries, liveEnd, nil
}

func lastLines(p string, n int) ([][]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	end := st.Size()
	if n <= 0 {
		// Still report where complete lines end.
		return nil, completeEnd(f, end), nil
	}
	end = completeEnd(f, end)
	const block = 32 << 10
	var buf []byte
	pos := end
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		chunk := make([]byte, size)
		if _, err := f.ReadAt(chunk, pos); err != nil && err != io.EOF {
			return nil, 0, err
		}
		buf = append(chunk, buf...)
		if bytes.Count(buf, []byte{'\n'}) > n {
			break
		}
	}
	lines := bytes.SplitAfter(buf, []byte{'\n'})
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, end, nil
}

// completeEnd is the offset just after the last newline before size.
func completeEnd(f *os.File, size int64) int64 {
	b := make([]byte, 1)
	for size > 0 {
		if _, err := f.ReadAt(b, size-1); err != nil {
			return size
		}
		if b[0] == '\n' {
			return size
		}
		size--
	}
	return 0
}

// follow reads new entries as they are written, waiting with inotify, and
// follows the live file across rotation.
func follow(ctx context.Context, path string, off int64, done <-chan struct{}, fn func(Entry) error) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("follow log: %w", err)
	}
	defer unix.Close(fd)
	dir := path[:max(0, bytes.LastIndexByte([]byte(path), '/'))]
	if dir == "" {
		dir = "."
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM); err != nil {
		return fmt.Errorf("follow log: %w", err)
	}
	ino := inode(path)
	finishing := false
	for {
		if cur := inode(path); cur != ino && cur != 0 {
			// Rotated: finish the old file (now .1), start the new one.
			if _, err := readFrom(path+".1", off, fn); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			ino, off = cur, 0
		}
		n, err := readFrom(path, off, fn)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		off = n
		if finishing {
			return nil
		}
		// Wait for a change, the end of the container, or cancellation.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		waitDone := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
			case <-done:
			case <-waitDone:
			}
		}()
		for {
			select {
			case <-ctx.Done():
				close(waitDone)
				return ctx.Err()
			case <-done:
				finishing = true
			default:
			}
			if finishing {
				break
			}
			nready, err := unix.Poll(pfd, 100)
			if err != nil && err != unix.EINTR {
				close(waitDone)
				return fmt.Errorf("follow log: %w", err)
			}
			if nready > 0 {
				buf := make([]byte, 4096)
				_, _ = unix.Read(fd, buf)
				break
			}
		}
		close(waitDone)
	}
}

func inode(p string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0
	}
	return st.Ino
}
