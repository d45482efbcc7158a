package cli

import "github.com/spf13/cobra"

func addContainerCommands(*cobra.Command, *app) {}
func addImageCommands(*cobra.Command, *app)     {}
func addVolumeCommands(*cobra.Command, *app)    {}
func addSystemCommands(*cobra.Command, *app)    {}
