package player

import (
	"context"
	"encoding/json"
	"time"

	"beacon/protocol"
)

// proofAckWait is how long a proof_of_play batch may go unacknowledged on
// one session before it is sent again (with the same play IDs).
const proofAckWait = 30 * time.Second

// proofMaxBytes keeps a proof_of_play frame well under protocol.MaxFrameSize.
const proofMaxBytes = protocol.MaxFrameSize * 3 / 4

// proofState is the batch sent and not yet acknowledged.
type proofState struct {
	ref    string   // envelope id of the batch
	ids    []string // play IDs it carried
	sess   *session
	sentAt time.Time
}

// recordPlay journals a play and wakes the sender.
func (p *Player) recordPlay(r protocol.PlayRecord) {
	stored, err := p.journal.Append(r)
	if err != nil {
		p.log.Error("proof of play not journalled", "err", err, "item_id", r.ItemID, "zone", r.Zone)
		return
	}
	p.log.Debug("play", "id", stored.ID, "zone", stored.Zone, "item_id", stored.ItemID, "start", stored.Start, "end", stored.End)
	p.kickProof()
}

func (p *Player) kickProof() {
	select {
	case p.proofKick <- struct{}{}:
	default:
	}
}

// proofLoop sends journalled plays to the server, one batch at a time,
// whenever a session is up. A batch leaves the journal only when the
// server acknowledges that very message.
func (p *Player) proofLoop(ctx context.Context) {
	t := time.NewTicker(proofAckWait / 4)
	defer t.Stop()
	for {
		p.flushProof()
		select {
		case <-ctx.Done():
			return
		case <-p.proofKick:
		case <-t.C:
		}
	}
}

// flushProof sends the next batch unless one is waiting for its ack.
func (p *Player) flushProof() {
	p.mu.Lock()
	s := p.sess
	inflight := p.proof
	p.mu.Unlock()
	if s == nil {
		return
	}
	if inflight.ref != "" && inflight.sess == s && time.Since(inflight.sentAt) < proofAckWait {
		return
	}
	recs := p.journal.Pending(protocol.MaxPlayRecords)
	if len(recs) == 0 {
		return
	}
	size := 0
	for i, r := range recs {
		b, _ := json.Marshal(r)
		size += len(b) + 1
		if size > proofMaxBytes && i > 0 {
			recs = recs[:i]
			break
		}
	}
	env, err := protocol.New(protocol.TypeProofOfPlay, protocol.ProofOfPlay{Records: recs})
	if err != nil {
		p.log.Error("encode proof_of_play", "err", err)
		return
	}
	frame, err := protocol.Marshal(env)
	if err != nil {
		p.log.Error("encode proof_of_play", "err", err)
		return
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	p.mu.Lock()
	if p.sess != s {
		p.mu.Unlock()
		return
	}
	p.proof = proofState{ref: env.ID, ids: ids, sess: s, sentAt: time.Now()}
	p.mu.Unlock()
	s.sendFrame(protocol.TypeProofOfPlay, frame)
}

// onAck handles an ack from the server; an ack of the batch in flight
// drops its plays from the journal and sends the next batch.
func (p *Player) onAck(env protocol.Envelope) {
	var a protocol.Ack
	if err := env.DecodeBody(&a); err != nil || a.Ref == "" {
		return
	}
	p.mu.Lock()
	if p.proof.ref != a.Ref {
		p.mu.Unlock()
		return
	}
	ids := p.proof.ids
	p.mu.Unlock()
	// The batch stays in flight until the journal has dropped it, so it is
	// never picked up for sending again.
	if err := p.journal.Ack(ids); err != nil {
		p.log.Error("journal ack", "err", err)
	}
	p.mu.Lock()
	if p.proof.ref == a.Ref {
		p.proof = proofState{}
	}
	p.mu.Unlock()
	p.log.Debug("proof of play acknowledged", "plays", len(ids))
	p.kickProof()
}
