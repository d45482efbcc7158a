package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/berth-project/berth/internal/testenv"
)

// webCmd runs busybox httpd serving "hello from NAME" on port 80.
func webCmd(name string) []string {
	return []string{"sh", "-c", "mkdir -p /www && echo hello from " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"}
}

func waitHTTP(t *testing.T, url, want string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		body, err := testenv.HTTPGet(url)
		if err == nil && strings.Contains(body, want) {
			return
		}
		last = fmt.Sprint(body, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: want %q, last got %s", url, want, last)
}

func TestPublishedPorts(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	hostIP := testenv.HostIP(t)
	port := testenv.FreePort(t)

	d.MustDocker(append([]string{"run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), "busybox"}, webCmd("web")...)...)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "hello from web")
	waitHTTP(t, fmt.Sprintf("http://%s:%d/", hostIP, port), "hello from web")
	if hostHasIPv6() {
		waitHTTP(t, fmt.Sprintf("http://[::1]:%d/", port), "hello from web")
	}
	if out := d.MustDocker("port", "web"); !strings.Contains(out, fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port)) {
		t.Errorf("docker port web = %q", out)
	}
	if out := d.MustDocker("ps", "--format", "{{.Ports}}", "--filter", "name=web"); !strings.Contains(out, fmt.Sprintf("0.0.0.0:%d->80/tcp", port)) {
		t.Errorf("ps PORTS = %q", out)
	}
	// Hairpin: a container reaches a published port through the host's address.
	if out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", fmt.Sprintf("echo 'GET / HTTP/1.0' | nc -w 3 %s %d", hostIP, port)); !strings.Contains(out, "hello from web") {
		t.Errorf("hairpin through %s:%d: %q", hostIP, port, out)
	}

	// A taken port: a clear error, and the container is not left half-wired.
	r := d.Docker("run", "-d", "--name", "clash", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "100")
	if r.Code == 0 || !strings.Contains(r.Stderr, "port is already allocated") {
		t.Fatalf("second -p %d: %s", port, r)
	}
	if st := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "clash")); st != "false 128" {
		t.Errorf("clash state = %q", st)
	}
	if n := testenv.NFTRuleCount(t, "berth-"+d.Bridge, "ports"); n != 1 {
		t.Errorf("ports chain has %d rules after a failed start, want 1", n)
	}
	// A port used by another process is refused the same way.
	busy, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	if r := d.Docker("run", "--rm", "-p", fmt.Sprintf("%d:80", bp), "busybox", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "failed") {
		t.Errorf("-p on a port another process holds: %s", r)
	}

	// -P publishes EXPOSEd ports on random host ports; 127.0.0.1 bindings
	// only answer there; udp too.
	d.MustDocker(append([]string{"run", "-d", "--name", "pall", "--expose", "80", "-P", "busybox"}, webCmd("pall")...)...)
	out := strings.TrimSpace(d.MustDocker("port", "pall", "80"))
	_, hp, ok := strings.Cut(strings.Split(out, "\n")[0], "0.0.0.0:")
	if !ok {
		t.Fatalf("docker port pall 80 = %q", out)
	}
	if n, _ := strconv.Atoi(hp); n < 1024 {
		t.Fatalf("-P gave host port %q", hp)
	}
	waitHTTP(t, "http://127.0.0.1:"+hp+"/", "hello from pall")

	lport := testenv.FreePort(t)
	d.MustDocker(append([]string{"run", "-d", "--name", "local", "-p", fmt.Sprintf("127.0.0.1:%d:80", lport), "busybox"}, webCmd("local")...)...)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", lport), "hello from local")
	if _, err := testenv.HTTPGet(fmt.Sprintf("http://%s:%d/", hostIP, lport)); err == nil {
		t.Errorf("a 127.0.0.1 binding answered on %s", hostIP)
	}

	uport := testenv.FreePort(t)
	// busybox has no UDP server to answer through the port: check the
	// binding (the DNAT rule is the same code as TCP's).
	d.MustDocker("run", "-d", "--name", "udp", "-p", fmt.Sprintf("%d:9999/udp", uport), "busybox", "sleep", "1000")
	if out := d.MustDocker("port", "udp"); !strings.Contains(out, fmt.Sprintf("9999/udp -> 0.0.0.0:%d", uport)) {
		t.Errorf("docker port udp = %q", out)
	}
	if c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", uport)); err == nil {
		c.Close()
		t.Errorf("udp port %d is not held", uport)
	}

	// Stopping the container frees the port and removes the rule.
	d.MustDocker("rm", "-f", "web")
	if n := testenv.NFTRuleCount(t, "berth-"+d.Bridge, "ports"); n != 3 {
		t.Errorf("ports chain has %d rules, want 3 (pall, local, udp)", n)
	}
	d.MustDocker("start", "clash")
}

func TestPublishedPortSurvivesDaemonKill(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	port := testenv.FreePort(t)
	d.MustDocker(append([]string{"run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), "busybox"}, webCmd("web")...)...)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitHTTP(t, url, "hello from web")
	d.Kill9()
	waitHTTP(t, url, "hello from web") // the kernel keeps forwarding
	d.Restart()
	waitHTTP(t, url, "hello from web")
	if hostHasIPv6() {
		waitHTTP(t, fmt.Sprintf("http://[::1]:%d/", port), "hello from web")
	}
	table := "berth-" + d.Bridge
	if n := testenv.NFTRuleCount(t, table, "ports"); n != 1 {
		t.Errorf("after restart the ports chain has %d rules, want 1", n)
	}
	if n := testenv.NFTRuleCount(t, table, "prerouting"); n != 1 {
		t.Errorf("after restart prerouting has %d rules, want 1", n)
	}
	// The port is held again: another container cannot take it.
	if r := d.Docker("run", "--rm", "-p", fmt.Sprintf("%d:80", port), "busybox", "true"); r.Code == 0 {
		t.Errorf("port %d taken twice after restart", port)
	}
	// A container that died while the daemon was away loses its network.
	d.MustDocker("run", "-d", "--name", "gone", "busybox", "sleep", "1000")
	pid := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.State.Pid}}", "gone"))
	veth := vethOf(t, d, "gone")
	d.Kill9()
	_ = exec.Command("kill", "-9", pid).Run()
	d.Restart()
	testenv.Eventually(t, 5*time.Second, "stale veth removal", func() bool {
		return exec.Command("ip", "link", "show", veth).Run() != nil
	})
}

// vethOf finds the host side of a running container's eth0.
func vethOf(t *testing.T, d *testenv.Daemon, name string) string {
	t.Helper()
	idx := strings.TrimSpace(d.MustDocker("exec", name, "cat", "/sys/class/net/eth0/iflink"))
	out, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 1 && strings.TrimSuffix(f[0], ":") == idx {
			n, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			return n
		}
	}
	t.Fatalf("no host link with index %s", idx)
	return ""
}

func TestUserNetworksDNSAndIsolation(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")

	id := strings.TrimSpace(d.MustDocker("network", "create", "--label", "app=demo", "webnet"))
	if len(id) != 64 {
		t.Fatalf("network create printed %q", id)
	}
	if r := d.Docker("network", "create", "webnet"); r.Code == 0 || !strings.Contains(r.Stderr, "already exists") {
		t.Errorf("duplicate network create: %s", r)
	}
	d.MustDocker("network", "create", "--subnet", "10.123.0.0/24", "--gateway", "10.123.0.254", "--ip-range", "10.123.0.128/25", "other")
	d.MustBerth("network", "create", "--internal", "sealed")
	if out := d.MustDocker("network", "ls", "--filter", "label=app=demo", "--format", "{{.Name}}"); strings.TrimSpace(out) != "webnet" {
		t.Errorf("ls --filter label = %q", out)
	}

	brMAC := func() string {
		b, _ := os.ReadFile("/sys/class/net/br-" + id[:12] + "/address")
		return strings.TrimSpace(string(b))
	}
	macBefore := brMAC()
	d.MustDocker("run", "-d", "--name", "a", "--network", "webnet", "--network-alias", "alpha", "busybox", "sleep", "1000")
	d.MustDocker(append([]string{"run", "-d", "--name", "b", "--network", "webnet", "busybox"}, webCmd("b")...)...)
	for _, target := range []string{"a", "alpha"} {
		if r := d.Docker("exec", "b", "ping", "-c", "1", "-W", "2", target); r.Code != 0 {
			t.Errorf("ping %s from b: %s", target, r)
		}
	}
	aID := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.Id}}", "a"))
	if r := d.Docker("exec", "b", "nslookup", aID[:12]); r.Code != 0 || !strings.Contains(r.Stdout, "Address") {
		t.Errorf("short ID lookup: %s", r)
	}
	if out := d.MustDocker("exec", "a", "wget", "-q", "-O-", "http://b/"); !strings.Contains(out, "hello from b") {
		t.Errorf("wget http://b/ from a = %q", out)
	}
	if r := d.Docker("exec", "a", "nslookup", "nosuchname.invalid"); r.Code == 0 {
		t.Errorf("nosuchname resolved: %s", r)
	}

	// Another network: a static address in its range, no route to webnet.
	d.MustDocker("run", "-d", "--name", "c", "--network", "other", "--ip", "10.123.0.200", "busybox", "sleep", "1000")
	if ip := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.Networks.other.IPAddress}}", "c")); ip != "10.123.0.200" {
		t.Errorf("static ip = %q", ip)
	}
	bIP := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.Networks.webnet.IPAddress}}", "b"))
	if r := d.Docker("exec", "c", "ping", "-c", "1", "-W", "1", bIP); r.Code == 0 {
		t.Errorf("c on another network reached b (%s)", bIP)
	}
	if r := d.Docker("exec", "c", "nslookup", "b"); r.Code == 0 {
		t.Errorf("c resolved b across networks: %s", r)
	}
	if r := d.Docker("run", "--rm", "--network", "other", "--ip", "10.123.0.200", "busybox", "true"); r.Code == 0 {
		t.Errorf("the same static address twice: %s", r)
	}
	if r := d.Docker("run", "--rm", "--ip", "172.17.9.9", "busybox", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "user configured subnets") {
		t.Errorf("--ip on the default bridge: %s", r)
	}

	// connect / disconnect a running container.
	d.MustDocker("network", "connect", "--alias", "cee", "webnet", "c")
	if m := brMAC(); m == "" || m != macBefore {
		t.Errorf("the bridge's MAC changed from %q to %q as containers joined", macBefore, m)
	}
	// At once: the bridge keeps its MAC when a port is added, so the
	// containers' ARP entry for the gateway (their DNS server) stays right.
	if r := d.Docker("exec", "b", "ping", "-c", "1", "-W", "2", "cee"); r.Code != 0 {
		t.Errorf("ping cee after connect: %s", r)
	}
	// c's resolver (on other's gateway) now answers for webnet's names too,
	// as Docker's does for all of a container's networks.
	if r := d.Docker("exec", "c", "nslookup", "b"); r.Code != 0 || !strings.Contains(r.Stdout, bIP) {
		t.Errorf("c resolving b on its second network: %s", r)
	}
	var insp []struct {
		Containers map[string]struct{ Name, IPv4Address string }
	}
	if err := json.Unmarshal([]byte(d.MustDocker("network", "inspect", "webnet")), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	if len(insp[0].Containers) != 3 {
		t.Errorf("webnet has %d containers, want 3: %+v", len(insp[0].Containers), insp[0].Containers)
	}
	d.MustDocker("network", "disconnect", "webnet", "c")
	if r := d.Docker("exec", "b", "ping", "-c", "1", "-W", "1", "cee"); r.Code == 0 {
		t.Errorf("cee still reachable after disconnect")
	}
	if r := d.Docker("exec", "c", "nslookup", "b"); r.Code == 0 {
		t.Errorf("c still resolves b after leaving webnet: %s", r)
	}

	// A default-bridge container connected to a user network: its
	// resolv.conf now names that network's resolver, /etc/hosts its new
	// address, and it resolves names there.
	d.MustDocker("run", "-d", "--name", "plain", "busybox", "sleep", "1000")
	d.MustDocker("network", "connect", "webnet", "plain")
	plainIP := strings.TrimSpace(d.MustDocker("inspect", "-f", "{{.NetworkSettings.Networks.webnet.IPAddress}}", "plain"))
	if hosts := d.MustDocker("exec", "plain", "cat", "/etc/hosts"); !strings.Contains(hosts, plainIP) {
		t.Errorf("/etc/hosts after connect lacks %s:\n%s", plainIP, hosts)
	}
	if r := d.Docker("exec", "plain", "nslookup", "b"); r.Code != 0 || !strings.Contains(r.Stdout, bIP) {
		t.Errorf("a default-bridge container connected to webnet resolving b: %s", r)
	}
	d.MustDocker("rm", "-f", "plain")

	// --internal: names work inside, nothing leaves.
	d.MustDocker("run", "-d", "--name", "s1", "--network", "sealed", "busybox", "sleep", "1000")
	if r := d.Docker("run", "--rm", "--network", "sealed", "busybox", "ping", "-c", "1", "-W", "2", "s1"); r.Code != 0 {
		t.Errorf("ping inside an internal network: %s", r)
	}
	o := testenv.NewOutside(t, 31)
	if r := d.Docker("run", "--rm", "--network", "sealed", "busybox", "ping", "-c", "1", "-W", "1", o.IP); r.Code == 0 {
		t.Errorf("an internal network reached %s", o.IP)
	}

	if r := d.Docker("network", "rm", "webnet"); r.Code == 0 || !strings.Contains(r.Stderr, "active endpoints") {
		t.Errorf("rm of a network in use: %s", r)
	}
	if r := d.Docker("network", "rm", "bridge"); r.Code == 0 || !strings.Contains(r.Stderr, "pre-defined") {
		t.Errorf("rm bridge: %s", r)
	}
	d.MustDocker("rm", "-f", "a", "b", "c", "s1")
	if out := d.MustDocker("network", "prune", "-f"); !strings.Contains(out, "webnet") || !strings.Contains(out, "sealed") {
		t.Errorf("network prune = %q", out)
	}
	if out := d.MustDocker("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "webnet") {
		t.Errorf("webnet still listed after prune:\n%s", out)
	}
}

func TestEgressIsMasqueraded(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	o := testenv.NewOutside(t, 32)
	l := o.Listen(t)
	port := l.Addr().(*net.TCPAddr).Port
	seen := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			seen <- host
			// Read the request first: closing with unread data resets the
			// connection before the client sees the answer.
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || strings.TrimSpace(line) == "" {
					break
				}
			}
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\nyou are %s\n", host)
			c.Close()
		}
	}()
	for _, net := range []string{"", "egress"} {
		args := []string{"run", "--rm"}
		if net != "" {
			d.MustDocker("network", "create", net)
			args = append(args, "--network", net)
		}
		args = append(args, "busybox", "wget", "-q", "-O-", fmt.Sprintf("http://%s:%d/", o.IP, port))
		out := d.MustDocker(args...)
		if !strings.Contains(out, "you are "+o.HostIP) {
			t.Errorf("network %q: outside answered %q, want the host's %s", net, out, o.HostIP)
		}
		select {
		case from := <-seen:
			if from != o.HostIP {
				t.Errorf("outside saw %s, want %s", from, o.HostIP)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("outside saw no connection")
		}
	}
	d.MustDocker("network", "rm", "egress")

	// A build's RUN steps have the same egress (RUN apt-get … works).
	ctxDir := t.TempDir()
	df := fmt.Sprintf("FROM busybox\nRUN wget -q -O /got http://%s:%d/\n", o.IP, port)
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("build", "-q", "-t", "egress-build", ctxDir)
	<-seen
	if out := d.MustDocker("run", "--rm", "egress-build", "cat", "/got"); !strings.Contains(out, "you are "+o.HostIP) {
		t.Errorf("RUN wget in a build got %q", out)
	}

	// DNS: names the network does not know are forwarded, to the
	// container's --dns servers when it has them.
	ns := startOutsideDNS(t, o, "outside.test.", "10.99.0.7")
	d.MustDocker("network", "create", "dnsnet")
	out := d.MustDocker("run", "--rm", "--network", "dnsnet", "--dns", o.IP, "busybox", "sh", "-c", "cat /etc/resolv.conf; nslookup outside.test")
	if !strings.Contains(out, "10.99.0.7") {
		t.Errorf("forwarded lookup of outside.test:\n%s", out)
	}
	if strings.Contains(out, "nameserver "+o.IP) {
		t.Errorf("--dns on a user network should stay behind the embedded resolver:\n%s", out)
	}
	ns.Shutdown()
	d.MustDocker("network", "rm", "dnsnet")
}

// startOutsideDNS serves one A record on the outside namespace's port 53.
func startOutsideDNS(t *testing.T, o *testenv.Outside, name, ip string) *dns.Server {
	t.Helper()
	pc := o.ListenPacket(t, "udp4", o.IP+":53")
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		switch {
		case len(q.Question) != 1 || q.Question[0].Name != name:
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return srv
}

// TestDaemonsStartingTogether: daemons started at the same moment still
// get different subnets (the host-wide network lock).
func TestDaemonsStartingTogether(t *testing.T) {
	ds := make([]*testenv.Daemon, 3)
	var wg sync.WaitGroup
	for i := range ds {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ds[i] = testenv.StartDaemon(t)
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, d := range ds {
		if d == nil {
			t.Fatal("a daemon did not start")
		}
		sub := strings.TrimSpace(d.MustDocker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "bridge"))
		if seen[sub] {
			t.Errorf("two daemons chose %s", sub)
		}
		seen[sub] = true
	}
}

func TestTwoDaemonsCoexist(t *testing.T) {
	d1 := testenv.StartDaemon(t)
	d2 := testenv.StartDaemon(t)
	for _, d := range []*testenv.Daemon{d1, d2} {
		d.ImportBusybox("busybox")
		d.MustDocker("network", "create", "shared-name")
	}
	p1, p2 := testenv.FreePort(t), testenv.FreePort(t)
	d1.MustDocker(append([]string{"run", "-d", "--name", "w", "--network", "shared-name", "-p", fmt.Sprintf("%d:80", p1), "busybox"}, webCmd("one")...)...)
	d2.MustDocker(append([]string{"run", "-d", "--name", "w", "--network", "shared-name", "-p", fmt.Sprintf("%d:80", p2), "busybox"}, webCmd("two")...)...)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p1), "hello from one")
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p2), "hello from two")
	s1 := strings.TrimSpace(d1.MustDocker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "shared-name"))
	s2 := strings.TrimSpace(d2.MustDocker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "shared-name"))
	if s1 == s2 {
		t.Errorf("both daemons' networks use %s", s1)
	}
	// A port one daemon holds is refused by the other.
	if r := d2.Docker("run", "--rm", "-p", fmt.Sprintf("%d:80", p1), "busybox", "true"); r.Code == 0 {
		t.Errorf("daemon 2 published daemon 1's port")
	}
	// Stopping one daemon leaves the other's networking alone.
	d1.MustDocker("rm", "-f", "w")
	d1.MustDocker("network", "rm", "shared-name")
	d1.Stop()
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p2), "hello from two")
	if out := d2.MustDocker("run", "--rm", "--network", "shared-name", "busybox", "wget", "-q", "-O-", "http://w/"); !strings.Contains(out, "hello from two") {
		t.Errorf("daemon 2 DNS after daemon 1 stopped: %q", out)
	}
}

func TestNetworkDockerPy(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	port := testenv.FreePort(t)
	script := fmt.Sprintf(`
import docker
c = docker.DockerClient(base_url=%q)
n = c.networks.create("pynet", driver="bridge", labels={"k": "v"})
web = c.containers.run("busybox", ["sh", "-c", "mkdir /www; echo hi-py > /www/index.html; exec httpd -f -p 80 -h /www"],
                       detach=True, name="pyweb", network="pynet", ports={"80/tcp": %d})
web.reload()
print("ip", web.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"])
print("ports", web.ports)
out = c.containers.run("busybox", ["wget", "-q", "-O-", "http://pyweb/"], network="pynet", remove=True)
print("body", out.decode().strip())
n.reload()
print("members", len(n.containers))
web.remove(force=True)
n.remove()
`, d.Host(), port)
	r := d.Run(nil, 60*time.Second, "python3", "-c", script)
	if r.Code != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	for _, want := range []string{"ip 172.", fmt.Sprintf("'HostPort': '%d'", port), "body hi-py", "members 1"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("docker-py output lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func hostHasIPv6() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// udpEcho is a tiny UDP echo server, built by the test into an image:
// busybox has no UDP server to answer through a published port.
const udpEcho = `package main

import "net"

func main() {
	c, err := net.ListenPacket("udp4", ":9999")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo(append([]byte("echo "), buf[:n]...), from)
	}
}
`

func TestPublishedUDP(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(udpEcho), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "udpecho"), filepath.Join(dir, "main.go"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build udpecho: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY udpecho /udpecho\nCMD [\"/udpecho\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("build", "-q", "-t", "udpecho", dir)
	port := testenv.FreePort(t)
	d.MustDocker("run", "-d", "--name", "echo", "-p", fmt.Sprintf("%d:9999/udp", port), "udpecho")
	for _, host := range []string{"127.0.0.1", testenv.HostIP(t)} {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		testenv.Eventually(t, 10*time.Second, "udp echo through "+addr, func() bool {
			c, err := net.Dial("udp4", addr)
			if err != nil {
				return false
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := c.Write([]byte("ping")); err != nil {
				return false
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			return err == nil && string(buf[:n]) == "echo ping"
		})
	}
}
