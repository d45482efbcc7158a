package service

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/berth-project/berth/internal/portrange"
)

// longSyntax tells docker's key=value,… form of --publish and --network
// from the short one.
var longSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

// csvFields splits a long-syntax value as docker does (CSV, so a field
// may be quoted).
func csvFields(s string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(s))
	return r.Read()
}

// parsePublish parses one --publish value: "published=8080,target=80,
// mode=host,protocol=udp" or the short "[HOST:]CONTAINER[/PROTO]" with
// port ranges ("8080-8081:80-81").
func parsePublish(s string) ([]swarmtypes.PortConfig, error) {
	if !longSyntax.MatchString(s) {
		return parseShortPublish(s)
	}
	fields, err := csvFields(s)
	if err != nil {
		return nil, err
	}
	var p swarmtypes.PortConfig
	for _, field := range fields {
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("invalid field: %s", field)
		}
		switch key {
		case "protocol":
			switch network.IPProtocol(val) {
			case network.TCP, network.UDP, network.SCTP:
			default:
				return nil, fmt.Errorf("invalid protocol value '%s'", val)
			}
			p.Protocol = network.IPProtocol(val)
		case "mode":
			switch swarmtypes.PortConfigPublishMode(val) {
			case swarmtypes.PortConfigPublishModeIngress, swarmtypes.PortConfigPublishModeHost:
			default:
				return nil, fmt.Errorf("invalid publish mode value (%s): must be either '%s' or '%s'", val, swarmtypes.PortConfigPublishModeIngress, swarmtypes.PortConfigPublishModeHost)
			}
			p.PublishMode = swarmtypes.PortConfigPublishMode(val)
		case "target", "published":
			n, err := strconv.ParseUint(val, 10, 16)
			if err != nil {
				var numErr *strconv.NumError
				if errors.As(err, &numErr) {
					err = numErr.Err
				}
				return nil, fmt.Errorf("invalid %s port (%s): value must be an integer: %w", key, val, err)
			}
			if key == "target" {
				p.TargetPort = uint32(n)
			} else {
				p.PublishedPort = uint32(n)
			}
		default:
			return nil, fmt.Errorf("invalid field key: %s", key)
		}
	}
	if p.TargetPort == 0 {
		return nil, fmt.Errorf("missing mandatory field '%s'", "target")
	}
	if p.PublishMode == "" {
		p.PublishMode = swarmtypes.PortConfigPublishModeIngress
	}
	if p.Protocol == "" {
		p.Protocol = network.TCP
	}
	return []swarmtypes.PortConfig{p}, nil
}

// parseShortPublish parses "[HOST:]CONTAINER[/PROTO]" (a host address is
// refused: services publish on every node). A host range for one
// container port publishes each port of the range.
func parseShortPublish(s string) ([]swarmtypes.PortConfig, error) {
	parts := strings.Split(s, ":")
	ctrPort := parts[len(parts)-1]
	var ip, hostPort string
	switch n := len(parts); n {
	case 1:
	case 2:
		hostPort = parts[0]
	default:
		ip, hostPort = strings.Join(parts[:n-2], ":"), parts[n-2]
	}
	ctrPort, proto, _ := strings.Cut(ctrPort, "/")
	if proto == "" {
		proto = "tcp"
	}
	if strings.HasPrefix(ip, "[") {
		if h, _, err := net.SplitHostPort(ip + ":"); err == nil {
			ip = h
		} else {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, fmt.Errorf("invalid IP address: %s", ip)
	}
	if ctrPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", s)
	}
	cStart, cEnd, err := portrange.Parse(ctrPort)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", ctrPort)
	}
	var hStart, hEnd uint16
	if hostPort != "" {
		if hStart, hEnd, err = portrange.Parse(hostPort); err != nil {
			return nil, fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		if cEnd-cStart != hEnd-hStart && cEnd != cStart {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPort, hostPort)
		}
	}
	proto = strings.ToLower(proto)
	switch network.IPProtocol(proto) {
	case network.TCP, network.UDP, network.SCTP:
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	if ip != "" {
		return nil, errors.New("hostip is not supported")
	}
	var ports []swarmtypes.PortConfig
	add := func(target, published uint32) {
		ports = append(ports, swarmtypes.PortConfig{
			Protocol: network.IPProtocol(proto), TargetPort: target, PublishedPort: published,
			PublishMode: swarmtypes.PortConfigPublishModeIngress,
		})
	}
	for i := uint32(0); i <= uint32(cEnd-cStart); i++ {
		target := uint32(cStart) + i
		switch {
		case hostPort == "":
			add(target, 0)
		case cEnd == cStart:
			for h := uint32(hStart); h <= uint32(hEnd); h++ {
				add(target, h)
			}
		default:
			add(target, uint32(hStart)+i)
		}
	}
	return ports, nil
}

// parseMount parses --mount "type=bind|volume|tmpfs,source=…,target=…,
// readonly" with docker's volume-*, bind-* and tmpfs-* options.
func parseMount(s string) (mount.Mount, error) {
	fields, err := csvFields(s)
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	volumeOpts := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{}}
		}
		if m.VolumeOptions.DriverConfig == nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		return m.VolumeOptions
	}
	bindOpts := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	tmpfsOpts := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	setKV := func(target map[string]string, kv string) {
		if k, v, _ := strings.Cut(kv, "="); k != "" {
			target[k] = v
		}
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly = true
				continue
			case "volume-nocopy":
				volumeOpts().NoCopy = true
				continue
			default:
				return m, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = strconv.ParseBool(val); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOpts().Propagation = mount.Propagation(strings.ToLower(val))
		case "volume-subpath":
			volumeOpts().Subpath = val
		case "volume-nocopy":
			if volumeOpts().NoCopy, err = strconv.ParseBool(val); err != nil {
				return m, fmt.Errorf("invalid value for volume-nocopy: %s", val)
			}
		case "volume-label":
			setKV(volumeOpts().Labels, val)
		case "volume-driver":
			volumeOpts().DriverConfig.Name = val
		case "volume-opt":
			if volumeOpts().DriverConfig.Options == nil {
				volumeOpts().DriverConfig.Options = map[string]string{}
			}
			setKV(volumeOpts().DriverConfig.Options, val)
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().Mode = os.FileMode(n)
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return m, errors.New("type is required")
	}
	if m.Target == "" {
		return m, errors.New("target is required")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return m, fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return m, fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return m, fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	return m, nil
}

// parseNetwork parses --network: a name or ID, or "name=…,alias=…,
// driver-opt=k=v".
func parseNetwork(s string) (swarmtypes.NetworkAttachmentConfig, error) {
	var a swarmtypes.NetworkAttachmentConfig
	if !longSyntax.MatchString(s) {
		a.Target = s
		return a, nil
	}
	fields, err := csvFields(s)
	if err != nil {
		return a, err
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return a, fmt.Errorf("invalid field %s", field)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "name":
			a.Target = val
		case "alias":
			a.Aliases = append(a.Aliases, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return a, errors.New("invalid key value pair format in driver options")
			}
			if a.DriverOpts == nil {
				a.DriverOpts = map[string]string{}
			}
			a.DriverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		default:
			return a, errors.New("invalid field key " + key)
		}
	}
	if a.Target == "" {
		return a, errors.New("network name/id is not specified")
	}
	return a, nil
}

// parsePref parses a --placement-pref: "spread=DESCRIPTOR", the only
// strategy there is.
func parsePref(s string) (swarmtypes.PlacementPreference, error) {
	strategy, arg, ok := strings.Cut(s, "=")
	if !ok || strategy == "" {
		return swarmtypes.PlacementPreference{}, fmt.Errorf(`placement preference must be of the format "<strategy>=<arg>"`)
	}
	if strategy != "spread" {
		return swarmtypes.PlacementPreference{}, fmt.Errorf("unsupported placement preference %s (only spread is supported)", strategy)
	}
	return swarmtypes.PlacementPreference{Spread: &swarmtypes.SpreadOver{SpreadDescriptor: arg}}, nil
}

// fileRef is where a secret or config appears in the container.
type fileRef struct {
	Name, UID, GID string
	Mode           os.FileMode
}

// parseFileRef parses --secret/--config: "NAME" or "source=…,target=…,
// uid=…,gid=…,mode=…" (kind is "secret" or "config", for the errors).
func parseFileRef(s, kind string) (string, fileRef, error) {
	fields, err := csvFields(s)
	if err != nil {
		return "", fileRef{}, err
	}
	file := fileRef{UID: "0", GID: "0", Mode: 0o444}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		file.Name = fields[0]
		return fields[0], file, nil
	}
	var name string
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		if !ok || key == "" {
			return "", file, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(key) {
		case "source", "src":
			name = val
		case "target":
			file.Name = val
		case "uid":
			file.UID = val
		case "gid":
			file.GID = val
		case "mode":
			m, err := strconv.ParseUint(val, 0, 32)
			if err != nil {
				return "", file, fmt.Errorf("invalid mode specified: %v", err)
			}
			file.Mode = os.FileMode(m)
		default:
			if kind == "config" {
				return "", file, fmt.Errorf("invalid field in config request: %s", key)
			}
			return "", file, errors.New("invalid field in secret request: " + key)
		}
	}
	if name == "" {
		return "", file, errors.New("source is required")
	}
	if file.Name == "" {
		file.Name = name
	}
	return name, file, nil
}

// validateEnv checks -e/--env-add: "K=V" as is, a bare "K" takes its
// value from the local environment when it has one.
func validateEnv(lookup func(string) (string, bool)) func(string) (string, error) {
	return func(s string) (string, error) {
		k, _, hasValue := strings.Cut(s, "=")
		if k == "" {
			return "", errors.New("invalid environment variable: " + s)
		}
		if hasValue {
			return s, nil
		}
		if v, ok := lookup(k); ok {
			return k + "=" + v, nil
		}
		return s, nil
	}
}

// validateLabel checks a label "key[=value]".
func validateLabel(s string) (string, error) {
	key, _, _ := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", s)
	}
	if strings.ContainsAny(key, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return s, nil
}

// validateIP checks a --dns server address.
func validateIP(s string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", s)
}

// validateDNSSearch checks a --dns-search domain ("." is allowed).
func validateDNSSearch(s string) (string, error) {
	s = strings.Trim(s, " ")
	if s == "." {
		return s, nil
	}
	d := strings.TrimRightFunc(s, unicode.IsSpace)
	d = strings.TrimSuffix(d, ".")
	ok := d != "" && len(d) < 255 && strings.ContainsFunc(d, func(r rune) bool { return (r|0x20) >= 'a' && (r|0x20) <= 'z' })
	for _, label := range strings.Split(d, ".") {
		if !ok {
			break
		}
		ok = label != "" && label[0] != '-' && label[len(label)-1] != '-' &&
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == ""
	}
	if !ok {
		return "", fmt.Errorf("%s is not a valid domain", s)
	}
	return d, nil
}

// validateExtraHost checks a --host "name:ip" (or "name=ip") mapping.
func validateExtraHost(s string) (string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		k, v, ok = strings.Cut(s, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", s)
	}
	if v != "host-gateway" {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if net.ParseIP(strings.TrimSpace(v)) == nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", v)
		}
	}
	return k + ":" + v, nil
}

// swarmHosts turns "name:ip" mappings into the "ip name" lines of
// ContainerSpec.Hosts.
func swarmHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if name, ip, ok := strings.Cut(h, ":"); ok {
			out = append(out, ip+" "+name)
		}
	}
	return out
}

// readEnvFile reads a docker --env-file: KEY=VALUE lines, blank and "#"
// lines skipped, a bare KEY taken from lookup (dropped when unset).
func readEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, err := parseEnvFile(data, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %v", path, err)
	}
	return out, nil
}

func parseEnvFile(data []byte, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, b)
		}
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", key)
		}
		if hasValue {
			out = append(out, line)
			continue
		}
		if v, ok := lookup(line); ok {
			out = append(out, key+"="+v)
		}
	}
	return out, sc.Err()
}
