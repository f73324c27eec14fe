package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Bus publishes messages to, and subscribes to, named topics shared by every
// server process connected to the same bus. Implementations are safe for
// concurrent use.
type Bus interface {
	// Publish sends a copy of payload to every current subscriber of topic,
	// on this server and on the others. It never waits for a slow
	// subscriber. An error means the message may or may not have been
	// delivered; it is never delivered twice.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe starts a subscription to one or more topics. It returns at
	// once; the subscription's first event is Ready, sent when messages
	// published from then on will be received (with Redis, once the server
	// confirmed the subscription, which can be long if Redis is down).
	Subscribe(ctx context.Context, topics ...string) (*Subscription, error)
	// Origin is the id this Bus stamps on the messages it publishes.
	Origin() string
	// Close ends every subscription of this Bus (their channels are closed)
	// and makes later calls fail with ErrClosed. It is idempotent.
	Close() error
}

// Kind says what an Event is.
type Kind uint8

const (
	// Msg carries a Message.
	Msg Kind = iota + 1
	// Ready says the subscription is in place: sent first, and again after
	// every reconnection. Messages published while disconnected are lost:
	// resynchronise from the store.
	Ready
	// Gap says Dropped messages were lost because the subscription's buffer
	// was full: resynchronise from the store.
	Gap
)

func (k Kind) String() string {
	switch k {
	case Msg:
		return "message"
	case Ready:
		return "ready"
	case Gap:
		return "gap"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event is what a subscription receives.
type Event struct {
	Kind    Kind
	Message Message // when Kind is Msg
	// Dropped is, for Gap and Ready, how many messages this subscription
	// dropped because its buffer was full since its previous event. For
	// Ready it does not count what was lost while disconnected (unknowable).
	Dropped uint64
}

// Message is one published message as a subscriber receives it.
type Message struct {
	Topic  string
	Origin string // the publishing Bus's Origin()
	// Payload is the receiver's own copy.
	Payload []byte
}

// MaxPayload is the largest payload Publish accepts. The bus is for
// doorbells and small records; bulk data belongs in the store.
const MaxPayload = 1 << 20

// MaxTopic is the longest topic name, in bytes.
const MaxTopic = 200

var (
	// ErrClosed is returned by a closed Bus.
	ErrClosed = errors.New("bus: closed")
	// ErrTopic is returned for an empty, too long or non-printable topic.
	ErrTopic = errors.New("bus: invalid topic")
	// ErrTooLarge is returned for a payload over MaxPayload.
	ErrTooLarge = errors.New("bus: payload too large")
)

// ValidTopic reports whether name is usable as a topic: 1 to MaxTopic bytes
// of printable ASCII without spaces.
func ValidTopic(name string) bool {
	if name == "" || len(name) > MaxTopic {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func checkTopics(topics []string) error {
	if len(topics) == 0 {
		return fmt.Errorf("%w: no topic given", ErrTopic)
	}
	for _, t := range topics {
		if !ValidTopic(t) {
			return fmt.Errorf("%w: %q", ErrTopic, t)
		}
	}
	return nil
}

func checkPublish(ctx context.Context, topic string, payload []byte) error {
	if !ValidTopic(topic) {
		return fmt.Errorf("%w: %q", ErrTopic, topic)
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(payload), MaxPayload)
	}
	return ctx.Err()
}

// Option configures a Bus.
type Option func(*options)

type options struct {
	origin      string
	buffer      int
	prefix      string
	logger      *slog.Logger
	healthEvery time.Duration
	maxBackoff  time.Duration
}

func buildOptions(opts []Option) options {
	o := options{buffer: 256, prefix: "beacon:", healthEvery: time.Second, maxBackoff: time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.origin == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.origin = hex.EncodeToString(b[:])
	}
	if o.buffer < 1 {
		o.buffer = 1
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.healthEvery <= 0 {
		o.healthEvery = time.Second
	}
	if o.maxBackoff <= 0 {
		o.maxBackoff = time.Second
	}
	return o
}

// WithOrigin sets the id stamped on published messages, typically the
// server's id. The default is random per Bus. At most 255 bytes.
func WithOrigin(id string) Option { return func(o *options) { o.origin = id } }

// WithBuffer sets how many events each subscription holds for a reader that
// has not caught up (default 256); past that, messages are dropped and a Gap
// is reported.
func WithBuffer(n int) Option { return func(o *options) { o.buffer = n } }

// WithPrefix sets the Redis channel namespace (default "beacon:"): a topic t
// is the Redis channel prefix+t. Servers that share a bus use the same
// prefix; tests use a unique one. The in-process bus ignores it.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithLogger sets where connection losses and recoveries are logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHealthCheck sets how often the Redis subscriber connection is pinged
// (default 1 s). A connection that answers nothing for three intervals is
// dropped and re-established, which emits Ready.
func WithHealthCheck(every time.Duration) Option {
	return func(o *options) { o.healthEvery = every }
}

// WithMaxBackoff caps the wait between Redis reconnection attempts (default
// 1 s).
func WithMaxBackoff(d time.Duration) Option { return func(o *options) { o.maxBackoff = d } }
