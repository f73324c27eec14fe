package server

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// rateLimit is a set of token buckets by key: each key may spend burst
// attempts at once and gets one back every per. It is safe for concurrent
// use and keeps at most maxKeys keys (full buckets are forgotten first).
type rateLimit struct {
	burst float64
	per   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxKeys = 100_000

func newRateLimit(burst int, per time.Duration) *rateLimit {
	return &rateLimit{burst: float64(burst), per: per, now: time.Now, buckets: map[string]*bucket{}}
}

// take spends one attempt of key. When none is left it returns false and
// how long until one is.
func (r *rateLimit) take(key string) (ok bool, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	b := r.buckets[key]
	if b == nil {
		if len(r.buckets) >= maxKeys {
			r.sweep(now)
		}
		b = &bucket{tokens: r.burst, at: now}
		r.buckets[key] = b
	}
	b.tokens = math.Min(r.burst, b.tokens+float64(now.Sub(b.at))/float64(r.per))
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(r.per))
	}
	b.tokens--
	return true, 0
}

// give returns an attempt taken for something that turned out harmless
// (a successful login or claim).
func (r *rateLimit) give(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.buckets[key]; b != nil {
		b.tokens = math.Min(r.burst, b.tokens+1)
	}
}

func (r *rateLimit) sweep(now time.Time) {
	for k, b := range r.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(r.per) >= r.burst {
			delete(r.buckets, k)
		}
	}
	if len(r.buckets) >= maxKeys { // everyone is busy: start over rather than grow
		clear(r.buckets)
	}
}

// tooMany answers 429 with Retry-After in whole seconds (at least 1).
func tooMany(c *fiber.Ctx, wait time.Duration, code, msg string) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return fail(fiber.StatusTooManyRequests, code, msg+"; retry in "+strconv.Itoa(secs)+" s")
}

// clientAddr is the address of the client a request comes from. A request
// from a trusted proxy (Config.TrustedProxies) names its client in
// X-Forwarded-For: the address is the rightmost entry that is not itself a
// trusted proxy, so a client cannot choose its address by sending the
// header itself. Requests from anywhere else are taken at their socket
// address, whatever they send.
func (s *Server) clientAddr(c *fiber.Ctx) string {
	remote, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	remote = remote.Unmap()
	if !s.trusted(remote) {
		return remote.String()
	}
	hops := strings.Split(string(c.Request().Header.Peek(fiber.HeaderXForwardedFor)), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		a, err := netip.ParseAddr(strings.Trim(h, "[]"))
		if err != nil {
			break // garbage: stop at the last address we could read
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		remote = a
	}
	return remote.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes reads a comma-separated list of CIDR prefixes or single
// addresses (--trusted-proxy).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%s: an IPv4-mapped prefix needs at least /96", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func proxyHeader(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}
