// Package imageshare lets the nodes of a multi-host swarm give each other
// images no registry has: every node serves its images (GET
// /images/<id>, a `docker save` tar of the image with that ID) over
// mutual TLS with the swarm's own node certificates, and a node whose
// task needs an image it lacks fetches it from the others, loads it and
// keeps it only if its ID is the one asked for. The archive is checked
// while it streams: its config must hash to the ID, it may name no tags,
// and it holds regular files only.
package imageshare

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/moby/swarmkit/v2/ca"
)

// DefaultPort is where a node serves its images, beside SwarmKit's 2377.
const DefaultPort = 2378

// Identity is this node's TLS identity in its swarm.
type Identity struct {
	Cert  tls.Certificate
	Roots *x509.CertPool // the swarm's root CA(s)
	Org   string         // the cluster's organisation (its ID)
}

// IdentitySource gives the node's current identity (certificates rotate:
// it is asked again for every connection).
type IdentitySource func() (*Identity, error)

// LoadIdentity reads SwarmKit's node certificate, key and root CA from
// certDir (<state>/certificates); kek decrypts the key of an autolocked
// manager (nil otherwise).
func LoadIdentity(certDir string, kek []byte) (*Identity, error) {
	paths := ca.NewConfigPaths(certDir)
	certPEM, keyPEM, err := ca.NewKeyReadWriter(paths.Node, kek, nil).Read()
	if err != nil {
		return nil, fmt.Errorf("read swarm node certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("swarm node certificate: %w", err)
	}
	roots, err := ca.GetLocalRootCA(paths.RootCA)
	if err != nil {
		return nil, fmt.Errorf("read swarm root CA: %w", err)
	}
	return NewIdentity(cert, roots.Pool)
}

// NewIdentity is the identity of a node with certificate cert (a swarm
// node certificate: organisation and role) under the given roots.
func NewIdentity(cert tls.Certificate, roots *x509.CertPool) (*Identity, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("swarm node certificate: empty")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("swarm node certificate: %w", err)
	}
	if len(leaf.Subject.Organization) == 0 {
		return nil, errors.New("swarm node certificate: no organisation")
	}
	cert.Leaf = leaf
	return &Identity{Cert: cert, Roots: roots, Org: leaf.Subject.Organization[0]}, nil
}

// CertDir is where SwarmKit keeps a node's certificates in its state
// directory.
func CertDir(swarmkitState string) string { return filepath.Join(swarmkitState, "certificates") }

// checkPeer accepts a verified peer certificate only if it is a node of
// this swarm (manager or worker, of the same organisation) and, when
// node is given, that very node.
func checkPeer(id *Identity, node string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("peer sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		if !slices.Contains(leaf.Subject.Organization, id.Org) {
			return fmt.Errorf("peer %q is not a node of this swarm", leaf.Subject.CommonName)
		}
		if !slices.Contains(leaf.Subject.OrganizationalUnit, ca.ManagerRole) && !slices.Contains(leaf.Subject.OrganizationalUnit, ca.WorkerRole) {
			return fmt.Errorf("peer %q is not a swarm node", leaf.Subject.CommonName)
		}
		if node != "" && leaf.Subject.CommonName != node {
			return fmt.Errorf("peer is %q, not node %q", leaf.Subject.CommonName, node)
		}
		return nil
	}
}

func serverConfig(src IdentitySource) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			id, err := src()
			if err != nil {
				return nil, err
			}
			return &tls.Config{
				MinVersion:       tls.VersionTLS12,
				Certificates:     []tls.Certificate{id.Cert},
				ClientAuth:       tls.RequireAndVerifyClientCert,
				ClientCAs:        id.Roots,
				VerifyConnection: checkPeer(id, ""),
			}, nil
		},
	}
}

// clientConfig is for talking to node (its certificate names its node ID
// as a DNS name, which SwarmKit puts in every node certificate).
func clientConfig(id *Identity, node string) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		Certificates:     []tls.Certificate{id.Cert},
		RootCAs:          id.Roots,
		ServerName:       node,
		VerifyConnection: checkPeer(id, node),
	}
}
