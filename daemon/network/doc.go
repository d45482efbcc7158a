// Package network owns a daemon's container networking on one host:
// networks and their IP address management, each running container's
// network namespace and endpoints, published ports (nftables DNAT, no
// proxy processes), NAT for egress, isolation between networks, the
// embedded DNS server that resolves container names, and the translation
// between all that and the Engine API's types.
//
// State (networks, and the sandboxes of running containers with their
// addresses and ports) is kept in the daemon's bbolt database; the kernel
// objects (links, namespaces, the nftables table) are derived from it and
// reconciled at start, so a daemon that crashed comes back without
// duplicating or leaking anything.
//
// The files:
//
//	manager.go  Manager: networks' lifecycle, dispatch to their Driver, rules, reconcile
//	driver.go   the Driver interface; host and null
//	bridge.go   the bridge driver (its kernel calls: link.go)
//	sandbox.go  sandboxes: netns, endpoints, connect/disconnect, teardown
//	store.go    bbolt persistence of networks and sandboxes
//	ports.go    published ports: host port reservation, the path from -p to DNAT
//	api.go      Engine API ↔ network: create/inspect/list/connect/prune, NetworkSettings, PortBindings
//	nft.go      the nftables ruleset, a pure function of the state
//	ipam.go     subnet choice and address allocation, pure
//	dns.go      the embedded DNS server; names.go what it answers, from the sandboxes
//	proxy6.go   the IPv6 relay of published TCP ports
package network
