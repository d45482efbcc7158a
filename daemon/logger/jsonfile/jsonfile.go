// Package jsonfile owns container logs in Docker's json-file format: one
// JSON object per line ({"log":"hi\n","stream":"stdout","time":"…"}) in
// <id>-json.log, rotated to <id>-json.log.1 … .N-1. The per-container shim
// writes them with Writer; the daemon reads them with Read.
//
// Corrupt input: a line that is not a JSON object with a "stream" is
// skipped silently, and so is a line longer than maxLine bytes. A crash
// can leave a torn last line, and one bad line must not hide the rest of a
// log. An incomplete last line (no '\n' yet) is not an entry: Read leaves
// it, and with Follow reads it once the writer has finished it.
package jsonfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxLine bounds one encoded entry on the read side; longer lines are
// skipped without being held in memory.
const maxLine = 16 << 20

type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Writer appends entries to a log file, rotating it by size. It is safe
// for concurrent use.
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

// NewWriter opens path for appending. maxSize <= 0 never rotates; at most
// maxFiles files (the live one included; < 1 counts as 1) are kept. With
// one file, rotation truncates the live file, as Docker does.
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

// Write appends one entry. line keeps its trailing newline, if any; an
// entry without one is a partial line (a tty prompt, or the last bytes
// before exit). The entry is written with a single write(2), so a reader
// never sees half of it except after a crash.
func (w *Writer) Write(stream string, line []byte, t time.Time) error {
	b, err := json.Marshal(record{Log: string(line), Stream: stream, Time: t.UTC()})
	if err != nil {
		return fmt.Errorf("encode log entry: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("write log %s: %w", w.path, os.ErrClosed)
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	return nil
}

// rotate shifts <path>.i to <path>.i+1, dropping the oldest, moves the live
// file to <path>.1 and starts a new one. Called with w.mu held.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	w.f = nil
	if w.maxFiles > 1 {
		for i := w.maxFiles - 1; i > 1; i-- {
			err := os.Rename(w.path+"."+strconv.Itoa(i-1), w.path+"."+strconv.Itoa(i))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotate log %s: %w", w.path, err)
			}
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("rotate log %s: %w", w.path, err)
		}
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file; later writes fail.
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

// ReadOptions select entries. Zero times are unbounded; Tail < 0 means all
// (Tail counts entries from the end before Since/Until filter them, as
// Docker does). MaxFiles is the writer's maxFiles: how many rotated files
// may exist.
type ReadOptions struct {
	Since, Until time.Time
	Tail         int
	Follow       bool
	MaxFiles     int
	// Done, with Follow, ends following (the container stopped): what is
	// written up to then is read and Read returns nil.
	Done <-chan struct{}
}

// Read calls fn for each selected entry, oldest first, reading rotated
// files before the live one. With Follow it then waits (inotify) for new
// entries, following the live file across rotation, until ctx is done
// (returning ctx.Err()), Done is closed, or the log's directory is removed.
// An error from fn stops Read and is returned. A missing log is empty.
func Read(ctx context.Context, path string, o ReadOptions, fn func(Entry) error) error {
	var rotated []string
	for i := o.MaxFiles - 1; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			rotated = append(rotated, p)
		}
	}
	emit := func(e Entry) error {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return nil
		}
		if !o.Until.IsZero() && e.Time.After(o.Until) {
			return nil
		}
		return fn(e)
	}
	live, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read log: %w", err)
	}
	if live != nil {
		defer func() {
			if live != nil {
				live.Close()
			}
		}()
	}
	var off int64
	if o.Tail >= 0 {
		if off, err = tail(rotated, live, o.Tail, emit); err != nil {
			return err
		}
	} else {
		for _, p := range rotated {
			if err := readFile(p, emit); err != nil {
				return err
			}
		}
		if live != nil {
			if off, err = drain(live, 0, emit); err != nil {
				return err
			}
		}
	}
	if !o.Follow {
		return nil
	}
	f := &follower{path: path, f: live, off: off, fn: emit}
	live = nil // the follower owns it now
	defer f.close()
	return f.run(ctx, o.Done)
}

func readFile(p string, fn func(Entry) error) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil // rotated away meanwhile
	}
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	_, err = drain(f, 0, fn)
	return err
}

// drain decodes the complete lines of f from off on and returns the offset
// just after the last complete line. An error from fn is returned as is.
func drain(f *os.File, off int64, fn func(Entry) error) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, math.MaxInt64-off), 64<<10)
	var line []byte
	skipping := false
	for {
		chunk, err := r.ReadSlice('\n')
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			complete := err == nil
			off += int64(len(chunk))
			switch {
			case skipping:
			case len(line)+len(chunk) > maxLine:
				skipping, line = true, line[:0]
			default:
				line = append(line, chunk...)
			}
			if !complete {
				continue
			}
			if !skipping {
				if e, ok := decode(line); ok {
					if ferr := fn(e); ferr != nil {
						return off, ferr
					}
				}
			}
			line, skipping = line[:0], false
			continue
		}
		// EOF (or a read error). An unfinished line is not consumed: the
		// caller comes back for it once the writer has finished it. The
		// consumed part of an over-long line stays consumed; its rest will
		// not decode and is skipped then.
		if !skipping {
			off -= int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		return off, fmt.Errorf("read log: %w", err)
	}
}

func decode(line []byte) (Entry, bool) {
	var r record
	if err := json.Unmarshal(bytes.TrimSpace(line), &r); err != nil || r.Stream == "" {
		return Entry{}, false
	}
	return Entry{Stream: r.Stream, Line: []byte(r.Log), Time: r.Time}, true
}

// tail emits the last n entries across the rotated files and the live one,
// reading backwards in blocks so a large log is never loaded whole, and
// returns the offset in live just after its last complete line.
func tail(rotated []string, live *os.File, n int, fn func(Entry) error) (int64, error) {
	var liveEnd int64
	var chunks [][][]byte // newest file first
	count := 0
	if live != nil {
		end, err := lastNewline(live)
		if err != nil {
			return 0, fmt.Errorf("read log: %w", err)
		}
		liveEnd = end
		lines, err := lastLines(live, end, n)
		if err != nil {
			return 0, fmt.Errorf("read log: %w", err)
		}
		chunks, count = append(chunks, lines), len(lines)
	}
	for i := len(rotated) - 1; i >= 0 && count < n; i-- {
		f, err := os.Open(rotated[i])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read log: %w", err)
		}
		end, err := lastNewline(f)
		var lines [][]byte
		if err == nil {
			lines, err = lastLines(f, end, n-count)
		}
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("read log: %w", err)
		}
		chunks, count = append(chunks, lines), count+len(lines)
	}
	for i := len(chunks) - 1; i >= 0; i-- {
		for _, l := range chunks[i] {
			if e, ok := decode(l); ok {
				if err := fn(e); err != nil {
					return liveEnd, err
				}
			}
		}
	}
	return liveEnd, nil
}

const block = 32 << 10

// lastNewline is the offset just after the last '\n' in f (0 if none).
func lastNewline(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, block)
	for pos := st.Size(); pos > 0; {
		size := min(int64(block), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:size], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// lastLines returns the last n lines of f[:end] (end is just after a
// newline), reading backwards one block at a time. Lines over maxLine are
// dropped.
func lastLines(f *os.File, end int64, n int) ([][]byte, error) {
	if n <= 0 || end <= 0 {
		return nil, nil
	}
	var blocks [][]byte // newest first
	newlines, size := 0, int64(0)
	pos := end
	for pos > 0 && newlines <= n {
		sz := min(int64(block), pos)
		pos -= sz
		b := make([]byte, sz)
		if _, err := f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		blocks = append(blocks, b)
		newlines += bytes.Count(b, []byte{'\n'})
		size += sz
		if size > int64(n+1)*maxLine {
			break // pathological: absurdly long lines
		}
	}
	buf := make([]byte, 0, size)
	for i := len(blocks) - 1; i >= 0; i-- {
		buf = append(buf, blocks[i]...)
	}
	lines := bytes.SplitAfter(buf, []byte{'\n'})
	lines = lines[:len(lines)-1] // buf ends with '\n': the last piece is empty
	if pos > 0 && len(lines) > 0 {
		lines = lines[1:] // the first piece may start mid-line
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := lines[:0]
	for _, l := range lines {
		if len(l) <= maxLine {
			out = append(out, l)
		}
	}
	return out, nil
}

// follower reads a live log as it grows.
type follower struct {
	path string
	f    *os.File // nil until the live file exists
	off  int64
	fn   func(Entry) error
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

// catchUp reads what is new in the live file, following rotation: once the
// path names a new file, the old one (still open, even if since deleted)
// is finished first. With one file, rotation truncates in place: a size
// below the offset starts over from 0.
func (fl *follower) catchUp() error {
	for {
		if fl.f == nil {
			f, err := os.Open(fl.path)
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("follow log: %w", err)
			}
			fl.f, fl.off = f, 0
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(fl.f.Fd()), &st); err != nil {
			return fmt.Errorf("follow log: %w", err)
		}
		if st.Size < fl.off {
			fl.off = 0
		}
		off, err := drain(fl.f, fl.off, fl.fn)
		fl.off = off
		if err != nil {
			return err
		}
		var cur unix.Stat_t
		if err := unix.Stat(fl.path, &cur); err != nil || (cur.Ino == st.Ino && cur.Dev == st.Dev) {
			return nil // same file (or none yet)
		}
		// Rotated. The writer finished the old file before renaming it, so
		// one more drain reads its end.
		if _, err := drain(fl.f, fl.off, fl.fn); err != nil {
			return err
		}
		fl.close()
	}
}

// run follows until ctx is done, done is closed, or the directory goes.
func (fl *follower) run(ctx context.Context, done <-chan struct{}) error {
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("follow log: inotify: %w", err)
	}
	defer unix.Close(ino)
	dir, base := filepath.Split(fl.path)
	if dir == "" {
		dir = "."
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(ino, dir, mask); err != nil {
		return fmt.Errorf("follow log: watch %s: %w", dir, err)
	}
	// An eventfd wakes the poll when ctx or done fire: no timed polling.
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("follow log: eventfd: %w", err)
	}
	defer unix.Close(wake)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		case <-stop:
			return
		}
		_, _ = unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}()

	buf := make([]byte, 64<<10)
	for {
		if err := fl.catchUp(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			// The container stopped: the shim has written everything.
			return fl.catchUp()
		default:
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("follow log: poll: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			removed := false
			for {
				n, err := unix.Read(ino, buf)
				if err != nil || n <= 0 {
					break
				}
				removed = removed || gone(buf[:n], base)
			}
			if removed {
				return fl.catchUp()
			}
		}
	}
}

// gone reports whether the inotify events in b say the log went away with
// its container: the directory was deleted or moved, or the live file was
// deleted (rotation renames, it never deletes the live file).
func gone(b []byte, base string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
		next := unix.SizeofInotifyEvent + nameLen
		if next > len(b) {
			break
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:next], "\x00"))
		if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 ||
			(mask&unix.IN_DELETE != 0 && name == base) {
			return true
		}
		b = b[next:]
	}
	return false
}
