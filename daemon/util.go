package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// parseSignal accepts "SIGTERM", "TERM", "term" or a number, as Docker does.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", s))
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", s))
}

// parseSize parses "10m", "1g", "512k" (binary units, as json-file's max-size).
func parseSize(s string) (int64, error) {
	return units.RAMInBytes(s)
}

// parseTimeFilter parses a Docker time value: RFC3339, a unix timestamp or
// a duration ago ("10m").
func parseTimeFilter(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid time value %q", v))
}

// untilFilter reads the "until" prune filter.
func (d *Daemon) untilFilter(f map[string]map[string]bool) (time.Time, bool) {
	for v := range f["until"] {
		if t, err := parseTimeFilter(v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
