package convert

import (
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"strings"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// SwarmFromGRPC converts a SwarmKit cluster object to GET /swarm's answer
// (its ClusterInfo is /info's Swarm.Cluster). As in dockerd the signing CA
// certificate and key are never returned: SwarmKit redacts the key, and a
// client that sent back the certificate alone on update would be refused.
// TLSInfo's issuer is the (rotating-to) root CA's subject and public key.
func SwarmFromGRPC(c *swarmapi.Cluster) swarm.Swarm {
	if c == nil {
		return swarm.Swarm{}
	}
	spec := c.Spec
	retention := spec.Orchestration.TaskHistoryRetentionLimit
	keepOld := spec.Raft.KeepOldSnapshots
	out := swarm.Swarm{
		ClusterInfo: swarm.ClusterInfo{
			ID:   c.ID,
			Meta: metaFromGRPC(c.Meta),
			Spec: swarm.Spec{
				Annotations:   annotationsFromGRPC(spec.Annotations),
				Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: &retention},
				Raft: swarm.RaftConfig{
					SnapshotInterval:           spec.Raft.SnapshotInterval,
					KeepOldSnapshots:           &keepOld,
					LogEntriesForSlowFollowers: spec.Raft.LogEntriesForSlowFollowers,
					ElectionTick:               int(spec.Raft.ElectionTick),
					HeartbeatTick:              int(spec.Raft.HeartbeatTick),
				},
				Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: durationFromGRPC(spec.Dispatcher.HeartbeatPeriod)},
				CAConfig: swarm.CAConfig{
					NodeCertExpiry: durationFromGRPC(spec.CAConfig.NodeCertExpiry),
					ForceRotate:    spec.CAConfig.ForceRotate,
				},
				TaskDefaults:     swarm.TaskDefaults{LogDriver: driverFromGRPC(spec.TaskDefaults.LogDriver)},
				EncryptionConfig: swarm.EncryptionConfig{AutoLockManagers: spec.EncryptionConfig.AutoLockManagers},
			},
			TLSInfo:                swarm.TLSInfo{TrustRoot: string(c.RootCA.CACert)},
			RootRotationInProgress: c.RootCA.RootRotation != nil,
			SubnetSize:             c.SubnetSize,
			DataPathPort:           c.VXLANUDPPort,
		},
		JoinTokens: swarm.JoinTokens{
			Worker:  c.RootCA.JoinTokens.Worker,
			Manager: c.RootCA.JoinTokens.Manager,
		},
	}
	for _, ca := range spec.CAConfig.ExternalCAs {
		if ca == nil {
			continue
		}
		out.Spec.CAConfig.ExternalCAs = append(out.Spec.CAConfig.ExternalCAs, &swarm.ExternalCA{
			Protocol: swarm.ExternalCAProtocol(strings.ToLower(ca.Protocol.String())),
			URL:      ca.URL,
			Options:  ca.Options,
			CACert:   string(ca.CACert),
		})
	}
	for _, p := range c.DefaultAddressPool {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out.DefaultAddrPool = append(out.DefaultAddrPool, pfx)
		}
	}
	issuer := c.RootCA.CACert
	if c.RootCA.RootRotation != nil {
		issuer = c.RootCA.RootRotation.CACert
	}
	if cert := firstCertificate(issuer); cert != nil {
		out.TLSInfo.CertIssuerSubject = cert.RawSubject
		out.TLSInfo.CertIssuerPublicKey = cert.RawSubjectPublicKeyInfo
	}
	return out
}

// firstCertificate parses the first PEM certificate of data, or nil.
func firstCertificate(data []byte) *x509.Certificate {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil
		}
		return cert
	}
}

// SwarmSpecToGRPC converts a complete swarm spec (POST /swarm/update sends
// the whole spec; a zero field means SwarmKit's default). It is
// MergeSwarmSpecToGRPC onto an empty ClusterSpec.
func SwarmSpecToGRPC(s swarm.Spec) (swarmapi.ClusterSpec, error) {
	return MergeSwarmSpecToGRPC(s, swarmapi.ClusterSpec{})
}

// MergeSwarmSpecToGRPC applies the non-zero fields of s onto spec and
// returns the result; zero or nil fields of s leave spec's values alone. This
// is how dockerd's swarm init lays the user's spec over SwarmKit's defaults.
// As in dockerd, CAConfig.ForceRotate and EncryptionConfig.AutoLockManagers
// are always taken from s (false/0 are meaningful there), a signing CA key
// is passed on (it is only ever sent to SwarmKit), and non-empty
// ExternalCAs replace spec's. An external CA protocol other than "cfssl" is
// `invalid protocol: "x"`.
func MergeSwarmSpecToGRPC(s swarm.Spec, spec swarmapi.ClusterSpec) (swarmapi.ClusterSpec, error) {
	if s.Name != "" {
		spec.Annotations.Name = s.Name
	}
	if len(s.Labels) != 0 {
		spec.Annotations.Labels = s.Labels
	}
	if s.Orchestration.TaskHistoryRetentionLimit != nil {
		spec.Orchestration.TaskHistoryRetentionLimit = *s.Orchestration.TaskHistoryRetentionLimit
	}
	if s.Raft.SnapshotInterval != 0 {
		spec.Raft.SnapshotInterval = s.Raft.SnapshotInterval
	}
	if s.Raft.KeepOldSnapshots != nil {
		spec.Raft.KeepOldSnapshots = *s.Raft.KeepOldSnapshots
	}
	if s.Raft.LogEntriesForSlowFollowers != 0 {
		spec.Raft.LogEntriesForSlowFollowers = s.Raft.LogEntriesForSlowFollowers
	}
	if s.Raft.HeartbeatTick != 0 {
		spec.Raft.HeartbeatTick = uint32(s.Raft.HeartbeatTick)
	}
	if s.Raft.ElectionTick != 0 {
		spec.Raft.ElectionTick = uint32(s.Raft.ElectionTick)
	}
	if s.Dispatcher.HeartbeatPeriod != 0 {
		spec.Dispatcher.HeartbeatPeriod = gogotypes.DurationProto(s.Dispatcher.HeartbeatPeriod)
	}
	if s.CAConfig.NodeCertExpiry != 0 {
		spec.CAConfig.NodeCertExpiry = gogotypes.DurationProto(s.CAConfig.NodeCertExpiry)
	}
	if s.CAConfig.SigningCACert != "" {
		spec.CAConfig.SigningCACert = []byte(s.CAConfig.SigningCACert)
	}
	if s.CAConfig.SigningCAKey != "" {
		spec.CAConfig.SigningCAKey = []byte(s.CAConfig.SigningCAKey)
	}
	spec.CAConfig.ForceRotate = s.CAConfig.ForceRotate
	if len(s.CAConfig.ExternalCAs) != 0 {
		cas := make([]*swarmapi.ExternalCA, 0, len(s.CAConfig.ExternalCAs))
		for _, ca := range s.CAConfig.ExternalCAs {
			if ca == nil {
				continue
			}
			protocol, ok := swarmapi.ExternalCA_CAProtocol_value[strings.ToUpper(string(ca.Protocol))]
			if !ok {
				return swarmapi.ClusterSpec{}, invalidArg("invalid protocol: %q", ca.Protocol)
			}
			cas = append(cas, &swarmapi.ExternalCA{
				Protocol: swarmapi.ExternalCA_CAProtocol(protocol),
				URL:      ca.URL,
				Options:  ca.Options,
				CACert:   bytesOrNil(ca.CACert),
			})
		}
		spec.CAConfig.ExternalCAs = cas
	}
	if s.TaskDefaults.LogDriver != nil {
		spec.TaskDefaults.LogDriver = driverToGRPC(s.TaskDefaults.LogDriver)
	}
	spec.EncryptionConfig.AutoLockManagers = s.EncryptionConfig.AutoLockManagers
	return spec, nil
}
