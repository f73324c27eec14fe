// Package bus carries short messages between Beacon server processes on
// named topics: emergency overrides and their cancellations, commands for a
// display whose player is connected to another server, and "manifest
// changed" doorbells. It owns the Bus contract, an in-process
// implementation (NewLocal) and a Redis pub/sub implementation (NewRedis),
// and nothing else: it imports no other Beacon package, and the meaning of
// a topic or a payload belongs to its callers.
//
// # The store is the truth, the bus is the doorbell
//
// Delivery is at most once. A message can be lost (a subscriber that falls
// behind, a Redis connection that drops, a publish that fails half way) but
// is never duplicated or altered, and a subscriber is told whenever it may
// have missed something:
//
//   - Ready is the first event of every subscription, once it is really
//     subscribed, and comes again after each reconnection to Redis. Whatever
//     was published while the connection was down is lost.
//   - Gap says the subscription's buffer was full and this many messages were
//     dropped for it; publishers never wait for a slow subscriber.
//
// On Ready and on Gap a consumer re-reads the state it cares about from the
// store (active overrides, pending commands); on a message it applies the
// change or re-reads just that record. Because Ready is sent only after the
// subscription is in place, anything written to the store after that re-read
// is announced on the bus, and anything written before it is in the re-read.
//
// A failed Publish is the publisher's to repair: the change is in the store,
// but servers that stayed connected heard nothing, so the publisher
// announces it again once its own subscription is Ready again.
//
// # Ordering
//
// Messages that one Bus publishes on one topic, each Publish returning before
// the next starts, are received in that order by every subscriber (minus the
// ones a Gap reports). Nothing is promised across topics, across publishing
// Buses, or between concurrent Publish calls. A publisher receives its own
// messages when it subscribes to the topic; Message.Origin names the Bus
// that published (WithOrigin, by default a random id), so a server can skip
// its own.
//
// # Limits
//
// Topics are 1 to 200 bytes of printable ASCII without spaces; payloads are
// at most MaxPayload bytes and are copied on publish and for each receiver.
// A subscription buffers WithBuffer events (256 by default); events are read
// from Subscription.C, which is closed when the subscription or its Bus is
// closed.
//
// The conformance suite both implementations pass is in package bustest.
package bus
