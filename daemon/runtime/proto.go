package runtime

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The daemon and a container's shim talk over the shim's unix socket. A
// client sends one JSON Request line; the shim answers with one JSON
// Response line and, for attach and exec, then streams frames:
//
//	[1 byte kind][4 bytes big-endian length][payload]
//
// kind 1 is stdout, 2 stderr, 3 the exit code (payload: decimal). For exec,
// the client's remaining bytes after the request line are the process's
// stdin and closing its write side is stdin EOF. For attach, stdin is
// framed too: kind 1 carries data and kind 4 says the client's stdin ended
// (the shim then closes the process's stdin if the container is StdinOnce);
// a connection that simply goes away is a detach and leaves stdin open.

// Frame kinds.
const (
	FrameStdout = 1
	FrameStderr = 2
	FrameExit   = 3
	// FrameStdinEOF ends an attach client's stdin.
	FrameStdinEOF = 4
)

// ShimConfig is what the runtime hands a new shim (config.json in the
// container's runtime dir).
type ShimConfig struct {
	ID          string
	Spec        *specs.Spec
	StateRoot   string // libcontainer state root
	Socket      string // where the shim listens (kept short: sun_path is 108 bytes)
	OpenStdin   bool
	StdinOnce   bool
	LogPath     string
	LogMaxSize  int64
	LogMaxFiles int
	ConsoleSize *[2]uint
}

// Request is one call to a shim.
type Request struct {
	Op     string   `json:"op"` // start, attach, wait, resize, exec, exec-resize, exec-signal, delete
	Stdin  bool     `json:"stdin,omitempty"`
	Stdout bool     `json:"stdout,omitempty"`
	Stderr bool     `json:"stderr,omitempty"`
	Height uint     `json:"h,omitempty"`
	Width  uint     `json:"w,omitempty"`
	ExecID string   `json:"execId,omitempty"`
	Signal int      `json:"signal,omitempty"`
	Exec   *ExecReq `json:"exec,omitempty"`
}

// ExecReq describes a process to run in the container.
type ExecReq struct {
	Args            []string
	Env             []string
	Cwd             string
	UID, GID        uint32
	AdditionalGids  []uint32
	Tty             bool
	ConsoleSize     *[2]uint
	Capabilities    []string
	NoNewPrivileges bool
}

// Response answers a Request.
type Response struct {
	Error  string      `json:"error,omitempty"`
	Pid    int         `json:"pid,omitempty"`
	Status *ExitStatus `json:"status,omitempty"`
}

// ExitStatus is how a container's process ended.
type ExitStatus struct {
	Code      int       `json:"code"`
	OOMKilled bool      `json:"oomKilled"`
	ExitedAt  time.Time `json:"exitedAt"`
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, kind byte, p []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// writeJSONLine writes v as one line.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
