package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/store"
)

type jobView struct {
	ID         string     `json:"id"`
	MediaID    string     `json:"media_id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Progress   float64    `json:"progress"` // percent
	ETAS       float64    `json:"eta_s"`
	Error      string     `json:"error,omitempty"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

func viewJob(j store.Job) jobView {
	v := jobView{ID: j.ID, MediaID: j.MediaID, Kind: j.Kind, Status: j.Status, Progress: j.Progress, ETAS: j.ETAS, Error: j.Error, Attempts: j.Attempts, CreatedAt: j.CreatedAt}
	if !j.StartedAt.IsZero() {
		t := j.StartedAt
		v.StartedAt = &t
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt
		v.FinishedAt = &t
	}
	return v
}

func (s *Server) listJobs(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Jobs(ctx, who(c).OrgID, c.Query("media_id"), maxListed)
	if err != nil {
		return err
	}
	return listPage(c, "jobs", list, func(j store.Job) string { return sortKey(timeKey(j.CreatedAt), j.ID) }, true, func(j store.Job) (any, error) {
		return viewJob(j), nil
	})
}

func (s *Server) getJob(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	j, err := s.store.Job(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(viewJob(j))
}

func (s *Server) cancelJob(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	j, err := s.store.Job(ctx, org, c.Params("id"))
	if err != nil {
		return err
	}
	ok, err := s.store.CancelJob(ctx, org, j.ID)
	if err != nil {
		return err
	}
	if !ok {
		return fail(fiber.StatusConflict, "not_cancellable", "the job already ended ("+j.Status+")")
	}
	s.jobs.cancel(j.ID)
	j, _ = s.store.Job(ctx, org, j.ID)
	s.publishJob(j)
	return c.JSON(viewJob(j))
}

// retryMedia queues a failed video or audio item again.
func (s *Server) retryMedia(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	m, err := s.store.Media(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	if m.Kind != "video" && m.Kind != "audio" {
		return invalid("only video and audio items are transcoded")
	}
	kind := jobAudio
	if m.Kind == "video" {
		kind = jobTranscode
	}
	_ = s.store.SetMediaStatus(ctx, m.ID, store.MediaProcessing, "")
	j, err := s.queueJob(ctx, m, kind)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(viewJob(j))
}
