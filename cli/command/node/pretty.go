package node

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	units "github.com/docker/go-units"
	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/cli/command/task"
)

// Pretty is `node inspect --pretty`: the node in docker's human-readable
// layout (tab-aligned as docker's, without a tab writer), ending in a
// blank line's newline.
func Pretty(n swarmtypes.Node) string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("ID:\t\t\t%s", n.ID)
	if n.Spec.Name != "" {
		line("Name:\t\t\t%s", n.Spec.Name)
	}
	if len(n.Spec.Labels) > 0 {
		line("Labels:")
		writeLabels(&b, n.Spec.Labels)
	}
	line("Hostname:              \t%s", n.Description.Hostname)
	line("Joined at:             \t%s", task.PrettyPrint(n.CreatedAt.String()))
	line("Status:")
	line(" State:\t\t\t%s", task.PrettyPrint(string(n.Status.State)))
	if n.Status.Message != "" {
		line(" Message:              \t%s", task.PrettyPrint(n.Status.Message))
	}
	line(" Availability:         \t%s", task.PrettyPrint(string(n.Spec.Availability)))
	if n.Status.Addr != "" {
		line(" Address:\t\t%s", n.Status.Addr)
	}
	if m := n.ManagerStatus; m != nil {
		line("Manager Status:")
		line(" Address:\t\t%s", m.Addr)
		line(" Raft Status:\t\t%s", task.PrettyPrint(string(m.Reachability)))
		if m.Leader {
			line(" Leader:\t\tYes")
		} else {
			line(" Leader:\t\tNo")
		}
	}
	line("Platform:")
	line(" Operating System:\t%s", n.Description.Platform.OS)
	line(" Architecture:\t\t%s", n.Description.Platform.Architecture)
	line("Resources:")
	line(" CPUs:\t\t\t%d", n.Description.Resources.NanoCPUs/1e9)
	mem := ""
	if m := n.Description.Resources.MemoryBytes; m != 0 {
		mem = units.BytesSize(float64(m))
	}
	line(" Memory:\t\t%s", mem)
	if plugins := n.Description.Engine.Plugins; len(plugins) > 0 {
		line("Plugins:")
		byType := map[string][]string{}
		for _, p := range plugins {
			byType[p.Type] = append(byType[p.Type], p.Name)
		}
		for _, typ := range slices.Sorted(maps.Keys(byType)) {
			if names := strings.Join(byType[typ], ", "); names != "" {
				line(" %s:\t\t%s", typ, names)
			} else {
				line(" %s:", typ)
			}
		}
	}
	b.WriteString("Engine Version:\t\t" + n.Description.Engine.EngineVersion)
	if len(n.Description.Engine.Labels) > 0 {
		b.WriteString("\nEngine Labels:\n")
		writeLabels(&b, n.Description.Engine.Labels)
		trimNewline(&b)
	}
	if t := n.Description.TLSInfo; !tlsEmpty(t) {
		fmt.Fprintf(&b, "\nTLS Info:\n TrustRoot:\n%s\n Issuer Subject:\t%s\n Issuer Public Key:\t%s",
			t.TrustRoot, base64.StdEncoding.EncodeToString(t.CertIssuerSubject), base64.StdEncoding.EncodeToString(t.CertIssuerPublicKey))
	}
	b.WriteString("\n")
	return b.String()
}

// writeLabels writes " - k=v" lines (" - k" for an empty value), sorted.
func writeLabels(b *strings.Builder, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if v := labels[k]; v != "" {
			fmt.Fprintf(b, " - %s=%s\n", k, v)
		} else {
			fmt.Fprintf(b, " - %s\n", k)
		}
	}
}

func trimNewline(b *strings.Builder) {
	s := strings.TrimSuffix(b.String(), "\n")
	b.Reset()
	b.WriteString(s)
}
