package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
	"github.com/moby/swarmkit/v2/manager/encryption"
	swarmnode "github.com/moby/swarmkit/v2/node"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/cluster/convert"
	"github.com/berth-project/berth/internal/filters"
)

var errNotInSwarm = errdefs.ErrUnavailable.WithMessage("This node is not part of a swarm")

// SwarmInit implements backend.Cluster.
func (c *Cluster) SwarmInit(ctx context.Context, req swarm.InitRequest) (string, error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.locked && !req.ForceNewCluster {
		return "", errSwarmLocked
	}
	if c.node != nil && !req.ForceNewCluster {
		return "", errSwarmExists
	}
	if req.ListenAddr == "" {
		return "", errdefs.ErrInvalidArgument.WithMessage(`invalid ListenAddr "": invalid empty address`)
	}
	if err := defaultSpecName(&req.Spec); err != nil {
		return "", err
	}
	listen, err := listenAddr(req.ListenAddr)
	if err != nil {
		return "", err
	}
	adv, err := advertiseAddr(req.AdvertiseAddr, listen)
	if err != nil {
		return "", err
	}
	dataAddr, err := dataPathAddr(req.DataPathAddr)
	if err != nil {
		return "", err
	}
	st := state{ListenAddr: listen, AdvertiseAddr: adv, DataPathAddr: dataAddr, SubnetSize: req.SubnetSize, DataPathPort: req.DataPathPort}
	if st.DefaultPool, err = defaultAddrPool(req.DefaultAddrPool, req.SubnetSize); err != nil {
		return "", err
	}
	if st.DataPathPort != 0 && (st.DataPathPort < 1024 || st.DataPathPort > 49151) {
		// A plain error, as dockerd's (a 500).
		return "", fmt.Errorf("Datapath port number is not in valid range (1024-49151) : %d", st.DataPathPort) //nolint:staticcheck // Docker's words
	}
	avail, err := availability(req.Availability)
	if err != nil {
		return "", err
	}
	if req.ForceNewCluster {
		if c.node == nil && !c.locked && !c.hasState() {
			return "", errdefs.ErrInvalidArgument.WithMessage("--force-new-cluster needs the state of a swarm this node was a manager of")
		}
		if c.node != nil {
			c.node.stop(false)
			c.set(func() { c.node = nil })
		}
	} else if err := c.clearState(); err != nil {
		return "", err
	}
	prev := c.st
	c.set(func() { c.st = st })
	n, err := c.startNode(ctx, nodeOptions{forceNewCluster: req.ForceNewCluster, autolock: req.AutoLockManagers, availability: avail})
	if err == nil {
		err = waitReady(ctx, n)
	}
	if err != nil {
		if n != nil {
			n.stop(false)
		}
		c.set(func() { c.st = prev })
		if !req.ForceNewCluster {
			_ = c.clearState()
		}
		return "", statusErr(err)
	}
	c.set(func() { c.node, c.locked = n, false })
	if err := c.saveState(); err != nil {
		return "", fmt.Errorf("save swarm state: %w", err)
	}
	err = c.updateClusterSpec(ctx, func(spec *swarmapi.ClusterSpec) error {
		merged, err := convert.MergeSwarmSpecToGRPC(req.Spec, *spec)
		if err != nil {
			return err
		}
		*spec = merged
		return nil
	}, backend.SwarmUpdateFlags{})
	if err != nil {
		// As dockerd: the swarm exists, its settings are not applied.
		return "", fmt.Errorf("error updating cluster settings: %v", err)
	}
	return n.NodeID(), nil
}

// defaultAddrPool checks the default address pools of an init request
// against the subnet size as dockerd does (with its words and its 500s),
// and returns them as CIDR strings. SwarmKit's allocator here handles
// IPv4 pools only.
func defaultAddrPool(pools []netip.Prefix, size uint32) ([]string, error) {
	if size == 0 {
		size = 24
	}
	if size > 29 {
		return nil, fmt.Errorf("subnet size is out of range: %d", size)
	}
	check := pools
	if len(check) == 0 {
		check = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // SwarmKit's default pool
	}
	for _, p := range check {
		if !p.IsValid() {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid default address pool %s", p))
		}
		if size < uint32(p.Bits()) {
			return nil, fmt.Errorf("invalid CIDR: %q. Subnet size is too small for pool: %d", p, size)
		}
	}
	out := make([]string, 0, len(pools))
	for _, p := range pools {
		if !p.Addr().Is4() {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid default address pool %s: want an IPv4 CIDR", p))
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// dataPathAddr resolves --data-path-addr (an IP or an interface, no port).
func dataPathAddr(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if ip, err := interfaceAddr(s); err == nil {
		return ip.String(), nil
	} else if !errors.Is(err, errNoSuchInterface) {
		return "", err
	}
	if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() {
		return ip.String(), nil
	}
	return "", errdefs.ErrInvalidArgument.WithMessage("data path address must be a non-zero IP address or network interface (without a port number)")
}

func (c *Cluster) hasState() bool {
	_, err := os.Stat(filepath.Join(c.cfg.Root, stateFile))
	return err == nil
}

// waitReady waits until the node has joined (a manager: has a leader and
// its control socket).
func waitReady(ctx context.Context, n *runningNode) error {
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-n.Ready():
	case <-n.done:
		if n.err != nil {
			return n.err
		}
		return errors.New("swarm node stopped")
	case <-t.C:
		return errJoinTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
	if n.Manager() == nil {
		return nil
	}
	for i := 0; i < 100; i++ {
		if ctl, _ := n.clients(); ctl != nil {
			return nil
		}
		time.Sleep(controlDialPeriod)
	}
	return errors.New("swarm manager did not open its control socket")
}

func availability(a swarm.NodeAvailability) (swarmapi.NodeSpec_Availability, error) {
	switch a {
	case "", swarm.NodeAvailabilityActive:
		return swarmapi.NodeAvailabilityActive, nil
	case swarm.NodeAvailabilityPause:
		return swarmapi.NodeAvailabilityPause, nil
	case swarm.NodeAvailabilityDrain:
		return swarmapi.NodeAvailabilityDrain, nil
	}
	return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid Availability: %q", a))
}

// SwarmJoin implements backend.Cluster.
func (c *Cluster) SwarmJoin(ctx context.Context, req swarm.JoinRequest) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.locked {
		return errSwarmLocked
	}
	if c.node != nil {
		return errSwarmExists
	}
	if req.ListenAddr == "" {
		return errdefs.ErrInvalidArgument.WithMessage(`invalid ListenAddr "": invalid empty address`)
	}
	if len(req.RemoteAddrs) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("at least 1 RemoteAddr is required to join")
	}
	for _, a := range req.RemoteAddrs {
		if a == "" {
			return errdefs.ErrInvalidArgument.WithMessage(`invalid remoteAddr "": invalid empty address`)
		}
	}
	if req.JoinToken == "" {
		// What SwarmKit's CA answers after its retries; said at once.
		return errdefs.ErrInvalidArgument.WithMessage("rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster")
	}
	remote := req.RemoteAddrs[0]
	if _, _, err := net.SplitHostPort(remote); err != nil {
		remote = net.JoinHostPort(remote, "2377")
	}
	listen, err := listenAddr(req.ListenAddr)
	if err != nil {
		return err
	}
	// As dockerd: a joining node needs no advertise address (the manager
	// sees where it comes from), so one that does not resolve is ignored.
	adv := ""
	if req.AdvertiseAddr != "" || !strings.HasPrefix(listen, "0.0.0.0:") {
		if a, err := advertiseAddr(req.AdvertiseAddr, listen); err == nil {
			adv = a
		}
	}
	dataAddr, err := dataPathAddr(req.DataPathAddr)
	if err != nil {
		return err
	}
	avail, err := availability(req.Availability)
	if err != nil {
		return err
	}
	if err := c.clearState(); err != nil {
		return err
	}
	c.set(func() { c.st = state{ListenAddr: listen, AdvertiseAddr: adv, DataPathAddr: dataAddr} })
	n, err := c.startNode(ctx, nodeOptions{joinAddr: remote, joinToken: req.JoinToken, availability: avail})
	if err == nil {
		err = waitReady(ctx, n)
	}
	if errors.Is(err, errJoinTimeout) {
		// Still trying in the background, as Docker does.
		c.set(func() { c.node = n })
		_ = c.saveState()
		return err
	}
	if err != nil {
		if n != nil {
			n.stop(false)
		}
		c.set(func() { c.st = state{} })
		_ = c.clearState()
		return statusErr(err)
	}
	c.set(func() { c.node = n })
	return c.saveState()
}

// SwarmLeave implements backend.Cluster.
func (c *Cluster) SwarmLeave(ctx context.Context, force bool) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	n, locked := c.node, c.locked
	if n == nil && !locked {
		return errNotInSwarm
	}
	if locked && !force {
		return errdefs.ErrUnavailable.WithMessage("Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.")
	}
	if n != nil && n.Manager() != nil && !force {
		return errdefs.ErrUnavailable.WithMessage(c.leaveWarning(ctx, n))
	}
	if n != nil {
		n.stop(true)
	}
	c.set(func() { c.node, c.locked, c.st = nil, false, state{} })
	c.removeTaskContainers(ctx)
	c.removeTaskFiles()
	if c.cfg.Networks != nil {
		c.cfg.Networks.RemoveSwarmNetworks(ctx)
	}
	return c.clearState()
}

// removeTaskContainers removes what is left of this node's tasks after it
// left the swarm.
func (c *Cluster) removeTaskContainers(ctx context.Context) {
	f, err := filters.Parse(`{"label":{"com.docker.swarm.task.id":true}}`)
	if err != nil {
		return
	}
	list, err := c.cfg.Engine.ContainerList(ctx, backend.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		c.log.Warn("list task containers", "err", err)
		return
	}
	for _, ct := range list {
		if err := c.cfg.Engine.ContainerRemove(ctx, ct.ID, true, true); err != nil && !errdefs.IsNotFound(err) {
			c.log.Warn("remove task container", "id", ct.ID, "err", err)
		}
	}
}

// leaveWarning is dockerd's refusal to let a manager leave without
// --force: what the swarm loses if it does.
func (c *Cluster) leaveWarning(ctx context.Context, n *runningNode) string {
	ctl, _ := n.clients()
	if ctl == nil {
		return leaveMessage(nil)
	}
	st, err := managerCounts(ctx, ctl, n.NodeID())
	if err != nil {
		st = &managerStats{}
	}
	return leaveMessage(st)
}

// managerStats is what a manager knows of the swarm's managers.
type managerStats struct {
	self                   bool // this node is a reachable manager
	reachable, unreachable int
}

// leaveMessage words the warning for a manager that leaves without
// --force, given the managers' state (nil: this manager has no control
// API, so it cannot tell).
func leaveMessage(st *managerStats) string {
	msg := "You are attempting to leave the swarm on a node that is participating as a manager. "
	switch {
	case st == nil:
		msg += "Doing so may lose the consensus of your cluster. "
	case st.self && st.reachable-2 <= st.unreachable: // quorum lost without it
		if st.reachable == 1 && st.unreachable == 0 {
			return msg + "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. "
		}
		msg += fmt.Sprintf("Removing this node leaves %d managers out of %d. Without a Raft quorum your swarm will be inaccessible. ", st.reachable-1, st.reachable+st.unreachable)
	}
	return msg + "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message."
}

// managerCounts counts the swarm's reachable and unreachable managers and
// says whether this node is one of the reachable ones.
func managerCounts(ctx context.Context, ctl swarmapi.ControlClient, self string) (*managerStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := ctl.ListNodes(ctx, &swarmapi.ListNodesRequest{})
	if err != nil {
		return nil, statusErr(err)
	}
	st := &managerStats{}
	for _, nd := range resp.Nodes {
		if nd.ManagerStatus == nil {
			continue
		}
		switch nd.ManagerStatus.Reachability {
		case swarmapi.RaftMemberStatus_REACHABLE:
			st.reachable++
			st.self = st.self || nd.ID == self
		case swarmapi.RaftMemberStatus_UNREACHABLE:
			st.unreachable++
		}
	}
	return st, nil
}

// SwarmInspect implements backend.Cluster.
func (c *Cluster) SwarmInspect(ctx context.Context) (swarm.Swarm, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Swarm{}, err
	}
	cl, err := getCluster(ctx, ctl)
	if err != nil {
		return swarm.Swarm{}, err
	}
	return convert.SwarmFromGRPC(cl), nil
}

func getCluster(ctx context.Context, ctl swarmapi.ControlClient) (*swarmapi.Cluster, error) {
	resp, err := ctl.ListClusters(ctx, &swarmapi.ListClustersRequest{})
	if err != nil {
		return nil, statusErr(err)
	}
	if len(resp.Clusters) == 0 {
		return nil, errdefs.ErrNotFound.WithMessage("swarm not found")
	}
	return resp.Clusters[0], nil
}

// SwarmUpdate implements backend.Cluster.
func (c *Cluster) SwarmUpdate(ctx context.Context, version uint64, spec swarm.Spec, flags backend.SwarmUpdateFlags) error {
	// As dockerd: the request carries the whole spec (the CLI sends back
	// what it inspected, changed).
	if err := defaultSpecName(&spec); err != nil {
		return err
	}
	return c.updateClusterSpecAt(ctx, &version, func(s *swarmapi.ClusterSpec) error {
		full, err := convert.SwarmSpecToGRPC(spec)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		*s = full
		return nil
	}, flags)
}

// defaultSpecName names a swarm spec "default", the only name dockerd
// accepts.
func defaultSpecName(spec *swarm.Spec) error {
	switch spec.Name {
	case "":
		spec.Name = "default"
	case "default":
	default:
		return errdefs.ErrInvalidArgument.WithMessage(`swarm spec must be named "default"`)
	}
	return nil
}

func (c *Cluster) updateClusterSpec(ctx context.Context, change func(*swarmapi.ClusterSpec) error, flags backend.SwarmUpdateFlags) error {
	return c.updateClusterSpecAt(ctx, nil, change, flags)
}

func (c *Cluster) updateClusterSpecAt(ctx context.Context, version *uint64, change func(*swarmapi.ClusterSpec) error, flags backend.SwarmUpdateFlags) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	cl, err := getCluster(ctx, ctl)
	if err != nil {
		return err
	}
	spec := cl.Spec
	if err := change(&spec); err != nil {
		return err
	}
	v := cl.Meta.Version
	if version != nil {
		v.Index = *version
	}
	_, err = ctl.UpdateCluster(ctx, &swarmapi.UpdateClusterRequest{
		ClusterID:      cl.ID,
		ClusterVersion: &v,
		Spec:           &spec,
		Rotation: swarmapi.KeyRotation{
			WorkerJoinToken:  flags.RotateWorkerToken,
			ManagerJoinToken: flags.RotateManagerToken,
			ManagerUnlockKey: flags.RotateManagerUnlockKey,
		},
	})
	return statusErr(err)
}

// SwarmUnlockKey implements backend.Cluster.
func (c *Cluster) SwarmUnlockKey(ctx context.Context) (string, error) {
	_, _, n, err := c.manager()
	if err != nil {
		return "", err
	}
	ca := n.caClient()
	if ca == nil {
		return "", errNoSwarm
	}
	resp, err := ca.GetUnlockKey(ctx, &swarmapi.GetUnlockKeyRequest{})
	if err != nil {
		return "", statusErr(err)
	}
	if len(resp.UnlockKey) == 0 {
		return "", errdefs.ErrNotFound.WithMessage("no unlock key is set")
	}
	return encryption.HumanReadableKey(resp.UnlockKey), nil
}

// SwarmUnlock implements backend.Cluster.
func (c *Cluster) SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !c.locked {
		if c.node == nil {
			return errNotInSwarm
		}
		return errSwarmNotLocked
	}
	key, err := encryption.ParseHumanReadableKey(req.UnlockKey)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid key")
	}
	n, err := c.startNode(ctx, nodeOptions{unlockKey: key})
	if err != nil {
		if errors.Is(err, swarmnode.ErrInvalidUnlockKey) {
			return errdefs.ErrInvalidArgument.WithMessage("swarm could not be unlocked: invalid key provided")
		}
		return err
	}
	c.set(func() { c.node, c.locked = n, false })
	return nil
}

// SwarmInfo implements backend.Cluster.
func (c *Cluster) SwarmInfo(ctx context.Context) swarm.Info {
	c.mu.RLock()
	n, locked, st := c.node, c.locked, c.st
	c.mu.RUnlock()
	if locked {
		return swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}
	}
	if n == nil {
		return swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	}
	info := swarm.Info{NodeID: n.NodeID(), LocalNodeState: swarm.LocalNodeStatePending}
	if host, _, err := net.SplitHostPort(st.AdvertiseAddr); err == nil {
		info.NodeAddr = host
	}
	select {
	case <-n.Ready():
		info.LocalNodeState = swarm.LocalNodeStateActive
	case <-n.done:
		info.LocalNodeState = swarm.LocalNodeStateError
		if n.err != nil {
			info.Error = n.err.Error()
		}
		return info
	default:
	}
	for _, p := range n.Remotes() {
		info.RemoteManagers = append(info.RemoteManagers, swarm.Peer{NodeID: p.NodeID, Addr: p.Addr})
	}
	ctl, _ := n.clients()
	if ctl == nil || n.Manager() == nil {
		return info
	}
	info.ControlAvailable = true
	if nodes, err := ctl.ListNodes(ctx, &swarmapi.ListNodesRequest{}); err == nil {
		info.Nodes = len(nodes.Nodes)
		for _, nd := range nodes.Nodes {
			if nd.ManagerStatus != nil {
				info.Managers++
			}
		}
	}
	if cl, err := getCluster(ctx, ctl); err == nil {
		s := convert.SwarmFromGRPC(cl)
		info.Cluster = &s.ClusterInfo
	}
	return info
}

// statusErr maps a SwarmKit gRPC error to the errdefs class whose HTTP
// status dockerd answers for its code, keeping its text whole: dockerd
// passes SwarmKit's errors through, so clients see "rpc error: code =
// FailedPrecondition desc = …" as they do with Docker. Other errors are
// returned unchanged.
func statusErr(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := err.Error()
	switch s.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return errdefs.ErrInvalidArgument.WithMessage(msg)
	case codes.NotFound:
		return errdefs.ErrNotFound.WithMessage(msg)
	case codes.AlreadyExists:
		return errdefs.ErrConflict.WithMessage(msg)
	case codes.PermissionDenied:
		return errdefs.ErrPermissionDenied.WithMessage(msg)
	case codes.Unauthenticated:
		return errdefs.ErrUnauthenticated.WithMessage(msg)
	case codes.Unimplemented:
		return errdefs.ErrNotImplemented.WithMessage(msg)
	case codes.Unavailable:
		return errdefs.ErrUnavailable.WithMessage(msg)
	}
	// Unknown (SwarmKit's "update out of sequence"), DeadlineExceeded,
	// Internal and the rest: dockerd's 500.
	return errdefs.ErrUnknown.WithMessage(msg)
}
