package service

import (
	"context"
	"io"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ListHeaders name the columns of the service ls table.
var ListHeaders = listHeaders

// Wait follows a service until it converges (or fails), drawing docker's
// progress on out unless quiet, as create and update do; prog is the
// program name in the ^C hint.
func Wait(ctx context.Context, api client.APIClient, out io.Writer, prog, serviceID string, quiet bool) error {
	return waitOnService(ctx, api, out, prog, serviceID, quiet)
}

// ListRows are services as service ls rows, in docker's order, with
// their running and desired tasks counted unless quiet.
func ListRows(ctx context.Context, api client.APIClient, services []swarmtypes.Service, quiet bool) ([]any, error) {
	if !quiet {
		if err := appendServiceStatus(ctx, api, services); err != nil {
			return nil, err
		}
	}
	return listRows(services), nil
}
