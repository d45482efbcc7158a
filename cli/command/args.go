package command

import (
	"fmt"

	"github.com/spf13/cobra"
)

func argError(cmd *cobra.Command, format string, a ...any) error {
	return fmt.Errorf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), fmt.Sprintf(format, a...), cmd.CommandPath(), cmd.UseLine(), cmd.Short)
}

func plural(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// MinArgs wants at least n arguments. It and MaxArgs, ExactArgs, RangeArgs
// and NoArgs check the positional arguments in the docker CLI's words.
func MinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argError(cmd, "requires at least %d %s", n, plural(n))
	}
}

// MaxArgs allows at most n arguments.
func MaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argError(cmd, "requires at most %d %s", n, plural(n))
	}
}

// ExactArgs wants n arguments.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argError(cmd, "requires exactly %d %s", n, plural(n))
	}
}

// RangeArgs wants lo to hi arguments.
func RangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argError(cmd, "requires at least %d and at most %d %s", lo, hi, plural(hi))
	}
}

// NoArgs refuses arguments.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return argError(cmd, "accepts no arguments")
}
