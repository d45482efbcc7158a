package registry

import (
	"encoding/base64"
	"log/slog"
	"testing"
)

func TestDecodeAuth(t *testing.T) {
	tests := []struct {
		name, header, user string
		wantErr            bool
	}{
		{"empty", "", "", false},
		{"empty object", base64.URLEncoding.EncodeToString([]byte("{}")), "", false},
		{"padded", base64.URLEncoding.EncodeToString([]byte(`{"username":"alice","password":"x"}`)), "alice", false},
		{"unpadded", base64.RawURLEncoding.EncodeToString([]byte(`{"username":"bob","password":"xy"}`)), "bob", false},
		{"not base64", "%%%", "", true},
		{"not json", base64.URLEncoding.EncodeToString([]byte("nope")), "", true},
	}
	for _, tt := range tests {
		ac, err := DecodeAuth(tt.header)
		if (err != nil) != tt.wantErr || ac.Username != tt.user {
			t.Errorf("%s: DecodeAuth = %+v, %v", tt.name, ac, err)
		}
	}
}

// FuzzDecodeAuth: the header comes from any API client.
func FuzzDecodeAuth(f *testing.F) {
	f.Add(base64.URLEncoding.EncodeToString([]byte(`{"username":"a","password":"b","serveraddress":"h"}`)))
	f.Add("e30=")
	f.Fuzz(func(t *testing.T, h string) {
		_, _ = DecodeAuth(h)
	})
}

func TestInsecureAndNames(t *testing.T) {
	c, err := New(Config{Insecure: []string{"reg.example:5000", "10.1.0.0/16"}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true,
		"reg.example:5000": true, "10.1.2.3:443": true, "10.2.0.1": false,
		"registry-1.docker.io": false, "index.docker.io": false,
	} {
		if got := c.insecure(host); got != want {
			t.Errorf("insecure(%s) = %v, want %v", host, got, want)
		}
	}
	for in, want := range map[string]string{
		"redis":                     "redis",
		"library/redis:7":           "redis",
		"user/app:v1":               "user/app",
		"localhost:5000/a/b:c":      "localhost:5000/a/b",
		"docker.io/library/busybox": "busybox",
	} {
		ref, err := c.ParseRef(in)
		if err != nil {
			t.Fatalf("ParseRef(%s): %v", in, err)
		}
		if got := FamiliarName(ref); got != want {
			t.Errorf("FamiliarName(%s) = %s, want %s", in, got, want)
		}
	}
	if _, err := c.ParseRef("UPPER/case"); err == nil {
		t.Error("ParseRef accepted an invalid reference")
	}
}
