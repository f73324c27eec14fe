package bus

import (
	"bytes"
	"context"
	"sync"
)

// Local is the in-process Bus: a hub that fans each message out to the
// subscriptions of every handle connected to it. One server alone uses one
// Local; Peer gives further handles on the same hub, which behave like other
// servers on a shared Redis (tests use them so).
type Local struct {
	hub  *hub
	opts options

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

type hub struct {
	mu     sync.RWMutex
	topics map[string]map[*Subscription]struct{}
}

// NewLocal returns an in-process Bus on a new hub.
func NewLocal(opts ...Option) *Local {
	return newLocal(&hub{topics: map[string]map[*Subscription]struct{}{}}, opts)
}

func newLocal(h *hub, opts []Option) *Local {
	return &Local{hub: h, opts: buildOptions(opts), subs: map[*Subscription]struct{}{}}
}

// Peer returns another handle on the same hub, with its own options
// (origin, buffer) and its own Close.
func (l *Local) Peer(opts ...Option) *Local { return newLocal(l.hub, opts) }

// Origin implements Bus.
func (l *Local) Origin() string { return l.opts.origin }

// Publish implements Bus. Delivery is done before it returns.
func (l *Local) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkPublish(ctx, topic, payload); err != nil {
		return err
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	l.hub.mu.RLock()
	defer l.hub.mu.RUnlock()
	for s := range l.hub.topics[topic] {
		s.deliver(Message{Topic: topic, Origin: l.opts.origin, Payload: bytes.Clone(payload)})
	}
	return nil
}

// Subscribe implements Bus. The Ready event is queued before it returns.
func (l *Local) Subscribe(ctx context.Context, topics ...string) (*Subscription, error) {
	if err := checkTopics(topics); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newSubscription(dedupe(topics), l.opts.buffer, l.forget)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		s.Close()
		return nil, ErrClosed
	}
	l.subs[s] = struct{}{}
	l.mu.Unlock()

	l.hub.mu.Lock()
	for _, t := range s.topics {
		m := l.hub.topics[t]
		if m == nil {
			m = map[*Subscription]struct{}{}
			l.hub.topics[t] = m
		}
		m[s] = struct{}{}
	}
	l.hub.mu.Unlock()
	s.ready()
	return s, nil
}

func (l *Local) forget(s *Subscription) {
	l.mu.Lock()
	delete(l.subs, s)
	l.mu.Unlock()
	l.hub.mu.Lock()
	for _, t := range s.topics {
		if m := l.hub.topics[t]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(l.hub.topics, t)
			}
		}
	}
	l.hub.mu.Unlock()
}

// Close implements Bus. Other handles on the hub are not affected.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	subs := make([]*Subscription, 0, len(l.subs))
	for s := range l.subs {
		subs = append(subs, s)
	}
	l.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	return nil
}

func dedupe(topics []string) []string {
	out := make([]string, 0, len(topics))
	seen := map[string]bool{}
	for _, t := range topics {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
