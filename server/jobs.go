package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"beacon/media/worker"
	"beacon/server/store"
)

// MediaWorker runs FFmpeg work in a supervised subprocess
// (worker.Supervisor). Without one, video and audio uploads are refused.
type MediaWorker interface {
	Run(ctx context.Context, job worker.Job, progress func(worker.Progress)) (worker.Result, error)
}

// Job kinds.
const (
	jobTranscode = "transcode" // video: one rendition per display video profile, and a poster
	jobAudio     = "audio"     // audio: one AAC rendition with normalised loudness
)

// jobRunner runs queued media jobs with a pool sized to the cores.
type jobRunner struct {
	s    *Server
	wake chan struct{}

	mu      sync.Mutex
	running map[string]context.CancelFunc // job id → cancel
}

func newJobRunner(s *Server) *jobRunner {
	return &jobRunner{s: s, wake: make(chan struct{}, 1), running: map[string]context.CancelFunc{}}
}

// poolSize: a transcode keeps two or more cores busy (decoder and encoder
// threads), so one job per two cores, at least one.
func poolSize() int { return max(1, runtime.NumCPU()/2) }

func (r *jobRunner) start() {
	n, err := r.s.store.RequeueRunning(r.s.bg)
	if err != nil {
		r.s.log.Error("requeue interrupted jobs", "err", err)
	} else if n > 0 {
		r.s.log.Info("interrupted media jobs queued again", "jobs", n)
	}
	for i := 0; i < poolSize(); i++ {
		r.s.bgDone.Add(1)
		go func() {
			defer r.s.bgDone.Done()
			r.loop()
		}()
	}
}

func (r *jobRunner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *jobRunner) loop() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		for {
			j, err := r.s.store.ClaimJob(r.s.bg)
			if errors.Is(err, store.ErrNotFound) || r.s.bg.Err() != nil {
				break
			}
			if err != nil {
				r.s.log.Error("claim job", "err", err)
				break
			}
			r.run(j)
		}
		select {
		case <-r.s.bg.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// cancel stops a running job (the API marked it cancelled already).
func (r *jobRunner) cancel(id string) {
	r.mu.Lock()
	c := r.running[id]
	r.mu.Unlock()
	if c != nil {
		c()
	}
}

func (r *jobRunner) run(j store.Job) {
	s := r.s
	ctx, cancel := context.WithCancel(s.bg)
	r.mu.Lock()
	r.running[j.ID] = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, j.ID)
		r.mu.Unlock()
		cancel()
	}()
	s.publishJob(j)
	err := r.do(ctx, j)
	status, msg := store.JobDone, ""
	switch {
	case s.bg.Err() != nil:
		return // shutting down: the job stays running and is queued again at the next start
	case ctx.Err() != nil:
		status, msg = store.JobCancelled, "cancelled by a user"
	case err != nil:
		status, msg = store.JobFailed, err.Error()
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	if st, _ := s.store.JobStatus(fctx, j.ID); st == store.JobCancelled {
		status, msg = store.JobCancelled, "cancelled by a user"
	} else if err := s.store.FinishJob(fctx, j.ID, status, msg); err != nil {
		s.log.Error("finish job", "job", j.ID, "err", err)
	}
	if status == store.JobFailed {
		s.log.Warn("media job failed", "job", j.ID, "media", j.MediaID, "err", msg)
		// The item failed only if it has nothing to play at all.
		if rs, _ := s.store.Renditions(fctx, j.MediaID); len(rs) == 0 {
			_ = s.store.SetMediaStatus(fctx, j.MediaID, store.MediaFailed, msg)
		}
	}
	if done, err := s.store.Job(fctx, j.OrgID, j.ID); err == nil {
		s.publishJob(done)
	}
	s.work.kick(j.OrgID) // manifests pick up the new renditions
}

func (s *Server) publishJob(j store.Job) {
	s.events.publish(j.OrgID, Event{Type: "job", Data: viewJob(j)})
}

// do runs one job in the worker and stores what it made.
func (r *jobRunner) do(ctx context.Context, j store.Job) error {
	s := r.s
	if s.cfg.MediaWorker == nil {
		return errors.New("this server has no media worker")
	}
	m, err := s.store.Media(ctx, j.OrgID, j.MediaID)
	if err != nil {
		return err
	}
	outDir, err := os.MkdirTemp(filepath.Join(s.cfg.DataDir, "media", "tmp"), "job-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(outDir)
	job := worker.Job{Input: s.blobs.Path(m.SHA256), OutDir: outDir, Duration: m.DurationS, Options: s.cfg.Encoding}
	profileNames := map[string]string{} // worker profile name → server profile name
	switch j.Kind {
	case jobAudio:
		job.Op = worker.OpAudio
	case jobTranscode:
		job.Op = worker.OpTranscode
		need, err := s.missingVideoProfiles(ctx, m)
		if err != nil {
			return err
		}
		if len(need) == 0 { // no display needs a video rendition yet: the poster is all there is to make
			if err := s.makePoster(ctx, m, outDir); err != nil {
				return err
			}
			return s.store.SetMediaStatus(ctx, m.ID, store.MediaReady, "")
		}
		for name, p := range need {
			job.Profiles = append(job.Profiles, p)
			profileNames[workerProfileKey(p)] = name
		}
	default:
		return fmt.Errorf("unknown job kind %q", j.Kind)
	}
	var last time.Time
	res, err := s.cfg.MediaWorker.Run(ctx, job, func(p worker.Progress) {
		if time.Since(last) < 500*time.Millisecond && p.Percent < 100 {
			return
		}
		last = time.Now()
		_ = s.store.JobProgress(ctx, j.ID, p.Percent, p.ETASeconds)
		s.events.publish(j.OrgID, Event{Type: "job", Data: map[string]any{"id": j.ID, "media_id": j.MediaID, "status": store.JobRunning, "progress": p.Percent, "eta_s": p.ETASeconds}})
	})
	if err != nil {
		return err
	}
	for i, o := range res.Outputs {
		profile := audioProfileName
		if j.Kind == jobTranscode {
			if i >= len(job.Profiles) {
				continue
			}
			profile = profileNames[workerProfileKey(job.Profiles[i])]
		}
		if err := s.storeOutput(ctx, m.ID, profile, o); err != nil {
			return err
		}
	}
	if j.Kind == jobTranscode {
		if err := s.makePoster(ctx, m, outDir); err != nil {
			s.log.Warn("poster", "media", m.ID, "err", err)
		}
	} else if err := s.audioThumb(ctx, m); err != nil {
		s.log.Warn("audio thumbnail", "media", m.ID, "err", err)
	}
	return s.store.SetMediaStatus(ctx, m.ID, store.MediaReady, "")
}

func workerProfileKey(p worker.Profile) string {
	return fmt.Sprintf("%dx%d-%s-%02x%02x%02x-%g-%d-%s-%s", p.Width, p.Height, p.Fit, p.Background.R, p.Background.G, p.Background.B, p.MaxFPS, p.MaxBitrate, p.H264Profile, p.H264Level)
}

// storeOutput moves a finished file into the content-addressed store
// (re-hashing it) and records it as a rendition.
func (s *Server) storeOutput(ctx context.Context, mediaID, profile string, o worker.Output) error {
	f, err := os.Open(o.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := s.blobs.Put(f, 0)
	if err != nil {
		return err
	}
	if o.SHA256 != "" && o.SHA256 != b.SHA256 {
		return fmt.Errorf("rendition %s changed while being stored", profile)
	}
	ct := "video/mp4"
	if profile == audioProfileName {
		ct = "audio/mp4"
	} else if profile == posterProfile {
		ct = "image/jpeg"
	}
	return s.putRendition(ctx, store.Rendition{MediaID: mediaID, Profile: profile, Width: o.Width, Height: o.Height, SHA256: b.SHA256, Size: b.Size, ContentType: ct})
}

// putRendition records a rendition whose file is stored; if that fails
// (the item was deleted meanwhile) the file is not left behind.
func (s *Server) putRendition(ctx context.Context, r store.Rendition) error {
	s.fileMu.RLock()
	err := errors.New("the rendition file was removed as unused while being recorded")
	if s.blobs.Has(r.SHA256) {
		err = s.store.PutRendition(ctx, r)
	}
	s.fileMu.RUnlock()
	if err != nil {
		s.dropUnused(r.SHA256)
	}
	return err
}

// posterProfile names a video's poster frame (poster_url in the media view).
const posterProfile = "poster"

func (s *Server) makePoster(ctx context.Context, m store.Media, outDir string) error {
	rs, err := s.store.Renditions(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Profile == posterProfile {
			return nil
		}
	}
	out := filepath.Join(outDir, "poster.jpg")
	res, err := s.cfg.MediaWorker.Run(ctx, worker.Job{Op: worker.OpPoster, Input: s.blobs.Path(m.SHA256), Output: out, MaxWidth: 640, MaxHeight: 360, Duration: m.DurationS}, nil)
	if err != nil {
		return err
	}
	o := worker.Output{Path: out, Profile: posterProfile}
	if len(res.Outputs) > 0 {
		o = res.Outputs[0]
	}
	if err := s.storeOutput(ctx, m.ID, posterProfile, o); err != nil {
		return err
	}
	return s.thumbFromImage(ctx, m.ID, out)
}

// missingVideoProfiles lists the video profiles the organisation's
// displays need that this item lacks.
func (s *Server) missingVideoProfiles(ctx context.Context, m store.Media) (map[string]worker.Profile, error) {
	displays, err := s.store.Displays(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	have, err := s.store.Renditions(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, r := range have {
		if s.blobs.Has(r.SHA256) {
			done[r.Profile] = true
		}
	}
	need := map[string]worker.Profile{}
	for _, d := range displays {
		name := videoProfileName(d)
		if name == "" || done[name] {
			continue
		}
		p, err := displayProfile(d)
		if err != nil {
			continue
		}
		need[name] = worker.Profile{Width: d.Width, Height: d.Height, Fit: p.Fit, Background: p.Background, MaxFPS: d.MaxFPS,
			MaxBitrate: d.MaxBitrate, H264Profile: d.H264Profile, H264Level: d.H264Level}
	}
	return need, nil
}

// queueMissing queues a job for every video or audio item that lacks a
// rendition its displays need and has no job queued or running.
func (s *Server) queueMissing(ctx context.Context, orgID string) error {
	items, err := s.store.MediaList(ctx, orgID)
	if err != nil {
		return err
	}
	for _, m := range items {
		if m.Kind != "video" && m.Kind != "audio" {
			continue
		}
		jobs, err := s.store.Jobs(ctx, orgID, m.ID, 20)
		if err != nil {
			return err
		}
		busy := false
		for _, j := range jobs {
			if j.Status == store.JobQueued || j.Status == store.JobRunning {
				busy = true
			}
		}
		if busy {
			continue
		}
		kind := jobAudio
		if m.Kind == "video" {
			kind = jobTranscode
			need, err := s.missingVideoProfiles(ctx, m)
			if err != nil {
				return err
			}
			if len(need) == 0 {
				continue
			}
		} else if rs, _ := s.store.Renditions(ctx, m.ID); len(rs) > 0 {
			continue
		}
		if len(jobs) > 0 && jobs[0].Status == store.JobFailed && jobs[0].Attempts >= 1 && m.Status == store.MediaFailed {
			continue // a file that failed stays failed until someone retries it
		}
		if _, err := s.queueJob(ctx, m, kind); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) queueJob(ctx context.Context, m store.Media, kind string) (store.Job, error) {
	spec, _ := json.Marshal(map[string]string{"media_id": m.ID})
	j, err := s.store.CreateJob(ctx, store.Job{OrgID: m.OrgID, MediaID: m.ID, Kind: kind, Spec: string(spec)})
	if err != nil {
		return j, err
	}
	s.publishJob(j)
	s.jobs.kick()
	return j, nil
}
