package container

import (
	"bufio"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/portrange"
)

// parsePublish parses one -p/--publish value ("80", "4000:80",
// "127.0.0.1:4000:80/udp", "8000-8001:80-81", "[::1]:80:80") into the
// exposed ports and bindings it adds.
func parsePublish(spec string) (network.PortSet, network.PortMap, error) {
	if spec == "" {
		return nil, nil, fmt.Errorf("invalid publish spec: empty")
	}
	rest, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, nil, fmt.Errorf("invalid proto: %s", proto)
	}
	var ip, hostPort, ctrPort string
	// An IPv6 host address is bracketed.
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return nil, nil, fmt.Errorf("invalid ip address in %q", spec)
		}
		ip = rest[1:end]
		rest = strings.TrimPrefix(rest[end+1:], ":")
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return nil, nil, fmt.Errorf("invalid publish spec: %s", spec)
		}
		hostPort, ctrPort = parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPort = parts[0]
		case 2:
			hostPort, ctrPort = parts[0], parts[1]
		case 3:
			ip, hostPort, ctrPort = parts[0], parts[1], parts[2]
		default:
			return nil, nil, fmt.Errorf("invalid publish spec: %s", spec)
		}
	}
	var addr netip.Addr
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid ip address: %s", ip)
		}
		addr = a
	}
	if ctrPort == "" {
		return nil, nil, fmt.Errorf("no port specified: %s<empty>", spec)
	}
	cStart, cEnd, err := portrange.Parse(ctrPort)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid containerPort: %s", ctrPort)
	}
	var hStart, hEnd uint16
	if hostPort != "" {
		hStart, hEnd, err = portrange.Parse(hostPort)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		// A host range for a single container port means "any of these".
		if cEnd != cStart && hEnd-hStart != cEnd-cStart {
			return nil, nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPort, hostPort)
		}
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for i := uint32(0); i <= uint32(cEnd-cStart); i++ {
		p, err := network.ParsePort(fmt.Sprintf("%d/%s", uint32(cStart)+i, proto))
		if err != nil {
			return nil, nil, fmt.Errorf("invalid containerPort: %s", ctrPort)
		}
		hp := ""
		switch {
		case hostPort == "":
		case cEnd == cStart && hEnd != hStart:
			hp = fmt.Sprintf("%d-%d", hStart, hEnd)
		default:
			hp = strconv.Itoa(int(uint32(hStart) + i))
		}
		exposed[p] = struct{}{}
		bindings[p] = append(bindings[p], network.PortBinding{HostIP: addr, HostPort: hp})
	}
	return exposed, bindings, nil
}

// parseExpose parses --expose ("80", "80/udp", "8000-8010").
func parseExpose(spec string) ([]network.Port, error) {
	port, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, err := portrange.Parse(port)
	if err != nil {
		return nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", spec, err)
	}
	var out []network.Port
	for i := uint32(lo); i <= uint32(hi); i++ {
		p, err := network.ParsePort(fmt.Sprintf("%d/%s", i, proto))
		if err != nil {
			return nil, fmt.Errorf("invalid --expose %s: %w", spec, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseVolume parses -v: "/ctr" (anonymous volume), "name:/ctr",
// "/host:/ctr", with an optional ":ro"/":rw"/… mode. It returns either a
// bind string for HostConfig.Binds or an anonymous volume path.
func parseVolume(spec string) (bind string, anon string, err error) {
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		if !strings.HasPrefix(parts[0], "/") {
			return "", "", fmt.Errorf("invalid volume specification: '%s'", spec)
		}
		return "", parts[0], nil
	case 2, 3:
		src, dst := parts[0], parts[1]
		if src == "" || !strings.HasPrefix(dst, "/") {
			return "", "", fmt.Errorf("invalid volume specification: '%s'", spec)
		}
		if len(parts) == 3 {
			for _, m := range strings.Split(parts[2], ",") {
				switch m {
				case "ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave", "nocopy":
				default:
					return "", "", fmt.Errorf("invalid mode: %s", parts[2])
				}
			}
		}
		return spec, "", nil
	default:
		return "", "", fmt.Errorf("invalid volume specification: '%s'", spec)
	}
}

// parseMount parses --mount type=bind|volume|tmpfs,source=,target=,readonly.
func parseMount(spec string) (mount.Mount, error) {
	m := mount.Mount{Type: mount.TypeVolume}
	if spec == "" {
		return m, fmt.Errorf("invalid argument for --mount: empty")
	}
	for _, field := range strings.Split(spec, ",") {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		switch key {
		case "type":
			switch mount.Type(val) {
			case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
				m.Type = mount.Type(val)
			default:
				return m, fmt.Errorf("invalid value for 'type': %s", val)
			}
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if !hasVal {
				m.ReadOnly = true
				continue
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			m.ReadOnly = b
		case "bind-propagation":
			if m.BindOptions == nil {
				m.BindOptions = &mount.BindOptions{}
			}
			m.BindOptions.Propagation = mount.Propagation(val)
		case "volume-nocopy":
			if m.VolumeOptions == nil {
				m.VolumeOptions = &mount.VolumeOptions{}
			}
			m.VolumeOptions.NoCopy = !hasVal || val == "true" || val == "1"
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			if m.TmpfsOptions == nil {
				m.TmpfsOptions = &mount.TmpfsOptions{}
			}
			m.TmpfsOptions.SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			if m.TmpfsOptions == nil {
				m.TmpfsOptions = &mount.TmpfsOptions{}
			}
			m.TmpfsOptions.Mode = os.FileMode(n)
		case "consistency":
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Target == "" {
		return m, fmt.Errorf("target is required")
	}
	if m.Type == mount.TypeBind && m.Source == "" {
		return m, fmt.Errorf("source is required when specifying bind mounts")
	}
	if m.Type == mount.TypeTmpfs && m.Source != "" {
		return m, fmt.Errorf("source is not supported for tmpfs mounts")
	}
	return m, nil
}

// parseRestart parses --restart no|always|unless-stopped|on-failure[:N].
func parseRestart(s string) (containertypes.RestartPolicy, error) {
	var p containertypes.RestartPolicy
	if s == "" {
		return p, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	switch containertypes.RestartPolicyMode(name) {
	case containertypes.RestartPolicyDisabled, containertypes.RestartPolicyAlways, containertypes.RestartPolicyUnlessStopped:
		if hasCount {
			return p, fmt.Errorf("maximum retry count cannot be used with restart policy '%s'", name)
		}
	case containertypes.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy format: unknown policy '%s'", name)
	}
	p.Name = containertypes.RestartPolicyMode(name)
	return p, nil
}

// parseEnv expands one -e value: "K=V" as is, "K" from the local
// environment (dropped if unset, as docker does).
func parseEnv(s string, lookup func(string) (string, bool)) (string, bool) {
	if strings.Contains(s, "=") {
		return s, true
	}
	if v, ok := lookup(s); ok {
		return s + "=" + v, true
	}
	return "", false
}

// readEnvFile reads a docker --env-file: KEY=VALUE lines, # comments,
// bare KEY taken from the local environment.
func readEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, _ := strings.Cut(line, "=")
		if key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("invalid environment variable in %s line %d: %s", path, n, line)
		}
		if v, ok := parseEnv(line, lookup); ok {
			out = append(out, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// parseCPUs turns --cpus "1.5" into NanoCPUs.
func parseCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("failed to parse %v as a rational number", s)
	}
	n := r.Mul(r, big.NewRat(1e9, 1))
	if !n.IsInt() {
		return 0, fmt.Errorf("value is too precise")
	}
	return n.Num().Int64(), nil
}

// parseMemory parses -m/--memory-swap style sizes ("512m", "1g", "-1").
func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if s == "-1" {
		return -1, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, fmt.Errorf("invalid size: '%s'", s)
	}
	return n, nil
}

// parseUlimit parses --ulimit name=soft[:hard].
func parseUlimit(s string) (*containertypes.Ulimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	u, err := units.ParseUlimit(name + "=" + vals)
	if err != nil {
		return nil, err
	}
	return &containertypes.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}, nil
}

// parseTmpfs parses --tmpfs /path[:opts].
func parseTmpfs(s string) (string, string, error) {
	p, opts, _ := strings.Cut(s, ":")
	if !strings.HasPrefix(p, "/") {
		return "", "", fmt.Errorf("invalid tmpfs path %q: must be absolute", p)
	}
	return p, opts, nil
}
