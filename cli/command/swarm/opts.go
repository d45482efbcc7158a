package swarm

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/spf13/pflag"
)

// defaultListenAddr is where a manager listens unless --listen-addr says
// otherwise.
const defaultListenAddr = "0.0.0.0:2377"

// nodeAddr is a --listen-addr value: "<ip|interface>[:port]", the parts
// left out taken from the address it replaces.
type nodeAddr struct{ addr string }

func (a *nodeAddr) String() string { return a.addr }

// Type names the value in help, as docker does.
func (a *nodeAddr) Type() string { return "node-addr" }

// Set parses "host", "host:port", ":port" or "tcp://host:port".
func (a *nodeAddr) Set(value string) error {
	addr, err := parseNodeAddr(value, a.addr)
	if err != nil {
		return err
	}
	a.addr = addr
	return nil
}

// parseNodeAddr completes value (host, :port, host:port, tcp://…) with
// the host or port of def, in docker's words when it cannot.
func parseNodeAddr(value, def string) (string, error) {
	if value == "" || value == "tcp://" {
		return def, nil
	}
	addr := strings.TrimPrefix(value, "tcp://")
	if strings.Contains(addr, "://") || addr == "" {
		return "", fmt.Errorf("invalid proto, expected tcp: %s", value)
	}
	defHost, defPort, err := net.SplitHostPort(def)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(addr, "]:") {
		addr += defPort
	}
	u, err := url.Parse("tcp://" + addr)
	if err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port, err = net.SplitHostPort(net.JoinHostPort(u.Host, defPort))
	}
	if err != nil {
		return "", fmt.Errorf("invalid bind address format: %s", value)
	}
	if host == "" {
		host = defHost
	}
	if port == "" {
		port = defPort
	}
	if p, err := strconv.Atoi(port); err != nil && p == 0 {
		return "", fmt.Errorf("invalid bind address format: %s", value)
	}
	return net.JoinHostPort(host, port) + u.Path, nil
}

// specOptions are the cluster settings init and update share.
type specOptions struct {
	taskHistoryLimit    int64
	dispatcherHeartbeat time.Duration
	maxSnapshots        uint64
	snapshotInterval    uint64
	certExpiry          time.Duration
	autolock            bool
}

// addSpecFlags adds the flags of specOptions but --autolock, whose help
// differs between init and update.
func addSpecFlags(fs *pflag.FlagSet, o *specOptions) {
	fs.Int64Var(&o.taskHistoryLimit, "task-history-limit", 5, "Task history retention limit")
	fs.DurationVar(&o.dispatcherHeartbeat, "dispatcher-heartbeat", 5*time.Second, "Dispatcher heartbeat period (ns|us|ms|s|m|h)")
	fs.Uint64Var(&o.maxSnapshots, "max-snapshots", 0, "Number of additional Raft snapshots to retain")
	fs.Uint64Var(&o.snapshotInterval, "snapshot-interval", 10000, "Number of log entries between Raft snapshots")
	fs.DurationVar(&o.certExpiry, "cert-expiry", 90*24*time.Hour, "Validity period for node certificates (ns|us|ms|s|m|h)")
}

// merge sets in spec what the flags given on the command line say.
func (o *specOptions) merge(spec *swarmtypes.Spec, fs *pflag.FlagSet) {
	if fs.Changed("task-history-limit") {
		v := o.taskHistoryLimit
		spec.Orchestration.TaskHistoryRetentionLimit = &v
	}
	if fs.Changed("dispatcher-heartbeat") {
		spec.Dispatcher.HeartbeatPeriod = o.dispatcherHeartbeat
	}
	if fs.Changed("max-snapshots") {
		v := o.maxSnapshots
		spec.Raft.KeepOldSnapshots = &v
	}
	if fs.Changed("snapshot-interval") {
		spec.Raft.SnapshotInterval = o.snapshotInterval
	}
	if fs.Changed("autolock") {
		spec.EncryptionConfig.AutoLockManagers = o.autolock
	}
	if fs.Changed("cert-expiry") {
		spec.CAConfig.NodeCertExpiry = o.certExpiry
	}
}

// parseAvailability checks --availability as docker does.
func parseAvailability(s string) (swarmtypes.NodeAvailability, error) {
	a := swarmtypes.NodeAvailability(strings.ToLower(s))
	switch a {
	case swarmtypes.NodeAvailabilityActive, swarmtypes.NodeAvailabilityPause, swarmtypes.NodeAvailabilityDrain:
		return a, nil
	}
	return "", fmt.Errorf("invalid availability %q, only active, pause and drain are supported", s)
}
