package config

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	// A config docker wrote, with keys berth does not know.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"psFormat":"table {{.ID}}","auths":{"other.example":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("o:p"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := StoreCredentials("localhost:5000", "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := StoreCredentials("", "hubuser", "hubpass"); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"localhost:5000": "alice", "docker.io": "hubuser", "other.example": "o", "nowhere:1": ""} {
		ac, err := Credentials(host)
		if err != nil || ac.Username != want {
			t.Errorf("Credentials(%s) = %+v, %v; want user %q", host, ac, err, want)
		}
	}
	if RegistryOf("redis") != "docker.io" || RegistryOf("localhost:5000/a/b:c") != "localhost:5000" {
		t.Errorf("registryOf: %q %q", RegistryOf("redis"), RegistryOf("localhost:5000/a/b:c"))
	}
	h := EncodedAuth("localhost:5000")
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var ac struct{ Username, Password string }
	if err := json.Unmarshal(raw, &ac); err != nil || ac.Username != "alice" || ac.Password != "s3cret" {
		t.Errorf("X-Registry-Auth = %s (%v)", raw, err)
	}
	if EncodedAuth("nowhere:1") != "e30=" {
		t.Errorf("anonymous header = %q", EncodedAuth("nowhere:1"))
	}
	if found, err := EraseCredentials("localhost:5000"); !found || err != nil {
		t.Errorf("erase = %v, %v", found, err)
	}
	if found, _ := EraseCredentials("localhost:5000"); found {
		t.Error("erased twice")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil || cfg["psFormat"] != "table {{.ID}}" {
		t.Errorf("unknown keys lost: %s", b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "config.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode: %v %v", fi.Mode(), err)
	}
}
