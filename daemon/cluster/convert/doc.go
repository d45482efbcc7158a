// Package convert translates between the Engine API's swarm types
// (github.com/moby/moby/api/types/swarm and the network, mount and container
// types they use) and SwarmKit's protobuf types (github.com/moby/swarmkit/v2/api),
// the way dockerd's daemon/cluster/convert does: the same field meanings,
// the same defaults and the same error texts.
//
// The functions are pure: no daemon state, no I/O (ServiceSpecToGRPC only
// draws a random name for an unnamed service, as dockerd does).
// Conversions from SwarmKit (…FromGRPC) map enum values the way dockerd
// does (SwarmKit's names in lower case), accept nil objects (returning the
// zero value) and fail only on a task runtime Docker cannot show, with
// dockerd's plain (internal) errors. Conversions to SwarmKit (…ToGRPC)
// reject what dockerd rejects; their errors satisfy errdefs.IsInvalidArgument
// and carry Docker's exact words, so callers can return them to the client
// as they are (400).
//
// Filters for the list calls (NodeFilters, ServiceFilters, TaskFilters,
// SecretFilters, ConfigFilters) validate keys and values as dockerd does and
// return SwarmKit's List…Request_Filters.
package convert
