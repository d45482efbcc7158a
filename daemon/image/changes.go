package image

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// ApplyChanges applies Dockerfile instructions given with `import -c` or
// `commit -c` to an image config: ENV, CMD, ENTRYPOINT, WORKDIR, EXPOSE,
// USER, LABEL, VOLUME, STOPSIGNAL, ONBUILD, SHELL.
func ApplyChanges(img *dockerspec.DockerOCIImage, changes []string) error {
	cfg := &img.Config
	for _, change := range changes {
		change = strings.TrimSpace(change)
		if change == "" {
			continue
		}
		instr, rest, _ := strings.Cut(change, " ")
		rest = strings.TrimSpace(rest)
		bad := func(msg string) error {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error: %s: %s", strings.ToUpper(instr), msg))
		}
		switch strings.ToUpper(instr) {
		case "ENV":
			kvs, err := parseKeyValues(rest, true)
			if err != nil {
				return bad(err.Error())
			}
			for _, kv := range kvs {
				cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := parseKeyValues(rest, false)
			if err != nil {
				return bad(err.Error())
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				cfg.Labels[kv[0]] = kv[1]
			}
		case "CMD":
			cfg.Cmd = commandForm(rest, cfg.Shell)
		case "ENTRYPOINT":
			cfg.Entrypoint = commandForm(rest, cfg.Shell)
		case "SHELL":
			var sh []string
			if err := json.Unmarshal([]byte(rest), &sh); err != nil || len(sh) == 0 {
				return bad("requires the arguments to be in JSON form")
			}
			cfg.Shell = sh
		case "WORKDIR":
			if rest == "" {
				return bad("requires exactly one argument")
			}
			if !strings.HasPrefix(rest, "/") {
				rest = strings.TrimSuffix(cfg.WorkingDir, "/") + "/" + rest
			}
			cfg.WorkingDir = rest
		case "USER":
			if rest == "" {
				return bad("requires exactly one argument")
			}
			cfg.User = rest
		case "EXPOSE":
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return bad("requires at least one argument")
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range fields {
				port, proto, _ := strings.Cut(p, "/")
				if proto == "" {
					proto = "tcp"
				}
				if port == "" || strings.Trim(port, "0123456789-") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
					return bad(fmt.Sprintf("invalid port %q", p))
				}
				cfg.ExposedPorts[port+"/"+proto] = struct{}{}
			}
		case "VOLUME":
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
				cfg.Volumes[v] = struct{}{}
			}
		case "STOPSIGNAL":
			if rest == "" {
				return bad("requires exactly one argument")
			}
			cfg.StopSignal = rest
		case "ONBUILD":
			if rest == "" {
				return bad("requires at least one argument")
			}
			cfg.OnBuild = append(cfg.OnBuild, rest)
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s is not a valid change command", instr))
		}
	}
	return nil
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
