package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
)

// Store indexes containers by ID and name.
type Store struct {
	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // name without "/" → ID
}

// New loads every container recorded under root (<data-root>/containers).
// Unreadable records are logged and skipped, never fatal; the leftovers of
// a removal that was deleting a container's dir (RemoveRoot) are deleted.
func New(root string) (*Store, error) {
	s := &Store{byID: map[string]*Container{}, byName: map[string]string{}}
	entries, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read containers: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), trashPrefix) {
			// A removal that was deleting this dir when the daemon died.
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				slog.Warn("remove leftover of a container removal", "dir", e.Name(), "err", err)
			}
			continue
		}
		c, err := load(filepath.Join(root, e.Name()))
		if err != nil {
			slog.Warn("skip unreadable container", "dir", e.Name(), "err", err)
			continue
		}
		if c.ID != e.Name() {
			slog.Warn("skip container recorded under another ID", "dir", e.Name(), "id", c.ID)
			continue
		}
		s.byID[c.ID] = c
		name := strings.TrimPrefix(c.Name, "/")
		if other, ok := s.byName[name]; ok {
			slog.Warn("two containers share a name", "name", name, "id", c.ID, "other", other)
			continue
		}
		s.byName[name] = c.ID
	}
	return s, nil
}

func conflict(name, id string) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, id))
}

// Add registers a new container, reserving its name.
func (s *Store) Add(c *Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.TrimPrefix(c.Name, "/")
	if id, ok := s.byName[name]; ok {
		return conflict(name, id)
	}
	if _, ok := s.byID[c.ID]; ok || c.ID == "" {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container ID %q is already in use", c.ID))
	}
	s.byID[c.ID] = c
	s.byName[name] = c.ID
	return nil
}

// Get resolves, as Docker does, a full ID, then an exact name (with or
// without its "/"), then a unique ID prefix.
func (s *Store) Get(idOrName string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c, ok := s.byID[idOrName]; ok {
		return c, nil
	}
	if id, ok := s.byName[strings.TrimPrefix(idOrName, "/")]; ok {
		return s.byID[id], nil
	}
	if idOrName != "" {
		var found *Container
		for id, c := range s.byID {
			if strings.HasPrefix(id, idOrName) {
				if found != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("multiple IDs found with provided prefix: %s", idOrName))
				}
				found = c
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such container: %s", idOrName))
}

// List returns all containers, newest first.
func (s *Store) List() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Rename gives c a new name.
func (s *Store) Rename(c *Container, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if err := ValidateName(newName); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Lock()
	old := strings.TrimPrefix(c.Name, "/")
	c.Unlock()
	if old == newName {
		return errdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	}
	if id, ok := s.byName[newName]; ok {
		return conflict(newName, id)
	}
	delete(s.byName, old)
	s.byName[newName] = c.ID
	c.Lock()
	c.Name = "/" + newName
	c.Unlock()
	return nil
}

// Delete forgets a container.
func (s *Store) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byID[id]; ok {
		c.Lock()
		name := strings.TrimPrefix(c.Name, "/")
		c.Unlock()
		if s.byName[name] == id {
			delete(s.byName, name)
		}
	}
	delete(s.byID, id)
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateName checks a container name as Docker does.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	return nil
}

// GenerateID returns a random 64-hex ID whose 12-hex short form is not all
// digits (it would read as a number).
func GenerateID() string {
	b := make([]byte, 32)
	for {
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseUint(id[:12], 10, 64); err != nil {
			return id
		}
	}
}

var (
	adjectives = []string{"admiring", "brave", "calm", "clever", "dazzling", "eager", "festive", "gallant",
		"happy", "jolly", "keen", "lucid", "merry", "nifty", "optimistic", "peaceful", "quirky", "relaxed",
		"serene", "tender", "upbeat", "vibrant", "wizardly", "zealous", "bold", "cool", "epic", "fond",
		"gracious", "hopeful"}
	surnames = []string{"hopper", "lovelace", "turing", "curie", "noether", "ritchie", "thompson", "kernighan",
		"hamilton", "johnson", "shannon", "dijkstra", "knuth", "liskov", "torvalds", "babbage", "goldberg",
		"perlman", "wozniak", "allen", "bell", "cerf", "engelbart", "feynman", "galileo", "hypatia", "kepler",
		"meitner", "pascal", "tesla"}
)

// GenerateName picks a free "adjective_surname" name.
func GenerateName(taken func(string) bool) string {
	pick := func(list []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		return list[n.Int64()]
	}
	for i := 0; ; i++ {
		name := pick(adjectives) + "_" + pick(surnames)
		if i > 10 {
			name += strconv.Itoa(i)
		}
		if !taken(name) {
			return name
		}
	}
}
