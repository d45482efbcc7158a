package machine

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
)

// shellSyntax is how one shell sets and unsets a variable.
type shellSyntax struct {
	set, unset string // formats: name, value / name
	suffix     string // after the comment's command
}

var shells = map[string]shellSyntax{
	"bash":       {set: "export %s=\"%s\"\n", unset: "unset %s\n"},
	"fish":       {set: "set -gx %s \"%s\";\n", unset: "set -e %s;\n"},
	"tcsh":       {set: "setenv %s \"%s\";\n", unset: "unsetenv %s;\n"},
	"powershell": {set: "$Env:%s = \"%s\"\n", unset: "Remove-Item Env:\\\\%s\n", suffix: " | Invoke-Expression"},
	"cmd":        {set: "SET %s=%s\n", unset: "SET %s=\n"},
	"emacs":      {set: "(setenv \"%s\" \"%s\")\n", unset: "(setenv \"%s\" nil)\n"},
}

// detectShell is --shell, or the login shell's name from $SHELL.
func detectShell(flag string) (string, error) {
	name := flag
	if name == "" {
		name = filepath.Base(os.Getenv("SHELL"))
	}
	switch name {
	case "", ".", "sh", "zsh", "ksh", "dash", "ash":
		name = "bash"
	case "csh":
		name = "tcsh"
	}
	if _, ok := shells[name]; !ok {
		return "", fmt.Errorf("Error: Unknown shell: %s", name)
	}
	return name, nil
}

var envVars = []string{"DOCKER_TLS_VERIFY", "DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_MACHINE_NAME"}

func newEnvCommand(e *env) *cobra.Command {
	var unset bool
	var shell string
	cmd := command.NewCommand("env [OPTIONS] [NAME]", "Display the commands to set up the environment for the Docker client", command.MaxArgs(1), func(cmd *cobra.Command, args []string) error {
		sh, err := detectShell(shell)
		if err != nil {
			return err
		}
		syn := shells[sh]
		w := e.cli.Out
		if unset {
			if len(args) > 0 {
				return fmt.Errorf("Error: Expected no machine name when the -u flag is present")
			}
			for _, v := range envVars {
				fmt.Fprintf(w, syn.unset, v)
			}
			usage(w, sh, syn, "env --unset")
			return nil
		}
		if len(args) == 0 {
			return fmt.Errorf("Error: No machine name(s) specified and no \"default\" machine exists")
		}
		m, err := e.running(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		vals := []string{"1", m.URL(), m.CertPath(), m.Name}
		for i, v := range envVars {
			fmt.Fprintf(w, syn.set, v, vals[i])
		}
		usage(w, sh, syn, "env "+m.Name)
		return nil
	})
	cmd.Flags().BoolVarP(&unset, "unset", "u", false, "Unset variables instead of setting them")
	cmd.Flags().StringVar(&shell, "shell", "", "Force environment to be configured for a specified shell: [fish, cmd, powershell, tcsh, emacs, bash], default is auto-detect")
	return cmd
}

// usage is docker-machine's closing comment.
func usage(w io.Writer, sh string, syn shellSyntax, args string) {
	comment := "#"
	switch sh {
	case "cmd":
		comment = "REM"
	case "emacs":
		comment = ";;"
	}
	run := fmt.Sprintf("eval $(berth machine %s)", args)
	switch sh {
	case "fish":
		run = fmt.Sprintf("eval (berth machine %s)", args)
	case "powershell":
		run = fmt.Sprintf("& berth machine %s%s", args, syn.suffix)
	case "cmd":
		run = fmt.Sprintf("@FOR /f \"tokens=*\" %%i IN ('berth machine %s') DO @%%i", args)
	case "emacs":
		run = fmt.Sprintf("(with-temp-buffer (shell-command \"berth machine %s\" (current-buffer)) (eval-buffer))", args)
	}
	fmt.Fprintf(w, "%s Run this command to configure your shell:\n%s %s\n", comment, comment, strings.TrimSpace(run))
}
