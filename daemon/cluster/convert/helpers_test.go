package convert

import (
	"net/netip"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	gogotypes "github.com/gogo/protobuf/types"
	"github.com/google/go-cmp/cmp"
)

// diff is cmp.Diff that compares netip values by value.
func diff(want, got any) string {
	return cmp.Diff(want, got,
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	)
}

// ts is a SwarmKit timestamp for t.
func ts(t *testing.T, tm time.Time) *gogotypes.Timestamp {
	t.Helper()
	p, err := gogotypes.TimestampProto(tm)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantInvalid fails unless err is an invalid-argument error reading want.
func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err.Error(), want)
	}
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("err %q is not an invalid-argument error", err)
	}
}

func ptr[T any](v T) *T { return &v }
