// Package registry holds login and logout: the credentials go to the
// docker client's config.json (package config), as docker's do.
package registry

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/config"
)

// NewLoginCommand is `login`.
func NewLoginCommand(cli *command.Cli) *cobra.Command {
	var user, pass string
	var passStdin bool
	cmd := command.NewCommand("login [OPTIONS] [SERVER]", "Authenticate to a registry", command.MaxArgs(1),
		func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if passStdin {
				b, err := io.ReadAll(cli.In)
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" {
				fmt.Fprint(cli.Out, "Username: ")
				line, _ := bufio.NewReader(cli.In).ReadString('\n')
				user = strings.TrimSpace(line)
			}
			if pass == "" {
				fmt.Fprint(cli.Out, "Password: ")
				if fd, isTerm := term.GetFdInfo(cli.In); isTerm {
					st, err := term.SaveState(fd)
					if err == nil {
						_ = term.DisableEcho(fd, st)
						defer term.RestoreTerminal(fd, st)
					}
				}
				line, _ := bufio.NewReader(cli.In).ReadString('\n')
				pass = strings.TrimRight(line, "\r\n")
				fmt.Fprintln(cli.Out)
			}
			api, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := api.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{Username: user, Password: pass, ServerAddress: server})
			if err != nil {
				return err
			}
			if err := config.StoreCredentials(server, user, pass); err != nil {
				return fmt.Errorf("store credentials: %w", err)
			}
			if res.Auth.Status != "" {
				fmt.Fprintln(cli.Out, res.Auth.Status)
			}
			return nil
		})
	cmd.Flags().StringVarP(&user, "username", "u", "", "Username")
	cmd.Flags().StringVarP(&pass, "password", "p", "", "Password or Personal Access Token (PAT)")
	cmd.Flags().BoolVar(&passStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

// NewLogoutCommand is `logout`.
func NewLogoutCommand(cli *command.Cli) *cobra.Command {
	return command.NewCommand("logout [SERVER]", "Log out from a registry", command.MaxArgs(1),
		func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			found, err := config.EraseCredentials(server)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(cli.Out, "Not logged in to %s\n", config.RegistryKey(server))
				return nil
			}
			fmt.Fprintf(cli.Out, "Removing login credentials for %s\n", config.RegistryKey(server))
			return nil
		})
}
