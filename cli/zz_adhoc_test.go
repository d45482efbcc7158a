package cli

import (
	"os"
	"strings"
	"testing"
)

func TestAdhoc(t *testing.T) {
	args := os.Getenv("BERTH_ADHOC")
	if args == "" {
		t.Skip()
	}
	mainWith(&app{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}, strings.Fields(args))
}
