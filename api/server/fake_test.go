package server

import (
	"io"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// fakeBackend implements every Backend method without panicking (unless
// panicOn names the method), so the router can be fuzzed against it. Its
// methods live one area a file, as api/backend splits them:
// fake_system_test.go, fake_image_test.go, fake_registry_test.go,
// fake_build_test.go, fake_container_test.go, fake_exec_test.go,
// fake_volume_test.go, fake_network_test.go and fake_cluster_test.go; this
// file holds what they share: the recording helpers.
// Container "c1" has no tty and echoes stdin; "t1" has a tty.
type fakeBackend struct {
	mu      sync.Mutex
	panicOn string
	calls   []string
	waitC   chan container.WaitResponse
	// lastFilters records the filters the last list call received.
	lastFilters Filters
	// noStdin is set when the last exec was created without AttachStdin.
	noStdin bool

	// Swarm (the Cluster methods, fake_cluster_test.go): args holds the arguments of the last
	// call of each Cluster method; swarmErr, when set, is what every
	// Cluster call but SwarmInfo fails with; swarmInfo is SwarmInfo's
	// answer; logsErrBefore and logsErrAfter make ServiceLogs fail before
	// or after writing its lines.
	args          map[string][]any
	swarmErr      error
	swarmInfo     swarm.Info
	logsErrBefore error
	logsErrAfter  error
}

// hit notes a call of method and panics if panicOn names it.
func (f *fakeBackend) hit(method string) {
	f.mu.Lock()
	f.calls = append(f.calls, method)
	p := f.panicOn
	f.mu.Unlock()
	if p == method {
		panic("fake backend panic in " + method)
	}
}

// echo copies in upper-cased to out and writes "bye" to errw at in's EOF:
// what the fake's attach and exec sessions do.
func echo(in io.Reader, out, errw io.Writer) error {
	if in != nil && out != nil {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if _, werr := out.Write([]byte(strings.ToUpper(string(buf[:n])))); werr != nil {
					return werr
				}
			}
			if err != nil {
				break
			}
		}
	}
	if errw != nil {
		_, _ = io.WriteString(errw, "bye\n")
	}
	return nil
}

// record notes a Cluster call and its arguments.
func (f *fakeBackend) record(method string, args ...any) error {
	f.hit(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.args == nil {
		f.args = map[string][]any{}
	}
	f.args[method] = append([]any{}, args...)
	return f.swarmErr
}

// lastArgs is what the last call of method received (nil if none).
func (f *fakeBackend) lastArgs(method string) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.args[method]
}
