// Package machine keeps berth's machines: nodes of a multi-machine swarm
// made on this host (the local driver: namespaces, no VM) or provisioned
// on a real host over SSH. It owns the store (one directory per machine,
// docker-machine's layout: config.json and the TLS files a client needs),
// the TLS material, and the Driver seam the drivers implement. The
// commands are in cli/command/machine.
package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// State is what a driver reports of a machine, in docker-machine's words.
type State string

// The states a machine can be in.
const (
	Running State = "Running"
	Stopped State = "Stopped"
	Error   State = "Error"
)

// Machine is one machine's configuration, kept as <store>/<name>/config.json.
type Machine struct {
	Name    string    `json:"Name"`
	Driver  string    `json:"DriverName"`
	Created time.Time `json:"Created"`
	// IP is the address the machine's Engine API and swarm ports answer
	// on; Port is the Engine API's TLS port (2376).
	IP   string `json:"IPAddress"`
	Port int    `json:"EnginePort"`
	// CPUs and Memory cap the whole node (local driver); 0 is no cap.
	CPUs   float64 `json:"CPU,omitempty"`
	Memory int64   `json:"Memory,omitempty"`
	// EngineArgs are extra `berth daemon` flags (--engine-opt and
	// friends), as "--flag=value".
	EngineArgs []string `json:"EngineArgs,omitempty"`
	// SSH is how the ssh driver reaches the host.
	SSH *SSH `json:"SSH,omitempty"`

	dir string
}

// SSH is the ssh driver's access to a real host.
type SSH struct {
	Host string `json:"Host"`
	User string `json:"User"`
	Port int    `json:"Port"`
	Key  string `json:"KeyPath"`
}

// Dir is the machine's directory in the store.
func (m *Machine) Dir() string { return m.dir }

// URL is the machine's Engine API address.
func (m *Machine) URL() string {
	if m.IP == "" {
		return ""
	}
	return fmt.Sprintf("tcp://%s:%d", m.IP, m.Port)
}

// CertPath is the directory a client uses as DOCKER_CERT_PATH: ca.pem,
// cert.pem and key.pem.
func (m *Machine) CertPath() string { return m.dir }

// Driver makes and runs machines of one kind.
type Driver interface {
	// Create provisions the machine (its directory and TLS files exist)
	// and leaves it running. A failed Create may have made part of the
	// machine: the caller then calls Remove.
	Create(ctx context.Context, m *Machine, progress io.Writer) error
	Start(ctx context.Context, m *Machine) error
	Stop(ctx context.Context, m *Machine) error
	// Remove stops the machine and frees what the driver made for it,
	// also after a failed Create.
	Remove(ctx context.Context, m *Machine) error
	State(ctx context.Context, m *Machine) (State, error)
	// Run runs a shell command on the machine (an interactive login
	// shell when cmd is empty) and returns its exit code.
	Run(ctx context.Context, m *Machine, cmd string, stdio Stdio) (int, error)
}

// Stdio is the streams of a command run on a machine. TTY asks for a
// terminal (the local driver passes the caller's own through).
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
	TTY      bool
}

// ErrNotFound is returned for a machine the store does not hold.
var ErrNotFound = errors.New("machine does not exist")

// nameRE is a hostname label: docker-machine's rule.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-\.]*$`)

// ValidName checks that a machine name can be a hostname.
func ValidName(name string) error {
	if len(name) > 63 || !nameRE.MatchString(name) || strings.HasSuffix(name, "-") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("Error creating machine: Invalid hostname specified. Allowed hostname chars are: 0-9a-zA-Z . -")
	}
	return nil
}

// Store is the directory of machines.
type Store struct {
	Root string
}

// DefaultStorePath is where machines live unless
// $BERTH_MACHINE_STORAGE_PATH says otherwise.
const DefaultStorePath = "/var/lib/berth/machines"

// OpenStore opens the store at root ("" means $BERTH_MACHINE_STORAGE_PATH
// or DefaultStorePath), creating it.
func OpenStore(root string) (*Store, error) {
	if root == "" {
		root = os.Getenv("BERTH_MACHINE_STORAGE_PATH")
	}
	if root == "" {
		root = DefaultStorePath
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("open machine store: %w", err)
	}
	return &Store{Root: root}, nil
}

// CertsDir holds the store's CA and the client certificate signed by it.
func (s *Store) CertsDir() string { return filepath.Join(s.Root, "certs") }

// Exists reports whether a machine of that name is in the store.
func (s *Store) Exists(name string) bool {
	_, err := os.Stat(filepath.Join(s.Root, name, "config.json"))
	return err == nil
}

// New makes the directory of a new machine; it fails if the name is
// taken. The machine is saved by Save.
func (s *Store) New(name, driver string) (*Machine, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("Host already exists: %q", name)
		}
		return nil, fmt.Errorf("create machine %s: %w", name, err)
	}
	return &Machine{Name: name, Driver: driver, Created: time.Now().UTC(), Port: 2376, dir: dir}, nil
}

// Save writes the machine's config.json.
func (s *Store) Save(m *Machine) error {
	b, err := json.MarshalIndent(m, "", "    ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(m.dir, ".config.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save machine %s: %w", m.Name, err)
	}
	return os.Rename(tmp, filepath.Join(m.dir, "config.json"))
}

// Load reads one machine.
func (s *Store) Load(name string) (*Machine, error) {
	if ValidName(name) != nil {
		return nil, fmt.Errorf("Host does not exist: %q", name)
	}
	dir := filepath.Join(s.Root, name)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("Host does not exist: %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load machine %s: %w", name, err)
	}
	m := &Machine{dir: dir}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("load machine %s: %w", name, err)
	}
	return m, nil
}

// List reads every machine, by name.
func (s *Store) List() ([]*Machine, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("list machines: %w", err)
	}
	var out []*Machine
	for _, e := range ents {
		if !e.IsDir() || !s.Exists(e.Name()) {
			continue
		}
		m, err := s.Load(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes the machine's directory.
func (s *Store) Delete(m *Machine) error {
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("remove machine %s: %w", m.Name, err)
	}
	return nil
}

// StepError is a Create failure in a named provisioning step, reported in
// docker-machine's words: "Error detecting OS: ...".
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return "Error " + e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }
