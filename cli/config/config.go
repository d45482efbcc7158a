// Package config reads and writes the docker client's config.json (the
// DOCKER_CONFIG directory or ~/.docker), where berth keeps registry
// logins as docker does, and answers the credentials for a registry.
package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// dockerHubServer is the key Docker uses for Docker Hub credentials.
const dockerHubServer = "https://index.docker.io/v1/"

// configPath is Docker's client config file (DOCKER_CONFIG or
// ~/.docker/config.json), which berth reads and writes as docker does.
func configPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "config.json")
}

// loadConfig reads config.json as a generic map, so keys berth does not
// know survive a rewrite.
func loadConfig() (map[string]any, error) {
	b, err := os.ReadFile(configPath())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", configPath(), err)
	}
	return m, nil
}

func saveConfig(m map[string]any) error {
	p := configPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// RegistryKey is the config.json key of an image's registry.
func RegistryKey(host string) string {
	if host == "" || host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		return dockerHubServer
	}
	return host
}

// RegistryOf returns the registry host of an image reference.
func RegistryOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

// Credentials finds the stored credentials for a registry: a credential
// helper (credHelpers / credsStore, as docker-credential-NAME), or the
// base64 "auth" of the auths section.
func Credentials(host string) (registry.AuthConfig, error) {
	key := RegistryKey(host)
	ac := registry.AuthConfig{ServerAddress: key}
	cfg, err := loadConfig()
	if err != nil {
		return ac, err
	}
	helper := ""
	if hs, ok := cfg["credHelpers"].(map[string]any); ok {
		if h, ok := hs[key].(string); ok {
			helper = h
		}
	}
	if helper == "" {
		if h, ok := cfg["credsStore"].(string); ok {
			helper = h
		}
	}
	if helper != "" {
		cmd := exec.Command("docker-credential-"+helper, "get")
		cmd.Stdin = strings.NewReader(key)
		if out, err := cmd.Output(); err == nil {
			var r struct{ Username, Secret string }
			if json.Unmarshal(out, &r) == nil {
				if r.Username == "<token>" {
					ac.IdentityToken = r.Secret
				} else {
					ac.Username, ac.Password = r.Username, r.Secret
				}
				return ac, nil
			}
		}
	}
	auths, _ := cfg["auths"].(map[string]any)
	for k, v := range auths {
		if RegistryKey(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/")) != key && k != key {
			continue
		}
		e, _ := v.(map[string]any)
		if s, ok := e["auth"].(string); ok && s != "" {
			raw, err := base64.StdEncoding.DecodeString(s)
			if err == nil {
				u, p, _ := strings.Cut(string(raw), ":")
				ac.Username, ac.Password = u, p
			}
		}
		if t, ok := e["identitytoken"].(string); ok {
			ac.IdentityToken = t
		}
	}
	return ac, nil
}

// EncodedAuth is the X-Registry-Auth header for a registry.
func EncodedAuth(host string) string {
	ac, err := Credentials(host)
	if err != nil || (ac.Username == "" && ac.IdentityToken == "") {
		return "e30=" // {}: anonymous
	}
	b, _ := json.Marshal(ac)
	return base64.URLEncoding.EncodeToString(b)
}

// StoreCredentials records a login in config.json (the auths section).
func StoreCredentials(host, user, pass string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	auths, _ := cfg["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	auths[RegistryKey(host)] = map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	cfg["auths"] = auths
	return saveConfig(cfg)
}

// EraseCredentials removes a registry's entry; it reports whether there
// was one.
func EraseCredentials(host string) (bool, error) {
	cfg, err := loadConfig()
	if err != nil {
		return false, err
	}
	auths, _ := cfg["auths"].(map[string]any)
	key := RegistryKey(host)
	if _, ok := auths[key]; !ok {
		return false, nil
	}
	delete(auths, key)
	return true, saveConfig(cfg)
}
