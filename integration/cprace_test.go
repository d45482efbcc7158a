package integration

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// swapperSrc runs in a container as a hostile process would: it makes
// /w/d (a directory with a file e) and /w/x (a symlink to a directory of
// the host), then exchanges the two names as fast as it can (the
// CVE-2018-15664 race against `docker cp` and `docker export`).
const swapperSrc = `package main

import (
	"os"
	"syscall"
	"unsafe"
)

const sysRenameat2 = 316 // amd64
const renameExchange = 2

func main() {
	host := os.Args[1]
	os.MkdirAll("/w/d", 0o755)
	os.WriteFile("/w/d/e", []byte("inside-content"), 0o644)
	os.Symlink(host, "/w/x")
	a, _ := syscall.BytePtrFromString("/w/d")
	b, _ := syscall.BytePtrFromString("/w/x")
	os.WriteFile("/w/ready", nil, 0o644)
	for {
		syscall.Syscall6(sysRenameat2, uintptr(0xffffff9c), uintptr(unsafe.Pointer(a)), uintptr(0xffffff9c), uintptr(unsafe.Pointer(b)), renameExchange, 0)
	}
}
`

// TestCopyRaceNoEscape runs the swapper in a container and drives
// `docker cp` both ways and `docker export` at it: nothing may be written
// into the host directory the symlink names, and its secret may never come
// back in a tar.
func TestCopyRaceNoEscape(t *testing.T) {
	d := testenv.StartDaemon(t)
	d.ImportBusybox("busybox")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(swapperSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "swapper"), filepath.Join(dir, "main.go"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build swapper: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY swapper /swapper\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("build", "-q", "-t", "swapper", dir)

	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "e"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("run", "-d", "--name", "swap", "swapper", "/swapper", host)
	testenv.Eventually(t, 10*time.Second, "swapper ready", func() bool {
		return d.Docker("exec", "swap", "test", "-e", "/w/ready").Code == 0
	})

	// A tar of 50 files under d/, and one named d/e.
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for i := 0; i <= 50; i++ {
		name := fmt.Sprintf("d/f%d", i)
		if i == 50 {
			name = "d/e"
		}
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		_, _ = tw.Write([]byte("x"))
	}
	_ = tw.Close()

	api := d.HTTPClient()
	api.Timeout = 60 * time.Second
	archive := func(method, p string, body io.Reader) (int, string) {
		req, _ := http.NewRequest(method, "http://d/containers/swap/archive?path="+url.QueryEscape(p), body)
		if body != nil {
			req.Header.Set("Content-Type", "application/x-tar")
		}
		resp, err := api.Do(req)
		if err != nil {
			t.Fatalf("%s archive %s: %v", method, p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	untouched := func(when string) {
		t.Helper()
		entries, _ := os.ReadDir(host)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("%s: the container's cp wrote into the host directory: %v", when, names)
		}
		if b, _ := os.ReadFile(filepath.Join(host, "e")); string(b) != "SECRET" {
			t.Fatalf("%s: host file overwritten: %q", when, b)
		}
	}

	const tries = 200
	for i := 0; i < tries; i++ {
		archive(http.MethodPut, "/w", bytes.NewReader(in.Bytes()))
		archive(http.MethodPut, "/w/d", bytes.NewReader(in.Bytes()))
	}
	untouched("cp in")
	for i := 0; i < tries; i++ {
		for _, p := range []string{"/w/d/e", "/w/d", "/w/d/."} {
			if _, body := archive(http.MethodGet, p, nil); strings.Contains(body, "SECRET") {
				t.Fatalf("try %d: cp of %s returned the host file's content", i, p)
			}
		}
	}
	for i := 0; i < 50; i++ {
		resp, err := api.Get("http://d/containers/swap/export")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte("SECRET")) {
			t.Fatalf("export %d carried the host file's content", i)
		}
	}
	// The real CLI, both ways, a few times.
	for i := 0; i < 10; i++ {
		d.Run(bytes.NewReader(in.Bytes()), 30*time.Second, "docker", "cp", "-", "swap:/w")
		if r := d.Docker("cp", "swap:/w/d/e", "-"); strings.Contains(r.Stdout, "SECRET") {
			t.Fatal("docker cp out returned the host file's content")
		}
	}
	untouched("the end")
	d.MustDocker("rm", "-f", "swap")
}
