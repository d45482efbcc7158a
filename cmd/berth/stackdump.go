package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// dumpStacksOnSignal writes every goroutine's stack to a file in dir each
// time the daemon receives SIGUSR1, as dockerd does, and logs the file's
// path: how a hung daemon is diagnosed without stopping it.
func dumpStacksOnSignal(ctx context.Context, log *slog.Logger, dir string) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				path, err := writeStacks(dir)
				if err != nil {
					log.Error("write goroutine stacks", "err", err)
					continue
				}
				log.Info("goroutine stacks written", "path", path)
			}
		}
	}()
}

func writeStacks(dir string) (string, error) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	path := filepath.Join(dir, fmt.Sprintf("goroutine-stacks-%s.log", time.Now().UTC().Format("2006-01-02T150405.000Z")))
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
