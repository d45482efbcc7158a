package network

import (
	"encoding/json"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketNetworks  = []byte("networks")
	bucketSandboxes = []byte("sandboxes")
)

// store keeps the networking state in the daemon's bbolt database: one
// JSON record per network (bucket networks, by ID) and per running
// container's sandbox (bucket sandboxes, by container ID). Everything in
// the kernel is derived from these records.
type store struct {
	db *bolt.DB
}

// openStore creates the buckets on first use.
func openStore(db *bolt.DB) (*store, error) {
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketSandboxes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	return &store{db: db}, nil
}

// load reads every record; unreadable ones are logged and skipped, never
// fatal.
func (s *store) load(log *slog.Logger) (map[string]*Network, map[string]*Sandbox, error) {
	networks, sandboxes := map[string]*Network{}, map[string]*Sandbox{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketNetworks).ForEach(func(k, v []byte) error {
			var n Network
			if err := json.Unmarshal(v, &n); err != nil {
				log.Warn("skip unreadable network record", "id", string(k), "err", err)
				return nil
			}
			networks[n.ID] = &n
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketSandboxes).ForEach(func(k, v []byte) error {
			var sb Sandbox
			if err := json.Unmarshal(v, &sb); err != nil {
				log.Warn("skip unreadable sandbox record", "id", string(k), "err", err)
				return nil
			}
			sandboxes[sb.ContainerID] = &sb
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load network store: %w", err)
	}
	return networks, sandboxes, nil
}

func (s *store) put(bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), data) })
}

func (s *store) delete(bucket []byte, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
}

func (s *store) putNetwork(n *Network) error   { return s.put(bucketNetworks, n.ID, n) }
func (s *store) deleteNetwork(id string) error { return s.delete(bucketNetworks, id) }
func (s *store) putSandbox(sb *Sandbox) error  { return s.put(bucketSandboxes, sb.ContainerID, sb) }
func (s *store) deleteSandbox(id string) error { return s.delete(bucketSandboxes, id) }
