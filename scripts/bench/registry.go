package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// benchRegistry pushes an image with a 100 MB layer to a local `berth
// registry serve` and pulls it back (after rmi), through the docker CLI.
func benchRegistry(bin string, env []string, cmd func(name string, args ...string) error, dir string) error {
	// A one-layer image holding 100 MB of random (incompressible) data.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := make([]byte, 100<<20)
	_, _ = rand.Read(data)
	_ = tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
	_, _ = tw.Write(data)
	_ = tw.Close()
	imp := exec.Command("docker", "import", "-", "bench-big")
	imp.Env, imp.Stdin = env, &buf
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	reg := exec.Command(bin, "registry", "serve", "--addr", addr, "--root", filepath.Join(dir, "registry"))
	if err := reg.Start(); err != nil {
		return err
	}
	defer func() {
		_ = reg.Process.Signal(syscall.SIGTERM)
		_ = reg.Wait()
	}()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ref := addr + "/bench/big:v1"
	if err := cmd("docker", "tag", "bench-big", ref); err != nil {
		return err
	}
	start := time.Now()
	if err := cmd("docker", "push", ref); err != nil {
		return err
	}
	push := time.Since(start)
	if err := cmd("docker", "rmi", "bench-big", ref); err != nil {
		return err
	}
	start = time.Now()
	if err := cmd("docker", "pull", ref); err != nil {
		return err
	}
	pull := time.Since(start)
	_ = cmd("docker", "rmi", ref)
	fmt.Printf("%-58s %12s %12s\n", "push of a 100 MB-layer image to a local registry", ms(push), "≤ 800 ms")
	fmt.Printf("%-58s %12s %12s\n", "pull of it back (after rmi)", ms(pull), "≤ 350 ms")
	_ = os.RemoveAll(filepath.Join(dir, "registry"))
	return nil
}
