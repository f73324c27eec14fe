package bus

import (
	"slices"
	"sync"
)

// Subscription receives the events of one Subscribe call. Read them from C;
// Close when done.
type Subscription struct {
	topics []string
	limit  int
	out    chan Event
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	queue   []Event // messages, and markers never two in a row
	msgs    int     // messages in queue, at most limit
	dropped uint64  // total, for Dropped
	closed  bool

	once    sync.Once
	onClose func(*Subscription) // the Bus forgets the subscription
}

func newSubscription(topics []string, limit int, onClose func(*Subscription)) *Subscription {
	s := &Subscription{
		topics:  slices.Clone(topics),
		limit:   limit,
		out:     make(chan Event),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		onClose: onClose,
	}
	go s.pump()
	return s
}

// C delivers the subscription's events in order. It is closed after Close,
// or when the Bus is closed.
func (s *Subscription) C() <-chan Event { return s.out }

// Topics returns the topics the subscription listens to.
func (s *Subscription) Topics() []string { return slices.Clone(s.topics) }

// Dropped returns how many messages this subscription has lost because its
// buffer was full, in all.
func (s *Subscription) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close ends the subscription: no more events are delivered and C is
// closed. It is idempotent and always returns nil.
func (s *Subscription) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.queue, s.msgs = nil, 0
		s.mu.Unlock()
		close(s.done)
		if s.onClose != nil {
			s.onClose(s)
		}
	})
	return nil
}

// deliver queues a message without ever blocking: past the limit it is
// dropped and counted into a Gap marker at the tail of the queue.
func (s *Subscription) deliver(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.msgs >= s.limit {
		s.dropped++
		s.mark(Event{Kind: Gap, Dropped: 1})
		return
	}
	s.queue = append(s.queue, Event{Kind: Msg, Message: m})
	s.msgs++
	s.signal()
}

// ready queues a Ready event; it is never dropped.
func (s *Subscription) ready() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.mark(Event{Kind: Ready})
}

// mark appends a marker, merging it with a marker already at the tail so
// markers never follow each other and the queue stays bounded: Ready absorbs
// a Gap (both mean "resynchronise"), and counts add up.
func (s *Subscription) mark(e Event) {
	if s.tailIsMarker() {
		t := &s.queue[len(s.queue)-1]
		t.Dropped += e.Dropped
		if e.Kind == Ready {
			t.Kind = Ready
		}
	} else {
		s.queue = append(s.queue, e)
	}
	s.signal()
}

func (s *Subscription) tailIsMarker() bool {
	return len(s.queue) > 0 && s.queue[len(s.queue)-1].Kind != Msg
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump hands queued events to the reader, one at a time.
func (s *Subscription) pump() {
	defer close(s.out)
	for {
		s.mu.Lock()
		var e Event
		ok := len(s.queue) > 0
		if ok {
			e = s.queue[0]
			if e.Kind == Msg {
				s.msgs--
			}
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil // let the backing array go
			}
		}
		s.mu.Unlock()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		select {
		case s.out <- e:
		case <-s.done:
			return
		}
	}
}
