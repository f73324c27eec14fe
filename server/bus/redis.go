package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis is the Bus for several servers: Redis pub/sub, one PUBLISH per
// message and one subscriber connection per Bus whatever the number of
// subscriptions. Topic t is the Redis channel prefix+t (WithPrefix).
//
// The subscriber connection is watched: a read error, a failed subscribe or
// a connection that answers no ping for three health intervals is closed
// and replaced (backing off up to WithMaxBackoff while Redis is away), and
// each subscription gets Ready again once its channels are confirmed on the
// new connection.
type Redis struct {
	opts   options
	client *redis.Client
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has stopped
	kick   chan struct{}

	// psMu orders every SUBSCRIBE/UNSUBSCRIBE and connection replacement, so
	// the channel bookkeeping below matches what Redis was asked.
	psMu sync.Mutex

	mu     sync.Mutex
	closed bool
	ps     *redis.PubSub
	epoch  uint64 // one per subscriber connection
	chans  map[string]*channel
	subs   map[*Subscription]*redisSub

	lastSeen atomic.Int64 // unix nanoseconds of the last reply on ps
	bad      atomic.Uint64
}

type channel struct {
	topic     string
	refs      int
	pending   int  // SUBSCRIBEs sent on this connection, not yet confirmed
	confirmed bool // Redis confirmed, nothing pending
	subs      map[*Subscription]struct{}
}

type redisSub struct {
	channels   []string
	readyEpoch uint64
}

// frame layout: version byte, origin length byte, origin, payload.
const frameV1 = 1

// NewRedis returns a Bus on the Redis server named by url
// (redis://[user:password@]host:port/db, rediss:// for TLS, or unix://).
// It does not wait for Redis: a server starts while Redis is away, and its
// subscriptions become Ready when it is back. Ping checks reachability.
func NewRedis(url string, opts ...Option) (*Redis, error) {
	o := buildOptions(opts)
	if len(o.origin) > 255 {
		return nil, fmt.Errorf("bus: origin is %d bytes, at most 255", len(o.origin))
	}
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bus: redis url: %w", err)
	}
	ro.Protocol = 2 // plain pub/sub replies; nothing here needs RESP3
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// A retried PUBLISH could deliver twice; the contract is at most once.
	ro.MaxRetries = -1
	if ro.DialTimeout == 0 || ro.DialTimeout > 2*time.Second {
		ro.DialTimeout = 2 * time.Second
	}
	// With Redis away a publish fails after two tries rather than five; the
	// subscriber connection has its own backoff.
	ro.DialerRetries = 2
	if ValidTopic(o.origin) {
		ro.ClientName = "beacon-bus-" + o.origin
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Redis{
		opts:   o,
		client: redis.NewClient(ro),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		chans:  map[string]*channel{},
		subs:   map[*Subscription]*redisSub{},
	}
	go r.read()
	return r, nil
}

// Origin implements Bus.
func (r *Redis) Origin() string { return r.opts.origin }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if r.isClosed() {
		return ErrClosed
	}
	return r.client.Ping(ctx).Err()
}

// Malformed returns how many received messages were not in this package's
// frame format (published on the namespace by something else) and dropped.
func (r *Redis) Malformed() uint64 { return r.bad.Load() }

func (r *Redis) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Publish implements Bus with one PUBLISH, never retried.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkPublish(ctx, topic, payload); err != nil {
		return err
	}
	if r.isClosed() {
		return ErrClosed
	}
	f := make([]byte, 0, 2+len(r.opts.origin)+len(payload))
	f = append(f, frameV1, byte(len(r.opts.origin)))
	f = append(f, r.opts.origin...)
	f = append(f, payload...)
	if err := r.client.Publish(ctx, r.opts.prefix+topic, f).Err(); err != nil {
		return fmt.Errorf("bus: publish %s: %w", topic, err)
	}
	return nil
}

// Subscribe implements Bus. While Redis is away it may wait for one
// connection attempt (at most 2 s) before returning.
func (r *Redis) Subscribe(ctx context.Context, topics ...string) (*Subscription, error) {
	if err := checkTopics(topics); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newSubscription(dedupe(topics), r.opts.buffer, r.forget)
	rs := &redisSub{}
	var fresh []string

	r.psMu.Lock()
	defer r.psMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		s.onClose = nil
		s.Close()
		return nil, ErrClosed
	}
	r.subs[s] = rs
	for _, t := range s.topics {
		name := r.opts.prefix + t
		rs.channels = append(rs.channels, name)
		c := r.chans[name]
		if c == nil {
			c = &channel{topic: t, subs: map[*Subscription]struct{}{}}
			r.chans[name] = c
		}
		c.subs[s] = struct{}{}
		c.refs++
		if c.refs == 1 {
			fresh = append(fresh, name)
			if r.ps != nil {
				c.pending++
			}
		}
	}
	ps := r.ps
	r.readyLocked(s, rs) // when every channel is already confirmed
	r.mu.Unlock()

	select {
	case r.kick <- struct{}{}:
	default:
	}
	if ps != nil && len(fresh) > 0 {
		sctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		err := ps.Subscribe(sctx, fresh...)
		cancel()
		if err != nil {
			// The connection is in doubt: replace it; the new one subscribes
			// to every channel and Ready follows.
			r.opts.logger.Warn("bus: redis subscribe failed; reconnecting", "err", err)
			_ = ps.Close()
		}
	}
	return s, nil
}

// forget is the Subscription's Close: drop it from the bookkeeping and
// UNSUBSCRIBE the channels nobody else listens to.
func (r *Redis) forget(s *Subscription) {
	r.psMu.Lock()
	defer r.psMu.Unlock()
	r.mu.Lock()
	rs := r.subs[s]
	delete(r.subs, s)
	var gone []string
	if rs != nil {
		for _, name := range rs.channels {
			c := r.chans[name]
			if c == nil {
				continue
			}
			delete(c.subs, s)
			c.refs--
			if c.refs == 0 {
				c.confirmed = false
				gone = append(gone, name)
				if c.pending == 0 {
					delete(r.chans, name)
				}
			}
		}
	}
	ps, closed := r.ps, r.closed
	r.mu.Unlock()
	if ps != nil && !closed && len(gone) > 0 {
		uctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		_ = ps.Unsubscribe(uctx, gone...) // a broken connection forgets them anyway
		cancel()
	}
}

// Close implements Bus.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	subs := make([]*Subscription, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	ps := r.ps
	r.mu.Unlock()
	r.cancel()
	if ps != nil {
		_ = ps.Close()
	}
	for _, s := range subs {
		s.Close()
	}
	<-r.done
	return r.client.Close()
}

// read owns the subscriber connection: it (re)connects, reads and
// dispatches, until Close.
func (r *Redis) read() {
	defer close(r.done)
	backoff := time.Duration(0)
	for {
		if !r.waitForChannels() {
			return
		}
		if backoff > 0 {
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
				return
			}
		}
		ps, epoch, stop := r.connect()
		if ps == nil {
			return
		}
		worked := r.receive(ps, epoch)
		close(stop)
		_ = ps.Close()
		if r.ctx.Err() != nil {
			return
		}
		switch {
		case worked:
			backoff = 0
			r.opts.logger.Warn("bus: redis subscriber connection lost; reconnecting")
		case backoff == 0:
			backoff = 50 * time.Millisecond
		default:
			backoff = min(2*backoff, r.opts.maxBackoff)
		}
	}
}

// waitForChannels blocks until some subscription exists; false after Close.
func (r *Redis) waitForChannels() bool {
	for {
		r.mu.Lock()
		n, closed := len(r.subs), r.closed
		r.mu.Unlock()
		if closed {
			return false
		}
		if n > 0 {
			return true
		}
		select {
		case <-r.kick:
		case <-r.ctx.Done():
			return false
		}
	}
}

// connect starts a new subscriber connection (a new epoch) subscribed to
// every channel in use, and its health check.
func (r *Redis) connect() (*redis.PubSub, uint64, chan struct{}) {
	r.psMu.Lock()
	defer r.psMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, 0, nil
	}
	ps := r.client.Subscribe(r.ctx) // no I/O yet
	r.ps = ps
	r.epoch++
	epoch := r.epoch
	var names []string
	for name, c := range r.chans {
		if c.refs == 0 {
			delete(r.chans, name)
			continue
		}
		c.pending, c.confirmed = 1, false
		names = append(names, name)
	}
	r.mu.Unlock()
	r.lastSeen.Store(time.Now().UnixNano())
	if len(names) > 0 {
		sctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		// An error (Redis away) leaves the channels with go-redis, which
		// sends them when Receive connects; Receive reports the failure.
		_ = ps.Subscribe(sctx, names...)
		cancel()
	}
	stop := make(chan struct{})
	go r.health(ps, stop)
	return ps, epoch, stop
}

// health pings the subscriber connection and closes it when nothing has
// come back for three intervals: a half-open TCP connection gives no error.
func (r *Redis) health(ps *redis.PubSub, stop chan struct{}) {
	every := r.opts.healthEvery
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, r.lastSeen.Load())) > 3*every {
			r.opts.logger.Warn("bus: redis subscriber connection silent; reconnecting", "silent_for", 3*every)
			_ = ps.Close()
			return
		}
		pctx, cancel := context.WithTimeout(r.ctx, every)
		_ = ps.Ping(pctx)
		cancel()
	}
}

// receive reads one connection until it fails; it reports whether the
// connection ever answered.
func (r *Redis) receive(ps *redis.PubSub, epoch uint64) bool {
	worked := false
	for {
		v, err := ps.Receive(r.ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && r.ctx.Err() == nil && worked {
				r.opts.logger.Debug("bus: redis receive", "err", err)
			}
			return worked
		}
		worked = true
		r.lastSeen.Store(time.Now().UnixNano())
		switch m := v.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				r.confirm(epoch, m.Channel)
			}
		case *redis.Message:
			r.dispatch(m)
		}
	}
}

func (r *Redis) confirm(epoch uint64, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if epoch != r.epoch {
		return
	}
	c := r.chans[name]
	if c == nil {
		return
	}
	if c.pending > 0 {
		c.pending--
	}
	if c.pending > 0 {
		return
	}
	if c.refs == 0 {
		delete(r.chans, name)
		return
	}
	c.confirmed = true
	for s := range c.subs {
		r.readyLocked(s, r.subs[s])
	}
}

// readyLocked sends Ready to a subscription whose channels are all
// confirmed on the current connection, once per connection.
func (r *Redis) readyLocked(s *Subscription, rs *redisSub) {
	if rs == nil || rs.readyEpoch == r.epoch || r.ps == nil {
		return
	}
	for _, name := range rs.channels {
		if c := r.chans[name]; c == nil || !c.confirmed {
			return
		}
	}
	rs.readyEpoch = r.epoch
	s.ready()
}

func (r *Redis) dispatch(m *redis.Message) {
	p := m.Payload
	if len(p) < 2 || p[0] != frameV1 || len(p) < 2+int(p[1]) {
		r.bad.Add(1)
		return
	}
	origin := p[2 : 2+int(p[1])]
	body := p[2+int(p[1]):]
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.chans[m.Channel]
	if c == nil {
		return
	}
	for s := range c.subs {
		s.deliver(Message{Topic: c.topic, Origin: origin, Payload: []byte(body)})
	}
}
