// Package integration drives a real `berth daemon` (on temporary dirs and a
// temporary socket) with the real docker CLI, docker-py and the berth CLI.
// The tests need root; they skip otherwise.
package integration
