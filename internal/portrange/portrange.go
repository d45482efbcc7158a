// Package portrange parses the port ranges of -p, --expose and the Engine
// API's port bindings ("80", "8000-8010"): one parser for the CLI and the
// engine.
package portrange

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads "N" or "N-M" (0 ≤ N ≤ M ≤ 65535) and returns N and M.
func Parse(s string) (start, end uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid port %q", s)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return 0, 0, fmt.Errorf("invalid range %q", s)
		}
	}
	if b < a {
		return 0, 0, fmt.Errorf("invalid range %q", s)
	}
	return uint16(a), uint16(b), nil
}
