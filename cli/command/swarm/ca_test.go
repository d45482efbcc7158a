package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/internal/apitest"
)

const (
	oldRoot = "-----BEGIN CERTIFICATE-----\nb2xk\n-----END CERTIFICATE-----\n"
	newRoot = "-----BEGIN CERTIFICATE-----\nbmV3\n-----END CERTIFICATE-----\n"
)

// tlsInfo is a swarm's or a node's TLS info: root trusted, certificate
// issued by issuer.
func tlsInfo(root, issuer string) swarmtypes.TLSInfo {
	return swarmtypes.TLSInfo{TrustRoot: root, CertIssuerSubject: []byte("CN=" + issuer), CertIssuerPublicKey: []byte("key-" + issuer)}
}

// swarmAt is GET /swarm: trusting root, issuing from issuer, rotating or not.
func swarmAt(root, issuer string, rotating bool) swarmtypes.Swarm {
	var sw swarmtypes.Swarm
	sw.Version.Index = 7
	sw.Spec.Name = "default"
	sw.Spec.CAConfig.ForceRotate = 2
	sw.TLSInfo = tlsInfo(root, issuer)
	sw.RootRotationInProgress = rotating
	return sw
}

// nodesAt are GET /nodes: one node per TLS info.
func nodesAt(infos ...swarmtypes.TLSInfo) []swarmtypes.Node {
	nodes := make([]swarmtypes.Node, len(infos))
	for i, info := range infos {
		nodes[i].ID = "n" + string(rune('1'+i))
		nodes[i].Description.TLSInfo = info
	}
	return nodes
}

// steps answers each call with the next of its values (the last one then
// on).
func steps(values ...any) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v := values[min(i, len(values)-1)]
		i++
		mu.Unlock()
		apitest.JSON(v)(w, r)
	}
}

// writeFiles writes name → contents in a temporary directory and returns
// the paths by name.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestCARefusals(t *testing.T) {
	f := writeFiles(t, map[string]string{"ca.pem": newRoot, "key.pem": "-----BEGIN EC PRIVATE KEY-----\na2V5\n-----END EC PRIVATE KEY-----\n"})
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"cert-expiry without rotate", []string{"--cert-expiry", "48h"}, "`--cert-expiry` flag requires the `--rotate` flag to update the CA"},
		{"ca-cert without rotate", []string{"--ca-cert", f["ca.pem"]}, "`--ca-cert` flag requires the `--rotate` flag to update the CA"},
		{"ca-key without rotate", []string{"--ca-key", f["key.pem"]}, "`--ca-key` flag requires the `--rotate` flag to update the CA"},
		{"external-ca without rotate", []string{"--external-ca", "protocol=cfssl,url=https://ca"}, "`--external-ca` flag requires the `--rotate` flag to update the CA"},
		{"external CA without its cert", []string{"--rotate", "--external-ca", "protocol=cfssl,url=https://ca"},
			"rotating to an external CA requires the `--ca-cert` flag to specify the external CA's cert - to add an external CA with the current root CA certificate, use the `update` command instead"},
		{"cert without key", []string{"--rotate", "--ca-cert", f["ca.pem"]}, "the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well"},
		{"missing file", []string{"--rotate", "--ca-cert", f["key.pem"] + ".none"}, "open " + f["key.pem"] + ".none: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, out, _ := apitest.New(t, "", swarmRoutes(map[string]http.HandlerFunc{"GET /swarm": apitest.JSON(swarmAt(oldRoot, "old", false))}))
			err := run(t, c, append([]string{"swarm", "ca"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if _, updated := s.Find("POST /swarm/update"); updated || out.Len() != 0 {
				t.Errorf("updated %t, printed %q", updated, out.String())
			}
		})
	}
}

func TestCADisplay(t *testing.T) {
	_, c, out, _ := apitest.New(t, "", swarmRoutes(map[string]http.HandlerFunc{"GET /swarm": apitest.JSON(swarmAt(oldRoot+"\n\n", "old", false))}))
	// -q and -d mean nothing without --rotate.
	if err := run(t, c, "swarm", "ca", "-q", "-d"); err != nil {
		t.Fatal(err)
	}
	if out.String() != oldRoot {
		t.Errorf("printed %q, want %q", out.String(), oldRoot)
	}

	_, c, _, _ = apitest.New(t, "", swarmRoutes(map[string]http.HandlerFunc{"GET /swarm": apitest.JSON(swarmtypes.Swarm{})}))
	if err := run(t, c, "swarm", "ca"); err == nil || err.Error() != "No CA information available" {
		t.Errorf("no trust root: %v", err)
	}
}

// TestCARotateRequest checks the update each way of rotating sends.
func TestCARotateRequest(t *testing.T) {
	f := writeFiles(t, map[string]string{"ca.pem": newRoot, "key.pem": "-----BEGIN EC PRIVATE KEY-----\na2V5\n-----END EC PRIVATE KEY-----\n", "ext.pem": oldRoot})
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, ca swarmtypes.CAConfig)
	}{
		{"new root from SwarmKit", nil, func(t *testing.T, ca swarmtypes.CAConfig) {
			if ca.ForceRotate != 3 || ca.SigningCACert != "" || ca.SigningCAKey != "" || ca.ExternalCAs != nil {
				t.Errorf("CAConfig = %+v", ca)
			}
		}},
		{"given root and key", []string{"--ca-cert", f["ca.pem"], "--ca-key", f["key.pem"], "--cert-expiry", "48h"}, func(t *testing.T, ca swarmtypes.CAConfig) {
			if ca.ForceRotate != 2 || ca.SigningCACert != newRoot || !strings.Contains(ca.SigningCAKey, "EC PRIVATE KEY") || ca.NodeCertExpiry != 48*3600e9 {
				t.Errorf("CAConfig = %+v", ca)
			}
		}},
		{"external CAs", []string{"--ca-cert", f["ca.pem"], "--external-ca", "protocol=cfssl,url=https://a", "--external-ca", "protocol=CFSSL,url=https://b,cacert=" + f["ext.pem"] + ",Token=x"},
			func(t *testing.T, ca swarmtypes.CAConfig) {
				if ca.ForceRotate != 2 || ca.SigningCACert != newRoot || ca.SigningCAKey != "" || len(ca.ExternalCAs) != 2 {
					t.Fatalf("CAConfig = %+v", ca)
				}
				a, b := ca.ExternalCAs[0], ca.ExternalCAs[1]
				// An external CA without a cacert is the new root's.
				if a.Protocol != "cfssl" || a.URL != "https://a" || a.CACert != newRoot {
					t.Errorf("first external CA %+v", a)
				}
				if b.Protocol != "cfssl" || b.URL != "https://b" || b.CACert != oldRoot || b.Options["Token"] != "x" {
					t.Errorf("second external CA %+v", b)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, out, _ := apitest.New(t, "", swarmRoutes(map[string]http.HandlerFunc{"GET /swarm": apitest.JSON(swarmAt(oldRoot, "old", false))}))
			if err := run(t, c, append([]string{"swarm", "ca", "--rotate", "-d"}, tt.args...)...); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Errorf("-d printed %q", out.String())
			}
			req, ok := s.Find("POST /swarm/update")
			if !ok {
				t.Fatal("no update sent")
			}
			if !strings.Contains(req.Query, "version=7") || !strings.Contains(req.Query, "rotateWorkerToken=false") {
				t.Errorf("update query %s", req.Query)
			}
			var spec swarmtypes.Spec
			if err := json.Unmarshal(req.Body, &spec); err != nil {
				t.Fatal(err)
			}
			if spec.Name != "default" {
				t.Errorf("spec not sent back whole: %s", req.Body)
			}
			tt.check(t, spec.CAConfig)
			if _, listed := s.Find("GET /nodes"); listed {
				t.Error("-d waited for the rotation")
			}
		})
	}
}

func TestCARotateWaits(t *testing.T) {
	routes := func() map[string]http.HandlerFunc {
		return swarmRoutes(map[string]http.HandlerFunc{
			"GET /swarm": steps(swarmAt(oldRoot, "old", false), swarmAt(newRoot, "new", false)),
			"GET /nodes": apitest.JSON(nodesAt(tlsInfo(newRoot, "new"), tlsInfo(newRoot, "new"))),
		})
	}
	s, c, out, _ := apitest.New(t, "", routes())
	if err := run(t, c, "swarm", "ca", "--rotate"); err != nil {
		t.Fatal(err)
	}
	bar := "[" + strings.Repeat("=", 50) + ">] "
	want := "desired root digest: " + digestOf(newRoot) + "\n" +
		"  rotated TLS certificates:  " + bar + "2/2 nodes\n" +
		"  rotated CA certificates:   " + bar + "2/2 nodes\n" +
		newRoot
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	if _, ok := s.Find("POST /swarm/update"); !ok {
		t.Error("no update sent")
	}

	s, c, out, _ = apitest.New(t, "", routes())
	if err := run(t, c, "swarm", "ca", "--rotate", "-q"); err != nil || out.Len() != 0 {
		t.Errorf("-q: %v, printed %q", err, out.String())
	}
	if _, ok := s.Find("GET /nodes"); !ok {
		t.Error("-q did not wait for the rotation")
	}
}

// digestOf is the digest line's value for a swarm trusting root.
func digestOf(root string) string {
	d := newRotationDisplay(&bytes.Buffer{})
	d.set(digestLine, "", 0, 0)
	r := &rootRotation{out: d}
	r.update(swarmtypes.ClusterInfo{TLSInfo: tlsInfo(root, "x")}, nil)
	return strings.TrimSpace(strings.TrimPrefix(d.Line(digestLine), digestLine+":"))
}

func TestDigestLine(t *testing.T) {
	// The trust root's sha256, as `printf %s "$root" | sha256sum` says.
	if got := digestOf("abc"); got != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("digest of abc = %s", got)
	}
}

// TestRootRotationProgress follows a rotation on three nodes: certificates
// reissued one by one while the root rotates, then the roots trusted.
func TestRootRotationProgress(t *testing.T) {
	oldI, newI := tlsInfo(oldRoot, "old"), tlsInfo(oldRoot, "new")
	done := tlsInfo(newRoot, "new")
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /swarm": steps(swarmAt(oldRoot, "new", true), swarmAt(oldRoot, "new", true), swarmAt(newRoot, "new", false), swarmAt(newRoot, "new", false)),
		"GET /nodes": steps(nodesAt(oldI, oldI, oldI), nodesAt(newI, newI, oldI), nodesAt(done, newI, newI), nodesAt(done, done, done)),
	})
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d := newRotationDisplay(&out)
	d.TTY, d.Width = true, 80 // a narrow terminal: counts, no bars
	r := &rootRotation{api: api, out: d}
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// The block is drawn in place: three lines, each redrawn by moving up.
	for _, want := range []string{
		"\n\x1b[1A\x1b[2K\rdesired root digest:  \r\x1b[1B",
		"\n\x1b[1A\x1b[2K\r  rotated TLS certificates:  \r\x1b[1B",
		"\n\x1b[1A\x1b[2K\r  rotated CA certificates:   \r\x1b[1B",
		"\x1b[2A\x1b[2K\r  rotated TLS certificates:  0/3 nodes\r\x1b[2B",
		"\x1b[2A\x1b[2K\r  rotated TLS certificates:  2/3 nodes\r\x1b[2B",
		// Certificates all reissued, one node trusting the new root.
		"\x1b[1A\x1b[2K\r  rotated CA certificates:   1/3 nodes\r\x1b[1B",
		"\x1b[3A\x1b[2K\rdesired root digest: " + digestOf(newRoot) + " \r\x1b[3B",
		"\x1b[1A\x1b[2K\r  rotated CA certificates:   3/3 nodes\r\x1b[1B",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	// While certificates are reissued no root counts as rotated.
	if strings.Contains(got, "rotated CA certificates:   2/3") {
		t.Errorf("roots counted before the certificates: %q", got)
	}
	if strings.Count(got, "\n") != 3 {
		t.Errorf("%d new lines, want 3: %q", strings.Count(got, "\n"), got)
	}
}

func TestRootRotationInterrupted(t *testing.T) {
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /swarm": apitest.JSON(swarmAt(oldRoot, "new", true)),
		"GET /nodes": apitest.JSON(nodesAt(tlsInfo(oldRoot, "old"))),
	})
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	sig <- os.Interrupt
	var out bytes.Buffer
	r := &rootRotation{api: api, out: newRotationDisplay(&out), interval: 1e9 * 60, signals: sig}
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	bar := func(n int) string { return "[>" + strings.Repeat(" ", n) + "] " }
	want := "desired root digest: " + digestOf(oldRoot) + "\n" +
		"  rotated TLS certificates:  " + bar(50) + "0/1 nodes\n" +
		"  rotated CA certificates:   " + bar(50) + "0/1 nodes\n" +
		"Operation continuing in background.\n" +
		"Use `swarmctl cluster inspect default` to check progress.\n"
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestRootRotationFails(t *testing.T) {
	_, c, _, _ := apitest.New(t, "", map[string]http.HandlerFunc{
		"GET /swarm": apitest.JSON(swarmAt(oldRoot, "new", true)),
		"GET /nodes": apitest.Error(http.StatusServiceUnavailable, "This node is not a swarm manager."),
	})
	api, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &rootRotation{api: api, out: newRotationDisplay(&out)}
	if err := r.run(context.Background()); err == nil || !strings.Contains(err.Error(), "This node is not a swarm manager.") {
		t.Errorf("err = %v", err)
	}
}

func TestRotationProgressText(t *testing.T) {
	tests := []struct {
		width          int
		current, total int64
		want           string
	}{
		{200, 0, 0, ""},
		{200, 0, 4, "[>" + strings.Repeat(" ", 50) + "] 0/4 nodes"},
		{200, 1, 4, "[============>" + strings.Repeat(" ", 38) + "] 1/4 nodes"},
		{200, 4, 4, "[" + strings.Repeat("=", 50) + ">] 4/4 nodes"},
		{200, 5, 4, "5 nodes"},
		{200, 3, 0, "3 nodes"},
		{110, 1, 4, "1/4 nodes"},
	}
	for _, tt := range tests {
		d := &rotationDisplay{&command.LineBlock{Width: tt.width}}
		if got := d.progress(tt.current, tt.total); got != tt.want {
			t.Errorf("progress(%d, %d) at %d columns = %q, want %q", tt.current, tt.total, tt.width, got, tt.want)
		}
	}
}

func TestParseExternalCA(t *testing.T) {
	f := writeFiles(t, map[string]string{"ca.pem": oldRoot, "bad.pem": "not pem"})
	tests := []struct {
		in   string
		want swarmtypes.ExternalCA
		err  string
	}{
		{in: "protocol=cfssl,url=https://ca", want: swarmtypes.ExternalCA{Protocol: "cfssl", URL: "https://ca", Options: map[string]string{}}},
		{in: "PROTOCOL=CFSSL,URL=https://ca,cacert=" + f["ca.pem"] + ",profile=x", want: swarmtypes.ExternalCA{Protocol: "cfssl", URL: "https://ca", CACert: oldRoot, Options: map[string]string{"profile": "x"}}},
		{in: `"url=https://a,b",protocol=cfssl`, want: swarmtypes.ExternalCA{Protocol: "cfssl", URL: "https://a,b", Options: map[string]string{}}},
		{in: "protocol=acme,url=https://ca", err: "unrecognized external CA protocol acme"},
		{in: "protocol=cfssl,url", err: "invalid field 'url' must be a key=value pair"},
		{in: "url=https://ca", err: "the external-ca option needs a protocol= parameter"},
		{in: "protocol=cfssl", err: "the external-ca option needs a url= parameter"},
		{in: "protocol=cfssl,url=u,cacert=" + f["bad.pem"], err: "CA cert for external CA must be in PEM format"},
		{in: "protocol=cfssl,url=u,cacert=/nonexistent", err: "unable to read CA cert for external CA: open /nonexistent: no such file or directory"},
	}
	for _, tt := range tests {
		got, err := parseExternalCA(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseExternalCA(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseExternalCA(%q): %v", tt.in, err)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("parseExternalCA(%q) = %s, want %s", tt.in, gj, wj)
		}
	}
	var l externalCAList
	_ = l.Set("protocol=cfssl,url=https://a")
	_ = l.Set("protocol=cfssl,url=https://b")
	if l.String() != "cfssl: https://a, cfssl: https://b" || l.Type() != "external-ca" {
		t.Errorf("list %q %q", l.String(), l.Type())
	}
}

func TestPEMFile(t *testing.T) {
	f := writeFiles(t, map[string]string{"ca.pem": oldRoot, "bad": "hello"})
	var p pemFile
	if err := p.Set(f["bad"]); err == nil || err.Error() != "file contents must be in PEM format" {
		t.Errorf("not PEM: %v", err)
	}
	if err := p.Set(f["ca.pem"]); err != nil || p.contents != oldRoot || p.String() != f["ca.pem"] || p.Type() != "pem-file" {
		t.Errorf("PEM: %v %+v", err, p)
	}
}
