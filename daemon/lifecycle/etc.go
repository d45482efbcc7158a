package lifecycle

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/daemon/container"
	bnet "github.com/berth-project/berth/daemon/network"
)

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory and returns them for bind mounting.
func (m *Manager) writeEtcFiles(c *container.Container, sb *bnet.Sandbox) (map[string]string, error) {
	c.Lock()
	cfg, hc, root := c.Config, c.HostConfig, c.Root
	c.Unlock()
	files := map[string]string{}
	write := func(name, ctrPath, content string) error {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		files[ctrPath] = p
		return nil
	}
	if hc.NetworkMode.IsHost() {
		files["/etc/hosts"] = "/etc/hosts"
		files["/etc/resolv.conf"] = "/etc/resolv.conf"
		if err := write("hostname", "/etc/hostname", cfg.Hostname+"\n"); err != nil {
			return nil, err
		}
		return files, nil
	}
	if err := write("hostname", "/etc/hostname", cfg.Hostname+"\n"); err != nil {
		return nil, err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	hosts.WriteString("fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if sb != nil {
		hosts.WriteString(sb.HostsEntries(cfg.Hostname))
	}
	for _, h := range hc.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, ok = strings.Cut(h, "=")
		}
		if ok && ip == "host-gateway" {
			// As Docker: the host as seen from the container's network.
			ip = ""
			if sb != nil && len(sb.Endpoints) > 0 {
				ip = sb.Endpoints[0].Gateway.String()
			}
		}
		if ok && ip != "" {
			fmt.Fprintf(&hosts, "%s\t%s\n", strings.Trim(ip, "[]"), name)
		}
	}
	if err := write("hosts", "/etc/hosts", hosts.String()); err != nil {
		return nil, err
	}
	var embedded netip.Addr
	if sb != nil && len(sb.Endpoints) > 0 {
		// The first network with an embedded resolver: it answers for
		// all of the container's networks.
		for _, ep := range sb.Endpoints {
			if embedded = m.net.Nameserver(ep.NetworkID); embedded.IsValid() {
				break
			}
		}
		if !embedded.IsValid() && !hostHasReachableResolver() {
			// The host's resolvers are on loopback, out of a container's
			// reach: the default bridge's gateway forwards to them.
			embedded = m.net.DefaultGateway()
		}
	}
	if err := write("resolv.conf", "/etc/resolv.conf", resolvConf(embedded, hc.DNS, hc.DNSSearch, hc.DNSOptions)); err != nil {
		return nil, err
	}
	return files, nil
}

// hostHasReachableResolver reports whether the host's resolv.conf names a
// resolver that is not on loopback.
func hostHasReachableResolver() bool {
	host, _ := os.ReadFile("/etc/resolv.conf")
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && !strings.HasPrefix(f[1], "127.") && f[1] != "::1" {
			return true
		}
	}
	return false
}

// resolvConf builds a container's resolv.conf. With an embedded resolver
// (user-defined networks) it is the only nameserver, and the container's
// --dns servers become its upstreams; otherwise the host's resolv.conf is
// used, without the loopback resolvers a container cannot reach, as
// Docker does.
func resolvConf(embedded netip.Addr, dns []netip.Addr, search, options []string) string {
	var b strings.Builder
	if embedded.IsValid() {
		fmt.Fprintf(&b, "nameserver %s\n", embedded)
		if len(search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
		}
		if len(options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
		}
		if len(search) == 0 && len(options) == 0 {
			host, _ := os.ReadFile("/etc/resolv.conf")
			for _, line := range strings.Split(string(host), "\n") {
				f := strings.Fields(line)
				if len(f) > 0 && (f[0] == "search" || f[0] == "options") {
					b.WriteString(line + "\n")
				}
			}
		}
		return b.String()
	}
	if len(dns) > 0 || len(search) > 0 || len(options) > 0 {
		for _, s := range dns {
			fmt.Fprintf(&b, "nameserver %s\n", s.String())
		}
		if len(search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
		}
		if len(options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
		}
		if len(dns) > 0 {
			return b.String()
		}
	}
	host, _ := os.ReadFile("/etc/resolv.conf")
	servers := 0
	for _, line := range strings.Split(string(host), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if strings.HasPrefix(fields[1], "127.") || fields[1] == "::1" {
				continue
			}
			servers++
		}
		if len(fields) > 0 && (fields[0] == "search" || fields[0] == "options") && (len(search) > 0 || len(options) > 0) {
			continue
		}
		if line != "" {
			b.WriteString(line + "\n")
		}
	}
	if servers == 0 {
		b.WriteString("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
	}
	return b.String()
}

// RefreshEtcFiles rewrites a running container's /etc/hosts and
// /etc/resolv.conf after it joined or left a network (`network connect`,
// `disconnect`): its new addresses appear in /etc/hosts and, when it had
// no embedded resolver before (the default bridge), resolv.conf names the
// new network's. The files are rewritten in place, so the container's bind
// mounts see them at once.
func (m *Manager) RefreshEtcFiles(ctx context.Context, name string) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return nil // gone meanwhile (a forced disconnect of a removed one): nothing to refresh
	}
	c.Lock()
	running, host := c.State.Running, c.HostConfig.NetworkMode.IsHost()
	c.Unlock()
	if !running || host {
		return nil
	}
	if _, err := m.writeEtcFiles(c, m.net.Sandbox(c.ID)); err != nil {
		return fmt.Errorf("refresh /etc files of %s: %w", c.ID[:12], err)
	}
	return nil
}
