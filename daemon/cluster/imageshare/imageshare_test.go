package imageshare

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

// testCA issues swarm-like node certificates: CN the node ID, OU its
// role, O the cluster.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "swarm-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) identity(t *testing.T, node, role, org string) *Identity {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: node, OrganizationalUnit: []string{role}, Organization: []string{org}},
		DNSNames:     []string{role, node},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca.pool)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func static(id *Identity) IdentitySource { return func() (*Identity, error) { return id, nil } }

// testImage is a `docker save` tar of a one-layer image, and its ID.
type testImage struct {
	id  digest.Digest
	tar []byte
}

type archiveOpts struct {
	configBytes []byte // override the config blob's content (tamper)
	tags        []string
	symlink     bool
}

func makeImage(t *testing.T, content string, o archiveOpts) testImage {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	_ = lw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	_, _ = lw.Write([]byte(content))
	_ = lw.Close()
	diffID := digest.FromBytes(layer.Bytes())
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}}})
	id := digest.FromBytes(cfg)
	if o.configBytes != nil {
		cfg = o.configBytes
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, b []byte) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(b)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(b)
	}
	add("blobs/sha256/"+id.Encoded(), cfg)
	add("blobs/sha256/"+diffID.Encoded(), layer.Bytes())
	if o.symlink {
		_ = tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + strings.Repeat("0", 64), Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	}
	add("index.json", []byte(`{"schemaVersion":2,"manifests":[]}`))
	m, _ := json.Marshal([]manifestEntry{{Config: "blobs/sha256/" + id.Encoded(), RepoTags: o.tags, Layers: []string{"blobs/sha256/" + diffID.Encoded()}}})
	add("manifest.json", m)
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	_ = tw.Close()
	return testImage{id: id, tar: out.Bytes()}
}

// fakeExporter serves a fixed archive for each ID it has.
type fakeExporter struct{ images map[string][]byte }

func (f *fakeExporter) ImageInspect(_ context.Context, name string) (*image.InspectResponse, error) {
	if _, ok := f.images[name]; !ok {
		return nil, errdefs.ErrNotFound
	}
	return &image.InspectResponse{ID: name}, nil
}

func (f *fakeExporter) ImageExport(_ context.Context, names []string, w io.Writer) error {
	_, err := w.Write(f.images[names[0]])
	return err
}

// fakeLoader reads an archive as the image store's load does
// (manifest.json, then its config) and reports the config's digest as
// the loaded ID, or lie instead.
type fakeLoader struct {
	mu      sync.Mutex
	loaded  []digest.Digest
	tags    []string
	files   []string
	deleted []string
	lie     digest.Digest
}

func (f *fakeLoader) ImageLoad(_ context.Context, r io.Reader, out func(string)) error {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		files[h.Name] = b
	}
	var m []manifestEntry
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		return fmt.Errorf("bad manifest: %v", err)
	}
	id := digest.FromBytes(files[m[0].Config])
	if f.lie != "" {
		id = f.lie
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for name := range files {
		f.files = append(f.files, name)
	}
	f.loaded = append(f.loaded, id)
	f.tags = append(f.tags, m[0].RepoTags...)
	out("Loaded image ID: " + id.String())
	return nil
}

func (f *fakeLoader) ImageDelete(_ context.Context, name string, _, _ bool) ([]image.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, name)
	return nil, nil
}

// serve starts an image server for node with the given archives by ID.
func serve(t *testing.T, id *Identity, images map[string][]byte) string {
	t.Helper()
	s, err := Listen("127.0.0.1:0", &fakeExporter{images: images}, static(id), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr()
}

func TestFetchOrderAndVerification(t *testing.T) {
	ca := newCA(t)
	good := makeImage(t, "good", archiveOpts{tags: []string{"web:latest"}})
	other := makeImage(t, "other", archiveOpts{})
	tampered := makeImage(t, "good", archiveOpts{configBytes: []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)})
	if tampered.id != good.id {
		t.Fatal("tampered archive should claim the good ID")
	}
	withLink := makeImage(t, "good", archiveOpts{symlink: true})
	peer := func(node string, images map[string][]byte) Peer {
		return Peer{Node: node, Addr: serve(t, ca.identity(t, node, "swarm-worker", "cluster1"), images)}
	}
	absent := peer("nodeabsent", nil)
	wrongImage := peer("nodewrong", map[string][]byte{good.id.String(): other.tar})
	badConfig := peer("nodetampered", map[string][]byte{good.id.String(): tampered.tar})
	link := peer("nodelink", map[string][]byte{good.id.String(): withLink.tar})
	honest := peer("nodehonest", map[string][]byte{good.id.String(): good.tar})
	self := ca.identity(t, "nodeself", "swarm-manager", "cluster1")

	t.Run("first honest peer after absent and tampered ones", func(t *testing.T) {
		ld := &fakeLoader{}
		f := NewFetcher(ld, static(self), nil)
		got, err := f.Fetch(context.Background(), good.id, []Peer{absent, wrongImage, badConfig, link, honest})
		if err != nil {
			t.Fatal(err)
		}
		if got.Node != "nodehonest" {
			t.Errorf("served by %s", got.Node)
		}
		if len(ld.loaded) != 1 || ld.loaded[0] != good.id {
			t.Errorf("loaded %v: the tampered archives must not reach the store", ld.loaded)
		}
		if len(ld.tags) != 0 {
			t.Errorf("a peer's tags reached the store: %v", ld.tags)
		}
		for _, name := range ld.files {
			if name == "index.json" {
				t.Errorf("index.json reached the store")
			}
		}
	})
	t.Run("tampered only", func(t *testing.T) {
		for _, p := range []Peer{wrongImage, badConfig, link} {
			ld := &fakeLoader{}
			_, err := NewFetcher(ld, static(self), nil).Fetch(context.Background(), good.id, []Peer{absent, p})
			if !errors.Is(err, ErrNotShared) || !strings.Contains(err.Error(), p.Node) {
				t.Errorf("%s: err %v", p.Node, err)
			}
			if len(ld.loaded) != 0 {
				t.Errorf("%s: loaded %v", p.Node, ld.loaded)
			}
		}
	})
	t.Run("a load that registers another ID is undone", func(t *testing.T) {
		ld := &fakeLoader{lie: other.id}
		_, err := NewFetcher(ld, static(self), nil).Fetch(context.Background(), good.id, []Peer{honest})
		if err == nil {
			t.Fatal("accepted an image with another ID")
		}
		if len(ld.deleted) != 1 || ld.deleted[0] != other.id.String() {
			t.Errorf("deleted %v", ld.deleted)
		}
	})
	t.Run("nobody has it", func(t *testing.T) {
		_, err := NewFetcher(&fakeLoader{}, static(self), nil).Fetch(context.Background(), good.id, []Peer{absent})
		if !errors.Is(err, ErrNotShared) {
			t.Errorf("err %v", err)
		}
	})
}

func TestOnlySwarmNodesTalk(t *testing.T) {
	ca, foreign := newCA(t), newCA(t)
	img := makeImage(t, "x", archiveOpts{})
	images := map[string][]byte{img.id.String(): img.tar}
	server := Peer{Node: "nodeserver", Addr: serve(t, ca.identity(t, "nodeserver", "swarm-worker", "cluster1"), images)}
	cases := []struct {
		name   string
		client *Identity
		peer   Peer
		ok     bool
	}{
		{"same swarm", ca.identity(t, "nodeclient", "swarm-worker", "cluster1"), server, true},
		{"another CA", foreign.identity(t, "nodeclient", "swarm-worker", "cluster1"), server, false},
		{"another cluster", ca.identity(t, "nodeclient", "swarm-worker", "cluster2"), server, false},
		{"not a node role", ca.identity(t, "nodeclient", "swarm-ca", "cluster1"), server, false},
		{"a different node than gossiped", ca.identity(t, "nodeclient", "swarm-worker", "cluster1"), Peer{Node: "nodeother", Addr: server.Addr}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ld := &fakeLoader{}
			_, err := NewFetcher(ld, static(tc.client), nil).Fetch(context.Background(), img.id, []Peer{tc.peer})
			if (err == nil) != tc.ok {
				t.Errorf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFetchOnceAtATime(t *testing.T) {
	ca := newCA(t)
	img := makeImage(t, "x", archiveOpts{})
	p := Peer{Node: "nodeserver", Addr: serve(t, ca.identity(t, "nodeserver", "swarm-worker", "c"), map[string][]byte{img.id.String(): img.tar})}
	ld := &fakeLoader{}
	f := NewFetcher(ld, static(ca.identity(t, "nodeclient", "swarm-worker", "c")), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Fetch(context.Background(), img.id, []Peer{p})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(ld.loaded) < 1 || len(ld.loaded) > 4 {
		t.Errorf("loaded %d times", len(ld.loaded))
	}
}

func TestHandler(t *testing.T) {
	img := makeImage(t, "x", archiveOpts{})
	h := Handler(&fakeExporter{images: map[string][]byte{img.id.String(): img.tar}}, nil)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/images/" + img.id.String(), 200},
		{"/images/sha256:" + strings.Repeat("a", 64), 404},
		{"/images/busybox", 400},
		{"/images/" + img.id.Encoded()[:12], 400},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, rec.Code, tc.code)
		}
		if tc.code == 200 && !bytes.Equal(rec.Body.Bytes(), img.tar) {
			t.Errorf("%s: body differs", tc.path)
		}
	}
}
