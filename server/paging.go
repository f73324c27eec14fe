package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Every list endpoint answers one page: `limit` items (default
// defaultPageSize, at most maxPageSize) after the opaque `cursor` of the
// previous page, and `next_cursor` ("" on the last page). A cursor names
// the last item's place in the list's order, not an offset, so items
// added or removed between two pages neither repeat nor skip others.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	// maxListed bounds the journals (jobs, incidents) paged through: the
	// newest maxListed; older entries are kept but not listed.
	maxListed = 10000
)

// pageParams reads limit and cursor (the decoded sort key of the last item
// of the previous page, "" for the first page).
func pageParams(c *fiber.Ctx, def, max int) (limit int, after string, err error) {
	limit = c.QueryInt("limit", def)
	if limit < 1 || limit > max {
		return 0, "", invalid(fmt.Sprintf("limit must be between 1 and %d", max))
	}
	if cur := c.Query("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(b) == 0 {
			return 0, "", invalid("cursor is not one this server gave (use next_cursor as it came)")
		}
		after = string(b)
	}
	return limit, after, nil
}

// maxPageBytes bounds a page's JSON: a page ends before the entry that
// would take it over (it always holds at least one), with a next_cursor.
const maxPageBytes = 4 << 20

// listPage answers one page of a whole list as {field: [...],
// "next_cursor": "..."}. key gives each entry's place in the list's order
// (unique, compared as bytes; descending if desc): the list is sorted by
// it, so the order is the cursor's order. view makes an entry's JSON view
// (nil: leave the entry out, e.g. deleted meanwhile).
func listPage[T any](c *fiber.Ctx, field string, list []T, key func(T) string, desc bool, view func(T) (any, error)) error {
	limit, after, err := pageParams(c, defaultPageSize, maxPageSize)
	if err != nil {
		return err
	}
	keys := make([]string, len(list))
	idx := make([]int, len(list))
	for i := range list {
		keys[i], idx[i] = key(list[i]), i
	}
	before := func(a, b string) bool {
		if desc {
			return a > b
		}
		return a < b
	}
	sort.SliceStable(idx, func(i, j int) bool { return before(keys[idx[i]], keys[idx[j]]) })
	k := 0
	if after != "" {
		k = sort.Search(len(idx), func(i int) bool { return before(after, keys[idx[i]]) })
	}
	out := make([]json.RawMessage, 0, min(limit, len(idx)-k))
	size, next := 0, ""
	for taken := 0; k < len(idx); k++ {
		if taken == limit {
			next = keys[idx[k-1]]
			break
		}
		v, err := view(list[idx[k]])
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if taken > 0 && size+len(b) > maxPageBytes {
			next = keys[idx[k-1]]
			break
		}
		out = append(out, b)
		size += len(b) + 1
		taken++
	}
	if next != "" {
		next = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return c.JSON(fiber.Map{field: out, "next_cursor": next})
}

// sortKey joins the parts of a sort key; NUL sorts before any character
// a name may hold.
func sortKey(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return string(b)
}

// timeKeyLayout formats instants at a fixed width so that they sort as
// text (as the store writes them).
const timeKeyLayout = "2006-01-02T15:04:05.000000000Z"

func timeKey(t time.Time) string { return t.UTC().Format(timeKeyLayout) }

// Timeline and proof-of-play pages. A timeline is computed, not stored:
// its cursor carries the range it was asked for and the (start, zone) of
// the last play given; the next page resumes there.
const (
	defaultTimelinePage = 1000
	maxTimelinePage     = 10000
)

type timelineCursor struct {
	From  int64  `json:"f"` // unix ms
	To    int64  `json:"t"`
	Start int64  `json:"s"` // last play given
	Zone  string `json:"z"`
}

func (tc timelineCursor) encode() string {
	b, _ := json.Marshal(tc)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeTimelineCursor(s string) (timelineCursor, error) {
	var tc timelineCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	// Cursors are not signed: one made by hand gets no more than a query.
	if err != nil || json.Unmarshal(b, &tc) != nil || tc.To <= tc.From || tc.To-tc.From > maxTimelineSpan.Milliseconds() || tc.Start < tc.From || tc.Start >= tc.To {
		return tc, invalid("cursor is not one this server gave (use next_cursor as it came)")
	}
	return tc, nil
}
