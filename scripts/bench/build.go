package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// benchBuild times the docker CLI's classic build of a 7-step Dockerfile
// with a 20 MB context: cold (--no-cache), fully cached, and with one
// file changed (re-runs from the ADD).
func benchBuild(cmd func(name string, args ...string) error, dir string) error {
	ctx := filepath.Join(dir, "buildctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		return err
	}
	df := "FROM busybox\nWORKDIR /app\nADD . /app\nRUN cat requirements.txt > installed.txt\nEXPOSE 80\nENV NAME World\nCMD [\"sh\", \"app.sh\"]\n"
	files := map[string][]byte{"Dockerfile": []byte(df), "app.sh": []byte("echo hi\n"), "requirements.txt": []byte("Flask\n")}
	for i := 0; i < 20; i++ {
		b := make([]byte, 1<<20)
		_, _ = rand.Read(b)
		files[fmt.Sprintf("data/blob%02d.bin", i)] = b
	}
	for name, b := range files {
		p := filepath.Join(ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	median := func(n int, before func(int) error, args ...string) (time.Duration, error) {
		var ds []time.Duration
		for i := 0; i < n; i++ {
			if before != nil {
				if err := before(i); err != nil {
					return 0, err
				}
			}
			start := time.Now()
			if err := cmd("docker", args...); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2], nil
	}
	row := func(name string, d time.Duration, err error, target string) {
		if err != nil {
			fmt.Printf("%-58s %12s %12s\n", name, "error", target)
			fmt.Fprintln(os.Stderr, err)
			return
		}
		fmt.Printf("%-58s %12s %12s\n", name, ms(d), target)
	}
	d, err := median(5, nil, "build", "-q", "--no-cache", "-t", "benchbuild", ctx)
	row("docker build, 7 steps, 20 MB context: cold (median)", d, err, "≤ 400 ms")
	d, err = median(11, nil, "build", "-q", "-t", "benchbuild", ctx)
	row("docker build: fully cached (median)", d, err, "≤ 40 ms")
	change := func(i int) error {
		return os.WriteFile(filepath.Join(ctx, "requirements.txt"), []byte(fmt.Sprintf("Flask\n# %d %d\n", i, time.Now().UnixNano())), 0o644)
	}
	d, err = median(5, change, "build", "-q", "-t", "benchbuild", ctx)
	row("docker build: one file changed (median)", d, err, "≤ 300 ms")
	return nil
}
