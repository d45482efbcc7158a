package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

var bucketCache = []byte("buildcache") // step key → image ID

// cache maps a build step (its parent image, its instruction after
// substitution and the digest of the content it reads) to the image it
// produced. It lives in the daemon's bbolt database, so it survives
// restarts; entries whose image was deleted are ignored and overwritten.
type cache struct {
	db *bolt.DB
}

func newCache(db *bolt.DB) (*cache, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketCache)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("init build cache: %w", err)
	}
	return &cache{db: db}, nil
}

// stepKey identifies a step. parent is "" for the first step of a
// FROM scratch stage.
func stepKey(parent digest.Digest, instruction, content string) string {
	h := sha256.New()
	fmt.Fprintf(h, "berth-build-v1\x00%s\x00%s\x00%s", parent, instruction, content)
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cache) get(key string) digest.Digest {
	var id digest.Digest
	_ = c.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCache).Get([]byte(key)); v != nil {
			id = digest.Digest(v)
		}
		return nil
	})
	return id
}

func (c *cache) put(key string, id digest.Digest) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCache).Put([]byte(key), []byte(id))
	})
}
