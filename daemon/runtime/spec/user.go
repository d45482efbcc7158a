package spec

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxID is the largest uid or gid Docker accepts.
const maxID = 1<<31 - 1

type passwdEntry struct {
	name     string
	uid, gid uint32
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// readColon reads a colon-separated database (passwd, group) from the
// container's rootfs, never following a symlink out of it.
func readColon(rootfs, name string) [][]string {
	p := filepath.Join(rootfs, "etc", name)
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

func passwd(rootfs string) []passwdEntry {
	var out []passwdEntry
	for _, f := range readColon(rootfs, "passwd") {
		if len(f) < 4 {
			continue
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if ok1 && ok2 {
			out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid})
		}
	}
	return out
}

func groups(rootfs string) []groupEntry {
	var out []groupEntry
	for _, f := range readColon(rootfs, "group") {
		if len(f) < 3 {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out
}

// ResolveUser resolves docker's -u ("name", "uid", "name:group",
// "uid:gid") against the rootfs' /etc/passwd and /etc/group, returning the
// uid, primary gid and supplementary groups (the user's groups from
// /etc/group plus groupAdd).
func ResolveUser(rootfs, user string, groupAdd []string) (uid, gid uint32, additional []uint32, err error) {
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	for _, part := range []string{userPart, groupPart} {
		if n, err := strconv.ParseUint(part, 10, 64); err == nil && n > maxID {
			return 0, 0, nil, fmt.Errorf("uids and gids must be in range 0-%d", maxID)
		}
	}
	users := passwd(rootfs)
	grps := groups(rootfs)
	name := ""
	switch {
	case userPart == "":
		uid, gid, name = 0, 0, "root"
		for _, u := range users {
			if u.uid == 0 {
				name, gid = u.name, u.gid
				break
			}
		}
	default:
		if n, ok := parseID(userPart); ok {
			uid = n
			found := false
			for _, u := range users {
				if u.uid == n {
					gid, name, found = u.gid, u.name, true
					break
				}
			}
			if !found {
				gid = n
				if !hasGroup {
					gid = 0
				}
			}
		} else {
			found := false
			for _, u := range users {
				if u.name == userPart {
					uid, gid, name, found = u.uid, u.gid, u.name, true
					break
				}
			}
			if !found {
				return 0, 0, nil, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
			}
		}
	}
	if hasGroup {
		if n, ok := parseID(groupPart); ok {
			gid = n
		} else {
			found := false
			for _, g := range grps {
				if g.name == groupPart {
					gid, found = g.gid, true
					break
				}
			}
			if !found {
				return 0, 0, nil, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	seen := map[uint32]bool{}
	if name != "" && !hasGroup {
		for _, g := range grps {
			for _, m := range g.members {
				if m == name && !seen[g.gid] {
					seen[g.gid] = true
					additional = append(additional, g.gid)
				}
			}
		}
	}
	for _, ga := range groupAdd {
		var id uint32
		if n, ok := parseID(ga); ok {
			id = n
		} else {
			found := false
			for _, g := range grps {
				if g.name == ga {
					id, found = g.gid, true
					break
				}
			}
			if !found {
				return 0, 0, nil, fmt.Errorf("unable to find group %s: no matching entries in group file", ga)
			}
		}
		if !seen[id] {
			seen[id] = true
			additional = append(additional, id)
		}
	}
	return uid, gid, additional, nil
}
