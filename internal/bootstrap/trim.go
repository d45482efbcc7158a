package bootstrap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// trimDirs are emptied (kept, with their contents removed) in every
// variant: what Docker's Debian images leave out too.
var trimDirs = []string{
	"var/lib/apt/lists", "var/cache/apt/archives", "var/log", "tmp", "var/tmp",
}

// slimDirs are emptied in the slim variant: documentation and locales.
var slimDirs = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/linda"}

// Trim removes what a container base does not need and what would make
// two bootstraps differ (caches, logs, machine-id, apt's downloaded
// lists). With slim, documentation and all locales but C go too, as in
// Docker's -slim images; a dpkg path-exclude rule keeps later
// `apt-get install`s from bringing them back.
func Trim(root string, slim bool) error {
	dirs := trimDirs
	if slim {
		dirs = append(append([]string{}, dirs...), slimDirs...)
	}
	for _, d := range dirs {
		if err := emptyDir(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	for _, f := range []string{"var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin", "var/cache/ldconfig/aux-cache"} {
		if err := os.Remove(filepath.Join(root, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	// systemd-machine-id-setup fills these on first boot of a real system;
	// a container image ships them empty.
	for _, f := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
		p := filepath.Join(root, f)
		if _, err := os.Lstat(p); err == nil {
			if err := os.WriteFile(p, nil, 0o444); err != nil {
				return err
			}
		}
	}
	// debootstrap's own log and the host's resolver and hostname.
	for _, f := range []string{"debootstrap", "etc/hostname", "etc/resolv.conf"} {
		_ = os.RemoveAll(filepath.Join(root, f))
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), nil, 0o644); err != nil && !os.IsNotExist(err) {
		return err
	}
	if slim {
		if err := trimLocales(root); err != nil {
			return err
		}
		excl := "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n"
		if err := os.MkdirAll(filepath.Join(root, "etc/dpkg/dpkg.cfg.d"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, "etc/dpkg/dpkg.cfg.d/berth-slim"), []byte(excl), 0o644); err != nil {
			return err
		}
	}
	// apt in a container: no recommends, clean caches after installs.
	if err := os.MkdirAll(filepath.Join(root, "etc/apt/apt.conf.d"), 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(root, "etc/apt/apt.conf.d/docker-clean"),
			[]byte("DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\nAPT::Install-Recommends \"false\";\n"), 0o644)
	}
	return nil
}

// trimLocales keeps only locale.alias and the C locales.
func trimLocales(root string) error {
	dir := filepath.Join(root, "usr/share/locale")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "locale.alias" || strings.HasPrefix(e.Name(), "C.") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// emptyDir removes a directory's contents, keeping it (and its mode).
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trim %s: %w", dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("trim %s: %w", p, err)
		}
	}
	return nil
}
