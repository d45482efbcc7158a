package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// ApplyChanges applies the Dockerfile instructions given with `import -c`
// or `commit -c` to an image config. As dockerd, only CMD, ENTRYPOINT,
// ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and
// WORKDIR are allowed; $VAR references in ENV, LABEL, EXPOSE, USER,
// VOLUME, WORKDIR and STOPSIGNAL expand from the config's environment.
func ApplyChanges(img *dockerspec.DockerOCIImage, changes []string) error {
	cfg := &img.Config
	cmdSet := false
	for _, change := range changes {
		change = strings.TrimSpace(change)
		if change == "" || strings.HasPrefix(change, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(change, " ")
		if i := strings.IndexAny(instr, "\t"); i > 0 {
			instr, rest = change[:i], change[i+1:]
		}
		rest = strings.TrimSpace(rest)
		lower := strings.ToLower(instr)
		bad := func(msg string) error {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error on line 1: %s %s", strings.ToUpper(instr), msg))
		}
		expand := func(s string) (string, error) { return expandEnv(s, cfg.Env) }
		switch lower {
		case "env":
			kvs, err := parseKeyValues(rest, true)
			if err != nil {
				return bad(err.Error())
			}
			for _, kv := range kvs {
				v, err := expand(kv[1])
				if err != nil {
					return bad(err.Error())
				}
				cfg.Env = setEnv(cfg.Env, kv[0], v)
			}
		case "label":
			kvs, err := parseKeyValues(rest, false)
			if err != nil {
				return bad(err.Error())
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				v, err := expand(kv[1])
				if err != nil {
					return bad(err.Error())
				}
				cfg.Labels[kv[0]] = v
			}
		case "cmd":
			cfg.Cmd = commandForm(rest, cfg.Shell)
			cmdSet = true
		case "entrypoint":
			cfg.Entrypoint = commandForm(rest, cfg.Shell)
			if !cmdSet {
				cfg.Cmd = nil // an inherited CMD does not survive a new ENTRYPOINT
			}
		case "healthcheck":
			hc, err := parseHealthcheck(rest, cfg.Shell)
			if err != nil {
				return bad(err.Error())
			}
			cfg.Healthcheck = hc
		case "workdir":
			dir, err := expand(rest)
			if err != nil || dir == "" {
				return bad("requires exactly one argument")
			}
			if !strings.HasPrefix(dir, "/") {
				dir = path.Join("/", cfg.WorkingDir, dir)
			}
			cfg.WorkingDir = path.Clean(dir)
		case "user":
			u, err := expand(rest)
			if err != nil || u == "" {
				return bad("requires exactly one argument")
			}
			cfg.User = u
		case "expose":
			v, err := expand(rest)
			if err != nil {
				return bad(err.Error())
			}
			fields := strings.Fields(v)
			if len(fields) == 0 {
				return bad("requires at least one argument")
			}
			ports := map[string]struct{}{}
			for _, p := range fields {
				if err := exposePorts(ports, p); err != nil {
					return bad(err.Error())
				}
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "volume":
			var vols []string
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &vols); err != nil {
					return bad("invalid JSON array")
				}
			} else {
				vols = strings.Fields(rest)
			}
			if len(vols) == 0 {
				return bad("requires at least one argument")
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range vols {
				v, err := expand(strings.TrimSpace(v))
				if err != nil {
					return bad(err.Error())
				}
				if v == "" {
					return bad("VOLUME specified can not be an empty string")
				}
				cfg.Volumes[v] = struct{}{}
			}
		case "stopsignal":
			sig, err := expand(rest)
			if err != nil || sig == "" || strings.ContainsAny(sig, " \t") {
				return bad("requires exactly one argument")
			}
			cfg.StopSignal = sig
		case "onbuild":
			if rest == "" {
				return bad("requires at least one argument")
			}
			trigger, _, _ := strings.Cut(rest, " ")
			switch strings.ToUpper(trigger) {
			case "ONBUILD":
				return bad("isn't allowed as an ONBUILD trigger")
			case "MAINTAINER", "FROM":
				return bad(fmt.Sprintf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(trigger)))
			}
			cfg.OnBuild = append(cfg.OnBuild, rest)
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s is not a valid change command", lower))
		}
	}
	return nil
}

// exposePorts adds "80", "80/udp" or a range "8000-8002/tcp" to ports.
func exposePorts(ports map[string]struct{}, spec string) error {
	port, proto, _ := strings.Cut(spec, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return fmt.Errorf("invalid containerPort: %s", port)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return fmt.Errorf("invalid containerPort: %s", port)
		}
	}
	if end-start > 65535 {
		return fmt.Errorf("invalid containerPort: %s", port)
	}
	for p := start; p <= end; p++ {
		ports[fmt.Sprintf("%d/%s", p, proto)] = struct{}{}
	}
	return nil
}

// parseHealthcheck parses `[--opt=v ...] CMD ...` or `NONE`.
func parseHealthcheck(rest string, shell []string) (*dockerspec.HealthcheckConfig, error) {
	hc := &dockerspec.HealthcheckConfig{}
	for strings.HasPrefix(rest, "--") {
		flag, tail, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(tail)
		name, val, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return nil, fmt.Errorf("flag --%s needs a value", name)
		}
		var d *time.Duration
		switch name {
		case "interval":
			d = &hc.Interval
		case "timeout":
			d = &hc.Timeout
		case "start-period":
			d = &hc.StartPeriod
		case "start-interval":
			d = &hc.StartInterval
		case "retries":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("invalid value for --retries: %q", val)
			}
			hc.Retries = n
			continue
		default:
			return nil, fmt.Errorf("unknown flag: --%s", name)
		}
		v, err := time.ParseDuration(val)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %q", name, val)
		}
		if v != 0 && v < time.Millisecond {
			return nil, fmt.Errorf("interval %q cannot be less than 1ms", val)
		}
		*d = v
	}
	kind, args, _ := strings.Cut(rest, " ")
	args = strings.TrimSpace(args)
	switch strings.ToUpper(kind) {
	case "NONE":
		if args != "" {
			return nil, fmt.Errorf("takes no arguments after NONE")
		}
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, nil
	case "CMD":
		if args == "" {
			return nil, fmt.Errorf("requires at least one argument")
		}
		var exec []string
		if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &exec) == nil {
			if len(exec) == 0 {
				return nil, fmt.Errorf("requires at least one argument")
			}
			hc.Test = append([]string{"CMD"}, exec...)
		} else {
			hc.Test = []string{"CMD-SHELL", args}
		}
		_ = shell
		return hc, nil
	}
	return nil, fmt.Errorf("unknown type %q in HEALTHCHECK (try CMD)", kind)
}

// expandEnv expands $VAR, ${VAR}, ${VAR:-word} and ${VAR:+word} from env
// ("K=V" entries); \$ is a literal dollar.
func expandEnv(s string, env []string) (string, error) {
	lookup := func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if name, v, _ := strings.Cut(env[i], "="); name == k {
				return v, true
			}
		}
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("missing '}' in %q", s)
			}
			expr := s[i+2 : i+2+end]
			i += 2 + end
			name, word, op := expr, "", ""
			if k := strings.Index(expr, ":"); k >= 0 && k+1 < len(expr) && (expr[k+1] == '-' || expr[k+1] == '+') {
				name, op, word = expr[:k], expr[k:k+2], expr[k+2:]
			}
			if !validEnvName(name) {
				return "", fmt.Errorf("bad substitution in %q", s)
			}
			v, ok := lookup(name)
			switch op {
			case ":-":
				if !ok || v == "" {
					v = word
				}
			case ":+":
				if ok && v != "" {
					v = word
				} else {
					v = ""
				}
			}
			b.WriteString(v)
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			continue
		}
		v, _ := lookup(s[i+1 : j])
		b.WriteString(v)
		i = j - 1
	}
	return b.String(), nil
}

func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// commandForm parses the exec (JSON) or shell form of CMD/ENTRYPOINT.
func commandForm(rest string, shell []string) []string {
	var args []string
	if strings.HasPrefix(rest, "[") && json.Unmarshal([]byte(rest), &args) == nil {
		return args
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, shell...), rest)
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// parseKeyValues parses `k=v k2="v 2"` or, for ENV, the legacy `k v w`.
func parseKeyValues(s string, legacy bool) ([][2]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("requires at least one argument")
	}
	if !strings.Contains(words[0], "=") {
		if !legacy {
			return nil, fmt.Errorf("requires key=value arguments")
		}
		if len(words) < 2 {
			return nil, fmt.Errorf("requires a value for %s", words[0])
		}
		_, v, _ := strings.Cut(strings.TrimSpace(s), " ")
		return [][2]string{{words[0], strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on spaces, honouring double and single quotes and
// backslash escapes; quotes are removed.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			if r == '$' {
				cur.WriteRune('\\') // kept for expandEnv: a literal dollar
			}
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
			inWord = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
