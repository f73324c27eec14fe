package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Job is a durable media job (a transcode).
type Job struct {
	ID         string
	OrgID      string
	MediaID    string
	Kind       string
	Spec       string // JSON
	Status     string
	Progress   float64 // 0..100
	ETAS       float64
	Error      string
	Attempts   int
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

const jobCols = `id, org_id, media_id, kind, spec, status, progress, eta_s, error, attempts, created_at, started_at, finished_at`

func scanJob(sc scanner) (Job, error) {
	var j Job
	var c, st, fi sql.NullString
	err := sc.Scan(&j.ID, &j.OrgID, &j.MediaID, &j.Kind, &j.Spec, &j.Status, &j.Progress, &j.ETAS, &j.Error, &j.Attempts, &c, &st, &fi)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	j.CreatedAt, j.StartedAt, j.FinishedAt = parseTS(c), parseTS(st), parseTS(fi)
	return j, err
}

// CreateJob queues a job.
func (s *Store) CreateJob(ctx context.Context, j Job) (Job, error) {
	j.ID = NewID("job")
	j.Status = JobQueued
	j.CreatedAt = s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, org_id, media_id, kind, spec, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.OrgID, j.MediaID, j.Kind, j.Spec, j.Status, ts(j.CreatedAt))
	if err != nil {
		return Job{}, fmt.Errorf("store: create job: %w", err)
	}
	return j, nil
}

// Job returns one job of an organisation.
func (s *Store) Job(ctx context.Context, orgID, id string) (Job, error) {
	return scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE org_id = ? AND id = ?`, orgID, id))
}

// Jobs lists an organisation's jobs, newest first; mediaID filters.
func (s *Store) Jobs(ctx context.Context, orgID, mediaID string, limit int) ([]Job, error) {
	q := `SELECT ` + jobCols + ` FROM jobs WHERE org_id = ?`
	args := []any{orgID}
	if mediaID != "" {
		q += ` AND media_id = ?`
		args = append(args, mediaID)
	}
	q += ` ORDER BY created_at DESC, rowid DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.db, "jobs", scanJob, q, args...)
}

// ClaimJob marks the oldest queued job running and returns it
// (ErrNotFound when the queue is empty).
func (s *Store) ClaimJob(ctx context.Context) (Job, error) {
	var j Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE status = ? ORDER BY created_at, rowid LIMIT 1`, JobQueued))
		if err != nil {
			return err
		}
		j.Status, j.Attempts, j.StartedAt = JobRunning, j.Attempts+1, s.now()
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = ?, attempts = ?, started_at = ?, progress = 0, error = '' WHERE id = ?`, j.Status, j.Attempts, ts(j.StartedAt), j.ID)
		return err
	})
	return j, err
}

// JobProgress records progress of a running job.
func (s *Store) JobProgress(ctx context.Context, id string, percent, etaS float64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET progress = ?, eta_s = ? WHERE id = ? AND status = ?`, percent, etaS, id, JobRunning)
	return err
}

// FinishJob records a job's outcome.
func (s *Store) FinishJob(ctx context.Context, id, status, msg string) error {
	progress := 0.0
	if status == JobDone {
		progress = 100
	}
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, error = ?, progress = CASE WHEN ? > 0 THEN ? ELSE progress END, eta_s = 0, finished_at = ? WHERE id = ?`,
		status, msg, progress, progress, ts(s.now()), id)
	return err
}

// CancelJob marks a queued or running job cancelled; it reports whether it was.
func (s *Store) CancelJob(ctx context.Context, orgID, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, finished_at = ?, error = 'cancelled by a user' WHERE id = ? AND org_id = ? AND status IN (?, ?)`,
		JobCancelled, ts(s.now()), id, orgID, JobQueued, JobRunning)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RequeueRunning puts jobs a previous run left running back in the queue
// (the server was stopped or killed mid-job).
func (s *Store) RequeueRunning(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, progress = 0 WHERE status = ?`, JobQueued, JobRunning)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// JobStatus returns a job's current status (for runners checking for a cancel).
func (s *Store) JobStatus(ctx context.Context, id string) (string, error) {
	var st string
	err := s.db.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return st, err
}

// SetMediaProbe stores a media item's probe and natural length.
func (s *Store) SetMediaProbe(ctx context.Context, id, probe string, durationS float64, w, h int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE media SET probe = ?, duration_s = ?, width = ?, height = ? WHERE id = ?`, probe, durationS, w, h, id)
	return err
}
