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
//	   Then, still before any release, the player trusts only its pinned
//	   server: hello carries a 32-byte nonce; the challenge carries the
//	   server's signature over the player's key, that nonce and its own
//	   nonce ("beacon.v1 challenge\n"), which a paired player checks with
//	   the pinned key before it signs anything; the auth signature covers
//	   the server's key as well as the nonce and the player's key, under
//	   the new context "beacon.v1 auth+server\n" (the old form is no
//	   longer accepted); new message unpair (S→P, signed under
//	   "beacon.v1 unpair\n", bound to the display, the player key and the
//	   hello nonce); incident kinds server_key_mismatch and
//	   unexpected_pairing; the server acks incidents.
//	   Then emergency overrides: hello's capabilities (a player that
//	   announces "override" gets them); auth_ok and paired carry org_id;
//	   new messages override (S→P, SignedOverride under
//	   "beacon.v1 override\n", one frame for every targeted display, the
//	   audience named inside the signed spec), override_cancel (S→P,
//	   signed under "beacon.v1 override_cancel\n", bound to the
//	   organisation) and override_ack (P→S: received, painted with the
//	   instant the renderer painted it, ended or refused).
//	   Then the override spec's default_languages: the order of its texts
//	   on a display that has no languages of its own.
//	   Then every manifest carries a program (Manifest.Check refuses one
//	   without): the plain playlist is deprecated, always empty and
//	   ignored. A manifest body of the wrong shape, or a verified payload
//	   that fails its checks, is ErrMalformed (answered malformed), not
//	   ErrBadSignature. Shown picks the override a display shows
//	   (docs/evaluation.md §15).
//
// Fields are never reused: a field that is retired is kept and marked
// deprecated, and readers ignore fields they do not know.
package protocol
