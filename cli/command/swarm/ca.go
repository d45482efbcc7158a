package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/cli/command"
)

// caOptions are the flags of `berth swarm ca`.
type caOptions struct {
	certExpiry            time.Duration
	externalCAs           externalCAList
	caCert, caKey         pemFile
	rotate, detach, quiet bool
}

// rotationPoll is how often a root rotation's progress is read.
const rotationPoll = 200 * time.Millisecond

func newCACommand(cli *command.Cli) *cobra.Command {
	var o caOptions
	cmd := command.NewCommand("ca [OPTIONS]", "Display and rotate the root CA", command.NoArgs, nil)
	cmd.RunE = cli.WithAPI(func(ctx context.Context, api client.APIClient, _ []string) error {
		return runCA(ctx, api, cli.Out, cmd.Flags(), &o, func(ctx context.Context) error {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt)
			defer signal.Stop(sig)
			out := cli.Out
			if o.quiet {
				out = io.Discard
			}
			r := &rootRotation{api: api, out: newRotationDisplay(out), interval: rotationPoll, signals: sig}
			return r.run(ctx)
		})
	})
	fs := cmd.Flags()
	fs.DurationVar(&o.certExpiry, "cert-expiry", 90*24*time.Hour, "Validity period for node certificates (ns|us|ms|s|m|h)")
	fs.Var(&o.externalCAs, "external-ca", "Specifications of one or more certificate signing endpoints")
	fs.BoolVar(&o.rotate, "rotate", false, "Rotate the swarm CA - if no certificate or key are provided, new ones will be generated")
	fs.Var(&o.caCert, "ca-cert", "Path to the PEM-formatted root CA certificate to use for the new cluster")
	fs.Var(&o.caKey, "ca-key", "Path to the PEM-formatted root CA key to use for the new cluster")
	fs.BoolVarP(&o.detach, "detach", "d", false, "Exit immediately instead of waiting for the root rotation to converge")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output")
	return cmd
}

// runCA prints the swarm's root CA certificate or, with --rotate, starts
// a root rotation, waits for it (with wait) unless detached and prints
// the new root unless quiet, as docker's `swarm ca` does.
func runCA(ctx context.Context, api client.APIClient, out io.Writer, fs *pflag.FlagSet, o *caOptions, wait func(context.Context) error) error {
	sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	if !o.rotate {
		for _, f := range []string{"ca-cert", "ca-key", "cert-expiry", "external-ca"} {
			if fs.Changed(f) {
				return fmt.Errorf("`--%s` flag requires the `--rotate` flag to update the CA", f)
			}
		}
		return printTrustRoot(out, sw.Swarm)
	}
	if fs.Changed("external-ca") && len(o.externalCAs.values) > 0 && !fs.Changed("ca-cert") {
		return errors.New("rotating to an external CA requires the `--ca-cert` flag to specify the external CA's cert - " +
			"to add an external CA with the current root CA certificate, use the `update` command instead")
	}
	if fs.Changed("ca-cert") && len(o.externalCAs.values) == 0 && !fs.Changed("ca-key") {
		return errors.New("the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well")
	}
	o.mergeRotation(&sw.Swarm.Spec, fs)
	if _, err := api.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: sw.Swarm.Version, Spec: sw.Swarm.Spec}); err != nil {
		return err
	}
	if o.detach {
		return nil
	}
	if err := wait(ctx); err != nil {
		return err
	}
	if o.quiet {
		return nil
	}
	sw, err = api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	return printTrustRoot(out, sw.Swarm)
}

// mergeRotation sets in spec the root rotation the flags ask for: the
// given certificate and key (an external CA without a certificate of its
// own gets the given one), or, with neither, a new root SwarmKit makes
// (ForceRotate bumped).
func (o *caOptions) mergeRotation(spec *swarmtypes.Spec, fs *pflag.FlagSet) {
	if fs.Changed("cert-expiry") {
		spec.CAConfig.NodeCertExpiry = o.certExpiry
	}
	if fs.Changed("external-ca") {
		spec.CAConfig.ExternalCAs = o.externalCAs.values
		for _, ca := range spec.CAConfig.ExternalCAs {
			if ca.CACert == "" {
				ca.CACert = o.caCert.contents
			}
		}
	}
	spec.CAConfig.SigningCACert = o.caCert.contents
	spec.CAConfig.SigningCAKey = o.caKey.contents
	if o.caCert.contents == "" && o.caKey.contents == "" {
		spec.CAConfig.ForceRotate++
	}
}

// printTrustRoot prints the swarm's root CA certificate.
func printTrustRoot(out io.Writer, sw swarmtypes.Swarm) error {
	root := strings.TrimSpace(sw.TLSInfo.TrustRoot)
	if root == "" {
		return errors.New("No CA information available")
	}
	_, err := fmt.Fprintln(out, root)
	return err
}

// pemFile is a --ca-cert or --ca-key value: a path whose contents must
// be PEM.
type pemFile struct{ path, contents string }

func (p *pemFile) String() string { return p.path }

// Type names the value in help, as docker does.
func (p *pemFile) Type() string { return "pem-file" }

// Set reads the file at path and checks it holds PEM.
func (p *pemFile) Set(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if block, _ := pem.Decode(data); block == nil {
		return errors.New("file contents must be in PEM format")
	}
	p.path, p.contents = path, string(data)
	return nil
}

// externalCAList is --external-ca, repeatable:
// "protocol=cfssl,url=https://…[,cacert=FILE][,OPTION=VALUE…]".
type externalCAList struct{ values []*swarmtypes.ExternalCA }

func (l *externalCAList) String() string {
	s := make([]string, 0, len(l.values))
	for _, ca := range l.values {
		s = append(s, fmt.Sprintf("%s: %s", ca.Protocol, ca.URL))
	}
	return strings.Join(s, ", ")
}

// Type names the value in help, as docker does.
func (l *externalCAList) Type() string { return "external-ca" }

// Set parses one external CA and adds it.
func (l *externalCAList) Set(value string) error {
	ca, err := parseExternalCA(value)
	if err != nil {
		return err
	}
	l.values = append(l.values, ca)
	return nil
}

// parseExternalCA parses an --external-ca value (CSV of key=value), in
// docker's words when it is wrong. Keys are case-insensitive; keys other
// than protocol, url and cacert are the CA's options.
func parseExternalCA(value string) (*swarmtypes.ExternalCA, error) {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return nil, err
	}
	ca := &swarmtypes.ExternalCA{Options: map[string]string{}}
	var haveProtocol, haveURL bool
	for _, field := range fields {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(k) {
		case "protocol":
			if !strings.EqualFold(v, string(swarmtypes.ExternalCAProtocolCFSSL)) {
				return nil, fmt.Errorf("unrecognized external CA protocol %s", v)
			}
			haveProtocol = true
			ca.Protocol = swarmtypes.ExternalCAProtocolCFSSL
		case "url":
			haveURL = true
			ca.URL = v
		case "cacert":
			data, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("unable to read CA cert for external CA: %w", err)
			}
			if block, _ := pem.Decode(data); block == nil {
				return nil, errors.New("CA cert for external CA must be in PEM format")
			}
			ca.CACert = string(data)
		default:
			ca.Options[k] = v
		}
	}
	if !haveProtocol {
		return nil, errors.New("the external-ca option needs a protocol= parameter")
	}
	if !haveURL {
		return nil, errors.New("the external-ca option needs a url= parameter")
	}
	return ca, nil
}

// The lines of a root rotation's progress, in docker's words; the CA
// line's status is one space, so that its bar lines up with the TLS one.
const (
	digestLine = "desired root digest"
	certsLine  = "  rotated TLS certificates"
	rootsLine  = "  rotated CA certificates"
	certsState = ""
	rootsState = " "
)

// rootRotation follows a root CA rotation until every node has a TLS
// certificate issued by the new root and trusts it, drawing docker's
// progress.
type rootRotation struct {
	api      client.APIClient
	out      *rotationDisplay
	interval time.Duration
	signals  <-chan os.Signal
}

// run polls the swarm and its nodes until the rotation is done. An
// interrupt stops the wait (the rotation goes on) without failing.
func (r *rootRotation) run(ctx context.Context) error {
	defer r.out.flush()
	r.out.set(digestLine, "", 0, 0)
	r.out.set(certsLine, certsState, 0, 0)
	r.out.set(rootsLine, rootsState, 0, 0)
	for {
		sw, err := r.api.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return err
		}
		nodes, err := r.api.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return err
		}
		if r.update(sw.Swarm.ClusterInfo, nodes.Items) {
			return nil
		}
		t := time.NewTimer(r.interval)
		select {
		case <-t.C:
		case <-r.signals:
			t.Stop()
			r.out.message("Operation continuing in background.")
			r.out.message("Use `swarmctl cluster inspect default` to check progress.")
			return nil
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// update draws how many nodes have a certificate from the desired root
// and how many trust it, and says whether all do with no rotation left.
// Until every certificate is reissued the trust count shows zero.
func (r *rootRotation) update(info swarmtypes.ClusterInfo, nodes []swarmtypes.Node) bool {
	want := info.TLSInfo
	sum := sha256.Sum256([]byte(want.TrustRoot))
	r.out.set(digestLine, "sha256:"+hex.EncodeToString(sum[:]), 0, 0)
	var certs, roots int64
	for _, n := range nodes {
		have := n.Description.TLSInfo
		if string(have.CertIssuerPublicKey) == string(want.CertIssuerPublicKey) && string(have.CertIssuerSubject) == string(want.CertIssuerSubject) {
			certs++
		}
		if have.TrustRoot == want.TrustRoot {
			roots++
		}
	}
	total := int64(len(nodes))
	r.out.set(certsLine, certsState, certs, total)
	if certs != total || info.RootRotationInProgress {
		r.out.set(rootsLine, rootsState, 0, total)
		return false
	}
	r.out.set(rootsLine, rootsState, roots, total)
	return roots == total
}

// rotationDisplay is the CA rotation progress block (command.LineBlock).
type rotationDisplay struct{ *command.LineBlock }

func newRotationDisplay(out io.Writer) *rotationDisplay {
	return &rotationDisplay{command.NewLineBlock(out, "\x1b[%dA\x1b[2K\r%s\r\x1b[%dB", false)}
}

// progress is docker's "[==>   ] 2/3 nodes" for current of total nodes;
// the bar only on a line wider than 110 columns.
func (d *rotationDisplay) progress(current, total int64) string {
	if current <= 0 && total <= 0 {
		return ""
	}
	if total <= 0 || current > total {
		return fmt.Sprintf("%d nodes", current)
	}
	var bar string
	if d.Width > 110 {
		bar = command.ProgressBar(current, total)
	}
	return bar + fmt.Sprintf("%d/%d nodes", current, total)
}

// set shows status and progress on id's line.
func (d *rotationDisplay) set(id, status string, current, total int64) {
	d.Set(id, id+": "+status+" "+d.progress(current, total))
}

func (d *rotationDisplay) message(text string) { d.Message(text) }

func (d *rotationDisplay) flush() { d.Flush() }
