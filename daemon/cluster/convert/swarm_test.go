package convert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"testing"
	"time"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// testCA returns a self-signed CA certificate in PEM and parsed.
func testCA(t *testing.T, cn string) ([]byte, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert
}

func richSwarmSpec() swarm.Spec {
	return swarm.Spec{
		Annotations:   swarm.Annotations{Name: "default", Labels: map[string]string{"a": "b"}},
		Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr[int64](7)},
		Raft: swarm.RaftConfig{
			SnapshotInterval:           20000,
			KeepOldSnapshots:           ptr[uint64](2),
			LogEntriesForSlowFollowers: 600,
			ElectionTick:               12,
			HeartbeatTick:              2,
		},
		Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: 7 * time.Second},
		CAConfig: swarm.CAConfig{
			NodeCertExpiry: 48 * time.Hour,
			ExternalCAs: []*swarm.ExternalCA{
				{Protocol: swarm.ExternalCAProtocolCFSSL, URL: "https://ca.example", Options: map[string]string{"o": "1"}, CACert: "PEM"},
			},
			ForceRotate: 3,
		},
		TaskDefaults:     swarm.TaskDefaults{LogDriver: &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "1m"}}},
		EncryptionConfig: swarm.EncryptionConfig{AutoLockManagers: true},
	}
}

func TestSwarmSpecRoundTrip(t *testing.T) {
	zero := swarm.Spec{
		Annotations:   swarm.Annotations{Labels: map[string]string{}},
		Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr[int64](0)},
		Raft:          swarm.RaftConfig{KeepOldSnapshots: ptr[uint64](0)},
	}
	for name, in := range map[string]swarm.Spec{"rich": richSwarmSpec(), "zero": zero} {
		t.Run(name, func(t *testing.T) {
			g, err := SwarmSpecToGRPC(in)
			if err != nil {
				t.Fatal(err)
			}
			got := SwarmFromGRPC(&swarmapi.Cluster{Spec: g}).Spec
			if d := diff(in, got); d != "" {
				t.Errorf("round trip mismatch (-in +out):\n%s", d)
			}
		})
	}
}

func TestSwarmFromGRPC(t *testing.T) {
	if got := SwarmFromGRPC(nil); !cmp.Equal(got, swarm.Swarm{}) {
		t.Errorf("SwarmFromGRPC(nil) = %+v", got)
	}
	rootPEM, root := testCA(t, "root")
	nextPEM, next := testCA(t, "next")
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	spec, err := SwarmSpecToGRPC(richSwarmSpec())
	if err != nil {
		t.Fatal(err)
	}
	spec.CAConfig.SigningCACert = []byte("signing cert")
	spec.CAConfig.SigningCAKey = []byte("signing key")
	c := &swarmapi.Cluster{
		ID:   "cid",
		Meta: swarmapi.Meta{Version: swarmapi.Version{Index: 9}, CreatedAt: ts(t, created), UpdatedAt: ts(t, created.Add(time.Minute))},
		Spec: spec,
		RootCA: swarmapi.RootCA{
			CACert:     rootPEM,
			JoinTokens: swarmapi.JoinTokens{Worker: "SWMTKN-w", Manager: "SWMTKN-m"},
		},
		DefaultAddressPool: []string{"10.10.0.0/16", "bogus", "fd00::/48"},
		SubnetSize:         26,
		VXLANUDPPort:       4790,
	}
	want := swarm.Swarm{
		ClusterInfo: swarm.ClusterInfo{
			ID:   "cid",
			Meta: swarm.Meta{Version: swarm.Version{Index: 9}, CreatedAt: created, UpdatedAt: created.Add(time.Minute)},
			Spec: richSwarmSpec(),
			TLSInfo: swarm.TLSInfo{
				TrustRoot:           string(rootPEM),
				CertIssuerSubject:   root.RawSubject,
				CertIssuerPublicKey: root.RawSubjectPublicKeyInfo,
			},
			DefaultAddrPool: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("fd00::/48")},
			SubnetSize:      26,
			DataPathPort:    4790,
		},
		JoinTokens: swarm.JoinTokens{Worker: "SWMTKN-w", Manager: "SWMTKN-m"},
	}
	if d := diff(want, SwarmFromGRPC(c)); d != "" {
		t.Errorf("SwarmFromGRPC mismatch (-want +got):\n%s", d)
	}

	// During a root rotation the issuer is the new root.
	c.RootCA.RootRotation = &swarmapi.RootRotation{CACert: nextPEM}
	got := SwarmFromGRPC(c)
	if !got.RootRotationInProgress {
		t.Error("RootRotationInProgress = false during a rotation")
	}
	if !cmp.Equal(got.TLSInfo.CertIssuerSubject, next.RawSubject) || got.TLSInfo.TrustRoot != string(rootPEM) {
		t.Errorf("TLSInfo during rotation = %+v", got.TLSInfo)
	}

	// A root CA that does not parse leaves the issuer empty.
	c.RootCA = swarmapi.RootCA{CACert: []byte("not a certificate")}
	if got := SwarmFromGRPC(c).TLSInfo; got.CertIssuerSubject != nil || got.TrustRoot != "not a certificate" {
		t.Errorf("TLSInfo with a bad root = %+v", got)
	}
}

func TestMergeSwarmSpecToGRPC(t *testing.T) {
	base := swarmapi.ClusterSpec{
		Annotations:   swarmapi.Annotations{Name: "default", Labels: map[string]string{"keep": "1"}},
		Orchestration: swarmapi.OrchestrationConfig{TaskHistoryRetentionLimit: 5},
		Raft: swarmapi.RaftConfig{
			SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500,
			HeartbeatTick: 1, ElectionTick: 10,
		},
		Dispatcher: swarmapi.DispatcherConfig{HeartbeatPeriod: gogotypes.DurationProto(5 * time.Second)},
		CAConfig: swarmapi.CAConfig{
			NodeCertExpiry: gogotypes.DurationProto(90 * 24 * time.Hour),
			ExternalCAs:    []*swarmapi.ExternalCA{{URL: "https://old"}},
			ForceRotate:    4,
		},
		TaskDefaults:     swarmapi.TaskDefaults{LogDriver: &swarmapi.Driver{Name: "journald"}},
		EncryptionConfig: swarmapi.EncryptionConfig{AutoLockManagers: true},
	}

	// An empty spec keeps everything but the always-copied fields.
	got, err := MergeSwarmSpecToGRPC(swarm.Spec{}, base)
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.CAConfig.ForceRotate = 0
	want.EncryptionConfig.AutoLockManagers = false
	if d := diff(want, got); d != "" {
		t.Errorf("merge of empty spec (-want +got):\n%s", d)
	}

	// Set fields override, including explicit zeros behind pointers.
	got, err = MergeSwarmSpecToGRPC(swarm.Spec{
		Annotations:   swarm.Annotations{Labels: map[string]string{"new": "2"}},
		Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr[int64](0)},
		Raft:          swarm.RaftConfig{ElectionTick: 20, KeepOldSnapshots: ptr[uint64](3)},
		Dispatcher:    swarm.DispatcherConfig{HeartbeatPeriod: time.Second},
		CAConfig: swarm.CAConfig{
			SigningCACert: "cert", SigningCAKey: "key", ForceRotate: 5,
			ExternalCAs: []*swarm.ExternalCA{{Protocol: "CFSSL", URL: "https://new"}},
		},
	}, base)
	if err != nil {
		t.Fatal(err)
	}
	want = base
	want.Annotations.Labels = map[string]string{"new": "2"}
	want.Orchestration.TaskHistoryRetentionLimit = 0
	want.Raft.ElectionTick = 20
	want.Raft.KeepOldSnapshots = 3
	want.Dispatcher.HeartbeatPeriod = gogotypes.DurationProto(time.Second)
	want.CAConfig = swarmapi.CAConfig{
		NodeCertExpiry: base.CAConfig.NodeCertExpiry,
		SigningCACert:  []byte("cert"),
		SigningCAKey:   []byte("key"),
		ForceRotate:    5,
		ExternalCAs:    []*swarmapi.ExternalCA{{Protocol: swarmapi.ExternalCA_CAProtocolCFSSL, URL: "https://new"}},
	}
	want.EncryptionConfig.AutoLockManagers = false
	if d := diff(want, got); d != "" {
		t.Errorf("merge (-want +got):\n%s", d)
	}

	_, err = MergeSwarmSpecToGRPC(swarm.Spec{CAConfig: swarm.CAConfig{
		ExternalCAs: []*swarm.ExternalCA{{Protocol: "acme", URL: "https://x"}},
	}}, base)
	wantInvalid(t, err, `invalid protocol: "acme"`)
}
