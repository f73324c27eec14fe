package player

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"beacon/protocol"
)

// maxIncidents bounds the incidents kept for the server; the oldest go
// first. An incident identical (kind and message) to one still waiting
// for a session is not queued twice, so an impostor the player keeps
// refusing while the real server is away cannot flood the queue.
const maxIncidents = 64

// pendingIncident is an incident kept (in incidents.json) until the pinned
// server acknowledges it.
type pendingIncident struct {
	At       time.Time         `json:"at"`
	Incident protocol.Incident `json:"incident"`
	ref      string            // envelope id of the last send
	sess     *session          // session it was last sent on
}

// loadIncidents reads the incidents a previous run could not deliver.
func (p *Player) loadIncidents() {
	raw, err := os.ReadFile(filepath.Join(p.cfg.DataDir, incidentsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var list []pendingIncident
	if err == nil {
		err = json.Unmarshal(raw, &list)
	}
	if err != nil {
		p.log.Error("pending incidents unreadable; starting without them", "err", err)
		return
	}
	if len(list) > maxIncidents {
		list = list[len(list)-maxIncidents:]
	}
	p.incidents = list
}

// saveIncidentsLocked writes the pending incidents; call with p.mu held.
func (p *Player) saveIncidentsLocked() {
	path := filepath.Join(p.cfg.DataDir, incidentsFile)
	if len(p.incidents) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.log.Warn("remove pending incidents", "err", err)
		}
		return
	}
	raw, err := json.Marshal(p.incidents)
	if err == nil {
		err = writeFileAtomic(path, raw, 0o600)
	}
	if err != nil {
		p.log.Error("save pending incidents", "err", err)
	}
}

// report queues an incident durably and sends it now if a session with
// the pinned server is up, or else when the next one authenticates. It
// leaves the queue only when the server acknowledges it.
func (p *Player) report(inc protocol.Incident) {
	p.mu.Lock()
	for _, q := range p.incidents {
		if q.sess == nil && q.Incident.Kind == inc.Kind && q.Incident.Message == inc.Message {
			p.mu.Unlock()
			return
		}
	}
	if len(p.incidents) >= maxIncidents {
		p.incidents = p.incidents[1:]
	}
	p.incidents = append(p.incidents, pendingIncident{At: p.now().UTC(), Incident: inc})
	p.saveIncidentsLocked()
	s := p.sess
	p.mu.Unlock()
	if s != nil {
		p.sendIncidents(s)
	}
}

// sendIncidents sends every pending incident not yet sent on s.
func (p *Player) sendIncidents(s *session) {
	type out struct {
		frame []byte
	}
	var frames []out
	p.mu.Lock()
	for i := range p.incidents {
		q := &p.incidents[i]
		if q.sess == s {
			continue
		}
		env, err := protocol.New(protocol.TypeIncident, q.Incident)
		if err != nil {
			continue
		}
		frame, err := protocol.Marshal(env)
		if err != nil {
			continue
		}
		q.ref, q.sess = env.ID, s
		frames = append(frames, out{frame})
	}
	p.mu.Unlock()
	for _, f := range frames {
		s.sendFrame(protocol.TypeIncident, f.frame)
	}
}

// onIncidentAck drops the incident an ack refers to.
func (p *Player) onIncidentAck(ref string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.incidents {
		if q.ref == ref && q.sess != nil {
			p.incidents = append(p.incidents[:i], p.incidents[i+1:]...)
			p.saveIncidentsLocked()
			return
		}
	}
}

// PendingIncidents returns the incidents not yet acknowledged by the server.
func (p *Player) PendingIncidents() []protocol.Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]protocol.Incident, len(p.incidents))
	for i, q := range p.incidents {
		out[i] = q.Incident
	}
	return out
}
