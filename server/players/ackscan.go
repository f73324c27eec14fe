package players

import (
	"strconv"
	"time"

	"beacon/protocol"
)

// scanAck decodes an override_ack frame without reflection or recursion.
// A fleet sends two per player and override, all within the same second,
// and the session's reader decodes them on its own stack, which must stay
// small (see next): encoding/json's recursive decoder grew every reader
// to 8 KB for good. scanAck reads only the plain form players write: the
// envelope's keys type, id, ts and body, and the body's id, revision,
// state, at, painted_at and error, each once, in any order, with ASCII
// strings without escapes, an integer revision and RFC 3339 times. For
// anything else (unknown or repeated keys, escapes, null, other numbers,
// trailing bytes) it reports false and the frame takes the general path,
// which decodes it exactly or answers the error; for what it accepts it
// returns what the general path would.
func scanAck(frame []byte) (protocol.Envelope, protocol.OverrideAck, bool) {
	var env protocol.Envelope
	var ack protocol.OverrideAck
	sc := ackScanner{b: frame}
	var seen, bodySeen uint16
	ok := sc.object(func(key []byte) bool {
		bit := envKeyBit(key)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch bit {
		case envType:
			s, ok := sc.str()
			env.Type = s
			return ok && s == protocol.TypeOverrideAck
		case envID:
			s, ok := sc.str()
			env.ID = s
			return ok
		case envTS:
			return sc.time(&env.TS)
		default: // body
			return sc.object(func(key []byte) bool {
				bit := bodyKeyBit(key)
				if bit == 0 || bodySeen&bit != 0 {
					return false
				}
				bodySeen |= bit
				var ok bool
				switch bit {
				case bodyID:
					ack.ID, ok = sc.str()
				case bodyRevision:
					ack.Revision, ok = sc.int()
				case bodyState:
					ack.State, ok = sc.str()
				case bodyAt:
					ok = sc.time(&ack.At)
				case bodyPaintedAt:
					ok = sc.time(&ack.PaintedAt)
				default:
					ack.Error, ok = sc.str()
				}
				return ok
			})
		}
	})
	sc.space()
	if !ok || sc.i != len(sc.b) || seen&(envType|envBody) != envType|envBody || ack.Check() != nil {
		return protocol.Envelope{}, protocol.OverrideAck{}, false
	}
	return env, ack, true
}

const (
	envType uint16 = 1 << iota
	envID
	envTS
	envBody
)

const (
	bodyID uint16 = 1 << iota
	bodyRevision
	bodyState
	bodyAt
	bodyPaintedAt
	bodyError
)

func envKeyBit(k []byte) uint16 {
	switch string(k) {
	case "type":
		return envType
	case "id":
		return envID
	case "ts":
		return envTS
	case "body":
		return envBody
	}
	return 0
}

func bodyKeyBit(k []byte) uint16 {
	switch string(k) {
	case "id":
		return bodyID
	case "revision":
		return bodyRevision
	case "state":
		return bodyState
	case "at":
		return bodyAt
	case "painted_at":
		return bodyPaintedAt
	case "error":
		return bodyError
	}
	return 0
}

type ackScanner struct {
	b []byte
	i int
}

func (s *ackScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *ackScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}; member reads each value.
func (s *ackScanner) object(member func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || !s.byte(':') {
			return false
		}
		s.space()
		if !member(key) {
			return false
		}
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

// raw reads a string of printable ASCII without escapes and returns its
// bytes (not copied).
func (s *ackScanner) raw() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		s.i++
	}
	return nil, false
}

func (s *ackScanner) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// int reads an integer as encoding/json does for an int64 field: no
// fraction, no exponent, in range.
func (s *ackScanner) int() (int64, bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || n > 1 && s.b[digits] == '0' {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return v, err == nil
}

// time reads a time as time.Time's UnmarshalJSON does (it is given the
// quoted string, as encoding/json gives it).
func (s *ackScanner) time(t *time.Time) bool {
	start := s.i
	if _, ok := s.raw(); !ok {
		return false
	}
	return t.UnmarshalJSON(s.b[start:s.i]) == nil
}
