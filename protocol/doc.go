// Package protocol is Beacon's wire protocol between the content server
// (beacon serve) and the players on each screen.
//
// It owns the message envelope, every message type, version negotiation,
// and the Ed25519 signatures on player authentication and manifests. It
// imports no other Beacon package, so a third party can vendor it (or read
// docs/protocol.md and the golden vectors in testdata/) to write a player.
//
// # Transport
//
// A player opens a WebSocket at /player/v1/ws offering the subprotocol
// "beacon.v1" (Subprotocol). Every frame is a JSON text frame holding one
// Envelope. Frames over MaxFrameSize bytes are refused. Media files travel
// over plain HTTP GET with Range and an ETag equal to the file's SHA-256.
//
// # Version history
//
//	1 (beacon.v1): hello/challenge/auth, pairing, signed manifests,
//	   file lists, heartbeats, acks, errors and incidents; then, before
//	   any release, proof_of_play and the manifest's program and
//	   prefetch_days (a v1 reader that ignores them still works: the
//	   additions are a new message type, answered with unknown_type by an
//	   older reader, and new optional fields).
//
// Fields are never reused: a field that is retired is kept and marked
// deprecated, and readers ignore fields they do not know.
package protocol
