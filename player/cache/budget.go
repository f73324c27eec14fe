package cache

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"beacon/protocol"
)

// neededFile keeps, for each cached file, when a manifest last needed it
// (unix seconds). Trim evicts the least recently needed files first.
const neededFile = "needed.json"

// loadNeeded reads the needed index; a missing or damaged index starts empty
// (every file then counts as needed long ago, oldest name first).
func (c *Cache) loadNeeded() {
	c.needed = map[string]int64{}
	b, err := os.ReadFile(filepath.Join(c.dir, neededFile))
	if err != nil {
		return
	}
	_ = json.Unmarshal(b, &c.needed)
}

// Touch records that the files are needed at now (they are listed by the
// current manifest, or about to be shown) and saves the index.
func (c *Cache) Touch(now time.Time, shas ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sha := range shas {
		c.needed[sha] = now.Unix()
	}
	return c.saveNeededLocked()
}

// Used records in memory that sha was needed at now; it is saved with the
// next Touch or Trim.
func (c *Cache) Used(now time.Time, sha string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.needed[sha] < now.Unix() {
		c.needed[sha] = now.Unix()
	}
}

func (c *Cache) saveNeededLocked() error {
	b, err := json.Marshal(c.needed)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, neededFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.dir, neededFile))
}

// Trim keeps the cache within budget bytes. It removes every partial
// download not in keep; then, while the verified files add up to more than
// budget, it removes the files not in keep that were needed least recently
// (files never recorded as needed first). Files in keep are never removed,
// even over budget. It returns how many files it removed.
func (c *Cache) Trim(keep map[string]bool, budget int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	type entry struct {
		sha, path string
		size      int64
		needed    int64
	}
	var files []entry
	var total int64
	removed := 0
	var errs []error
	_ = c.walk(func(sha, path string, fi fs.FileInfo) {
		if filepath.Base(filepath.Dir(path)) == "partial" {
			if !keep[sha] {
				if err := os.Remove(path); err != nil {
					errs = append(errs, err)
				} else {
					removed++
				}
			}
			return
		}
		total += fi.Size()
		if !keep[sha] {
			files = append(files, entry{sha: sha, path: path, size: fi.Size(), needed: c.needed[sha]})
		}
	}, true)
	sort.Slice(files, func(i, j int) bool {
		if files[i].needed != files[j].needed {
			return files[i].needed < files[j].needed
		}
		return files[i].sha < files[j].sha
	})
	for _, f := range files {
		if total <= budget {
			break
		}
		if err := os.Remove(f.path); err != nil {
			errs = append(errs, err)
			continue
		}
		total -= f.size
		delete(c.needed, f.sha)
		removed++
	}
	// Forget files that are gone.
	for sha := range c.needed {
		if !protocol.ValidSHA256(sha) {
			delete(c.needed, sha)
			continue
		}
		if _, err := os.Stat(c.Path(sha)); errors.Is(err, fs.ErrNotExist) {
			delete(c.needed, sha)
		}
	}
	if err := c.saveNeededLocked(); err != nil {
		errs = append(errs, err)
	}
	c.dropEmptyDirsLocked()
	return removed, errors.Join(errs...)
}
