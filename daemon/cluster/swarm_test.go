package cluster

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatusErr(t *testing.T) {
	for _, tt := range []struct {
		err   error
		class error // nil: returned unchanged
		msg   string
	}{
		{status.Error(codes.InvalidArgument, "A valid join token is necessary to join this cluster"), errdefs.ErrInvalidArgument,
			"rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"},
		{status.Error(codes.FailedPrecondition, "node x is not down and can't be removed"), errdefs.ErrInvalidArgument,
			"rpc error: code = FailedPrecondition desc = node x is not down and can't be removed"},
		{status.Error(codes.Unknown, "update out of sequence"), errdefs.ErrUnknown, "rpc error: code = Unknown desc = update out of sequence"},
		{status.Error(codes.NotFound, "node x not found"), errdefs.ErrNotFound, "rpc error: code = NotFound desc = node x not found"},
		{status.Error(codes.AlreadyExists, "secret s already exists"), errdefs.ErrConflict, "rpc error: code = AlreadyExists desc = secret s already exists"},
		{status.Error(codes.Unavailable, "connection error"), errdefs.ErrUnavailable, "rpc error: code = Unavailable desc = connection error"},
		{status.Error(codes.Unimplemented, "service mode change is not allowed"), errdefs.ErrNotImplemented,
			"rpc error: code = Unimplemented desc = service mode change is not allowed"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), errdefs.ErrUnknown, "rpc error: code = DeadlineExceeded desc = context deadline exceeded"},
		{errors.New("invalid join token"), nil, "invalid join token"},
	} {
		got := statusErr(tt.err)
		if got.Error() != tt.msg {
			t.Errorf("statusErr(%v) says %q, want %q", tt.err, got, tt.msg)
		}
		if tt.class == nil && got != tt.err || tt.class != nil && !errors.Is(got, tt.class) {
			t.Errorf("statusErr(%v) = %#v, want class %v", tt.err, got, tt.class)
		}
	}
	if statusErr(nil) != nil {
		t.Error("statusErr(nil) is not nil")
	}
}

func TestDefaultAddrPool(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tt := range []struct {
		pools []netip.Prefix
		size  uint32
		want  []string
		err   string
	}{
		{nil, 0, []string{}, ""},
		{[]netip.Prefix{p("10.20.0.0/16"), p("10.30.1.0/24")}, 0, []string{"10.20.0.0/16", "10.30.1.0/24"}, ""},
		{[]netip.Prefix{p("10.20.0.0/16")}, 29, []string{"10.20.0.0/16"}, ""},
		{[]netip.Prefix{p("10.20.0.0/26")}, 0, nil, `invalid CIDR: "10.20.0.0/26". Subnet size is too small for pool: 24`},
		{[]netip.Prefix{p("10.20.0.0/16")}, 30, nil, "subnet size is out of range: 30"},
		{nil, 4, nil, `invalid CIDR: "10.0.0.0/8". Subnet size is too small for pool: 4`},
		{[]netip.Prefix{p("fd00::/16")}, 0, nil, "invalid default address pool fd00::/16: want an IPv4 CIDR"},
		{[]netip.Prefix{{}}, 0, nil, "invalid default address pool invalid Prefix"},
	} {
		got, err := defaultAddrPool(tt.pools, tt.size)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("defaultAddrPool(%v, %d): %v, want %q", tt.pools, tt.size, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("defaultAddrPool(%v, %d) = %v, %v; want %v", tt.pools, tt.size, got, err, tt.want)
		}
	}
}

func TestDataPathAddr(t *testing.T) {
	bad := "data path address must be a non-zero IP address or network interface (without a port number)"
	for _, tt := range []struct{ in, want, err string }{
		{"", "", ""},
		{"127.0.0.5", "127.0.0.5", ""},
		{"lo", "127.0.0.1", ""},
		{"0.0.0.0", "", bad},
		{"127.0.0.1:4789", "", bad},
		{"nosuchif0", "", bad},
	} {
		got, err := dataPathAddr(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errdefs.IsInvalidArgument(err) {
				t.Errorf("dataPathAddr(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("dataPathAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLeaveMessage(t *testing.T) {
	const (
		head = "You are attempting to leave the swarm on a node that is participating as a manager. "
		tail = "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message."
	)
	for _, tt := range []struct {
		st   *managerStats
		want string
	}{
		{nil, head + "Doing so may lose the consensus of your cluster. " + tail},
		{&managerStats{self: true, reachable: 1}, head + "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. "},
		{&managerStats{self: true, reachable: 2}, head + "Removing this node leaves 1 managers out of 2. Without a Raft quorum your swarm will be inaccessible. " + tail},
		{&managerStats{self: true, reachable: 2, unreachable: 1}, head + "Removing this node leaves 1 managers out of 3. Without a Raft quorum your swarm will be inaccessible. " + tail},
		// Three reachable managers keep their quorum without this one.
		{&managerStats{self: true, reachable: 3}, head + tail},
		// Not counted among the reachable: nothing to say about quorum.
		{&managerStats{reachable: 2}, head + tail},
	} {
		if got := leaveMessage(tt.st); got != tt.want {
			t.Errorf("leaveMessage(%+v) =\n%s\nwant\n%s", tt.st, got, tt.want)
		}
	}
}

func TestDefaultSpecName(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"", "default", ""}, {"default", "default", ""}, {"other", "other", `swarm spec must be named "default"`},
	} {
		spec := swarm.Spec{Annotations: swarm.Annotations{Name: tt.in}}
		err := defaultSpecName(&spec)
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errdefs.IsInvalidArgument(err)) ||
			tt.err == "" && (err != nil || spec.Name != tt.want) {
			t.Errorf("defaultSpecName(%q): %q, %v", tt.in, spec.Name, err)
		}
	}
}
