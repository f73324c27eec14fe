package server

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
	"beacon/server/store"
)

type clusterRequest struct {
	Name      string              `json:"name"`
	Location  string              `json:"location"`
	Latitude  *float64            `json:"latitude"`
	Longitude *float64            `json:"longitude"`
	Timezone  string              `json:"timezone"`
	Hours     []playlists.Window  `json:"hours"`
	Holidays  []playlists.Holiday `json:"holidays"`
}

type clusterView struct {
	ID        string              `json:"id"`
	Name      string              `json:"name"`
	Location  string              `json:"location"`
	Latitude  *float64            `json:"latitude"`
	Longitude *float64            `json:"longitude"`
	Timezone  string              `json:"timezone"`
	Hours     []playlists.Window  `json:"hours"`
	Holidays  []playlists.Holiday `json:"holidays"`
	Displays  []string            `json:"display_ids"`
	UpdatedAt time.Time           `json:"updated_at"`
}

func (s *Server) clusterView(c store.Cluster, displays []store.Display) clusterView {
	v := clusterView{ID: c.ID, Name: c.Name, Location: c.Location, Latitude: c.Latitude, Longitude: c.Longitude, Timezone: c.Timezone,
		UpdatedAt: c.UpdatedAt, Displays: []string{}, Hours: []playlists.Window{}, Holidays: []playlists.Holiday{}}
	_ = json.Unmarshal([]byte(c.Hours), &v.Hours)
	_ = json.Unmarshal([]byte(c.Holidays), &v.Holidays)
	if len(v.Hours) == 0 {
		v.Hours = playlists.DefaultHours
	}
	for _, d := range displays {
		if d.ClusterID == c.ID {
			v.Displays = append(v.Displays, d.ID)
		}
	}
	return v
}

func (s *Server) checkCluster(c *fiber.Ctx) (store.Cluster, error) {
	var req clusterRequest
	if err := decodeJSON(c, &req); err != nil {
		return store.Cluster{}, err
	}
	if err := checkName("name", &req.Name, true); err != nil {
		return store.Cluster{}, err
	}
	if err := checkLen("location", req.Location, maxLocationLen); err != nil {
		return store.Cluster{}, err
	}
	if err := checkCount("hours", len(req.Hours), maxListLen); err != nil {
		return store.Cluster{}, err
	}
	if err := checkCount("holidays", len(req.Holidays), maxListLen); err != nil {
		return store.Cluster{}, err
	}
	for i := range req.Holidays {
		if err := checkName(fmt.Sprintf("holidays[%d].name", i), &req.Holidays[i].Name, false); err != nil {
			return store.Cluster{}, err
		}
		if err := checkCount(fmt.Sprintf("holidays[%d].hours", i), len(req.Holidays[i].Hours), maxListLen); err != nil {
			return store.Cluster{}, err
		}
	}
	if req.Timezone == "" {
		req.Timezone = playlists.DefaultTimezone
	}
	if req.Latitude != nil && (*req.Latitude < -90 || *req.Latitude > 90) || req.Longitude != nil && (*req.Longitude < -180 || *req.Longitude > 180) {
		return store.Cluster{}, invalid("latitude must be within ±90 and longitude within ±180")
	}
	if len(req.Hours) == 0 {
		req.Hours = playlists.DefaultHours
	}
	if req.Holidays == nil {
		req.Holidays = []playlists.Holiday{}
	}
	if err := trialProgram(playlists.Program{Timezone: req.Timezone, Hours: req.Hours, Holidays: req.Holidays}); err != nil {
		return store.Cluster{}, err
	}
	if err := trialTimezone(req.Timezone); err != nil {
		return store.Cluster{}, err
	}
	hours, _ := json.Marshal(req.Hours)
	hol, _ := json.Marshal(req.Holidays)
	return store.Cluster{OrgID: who(c).OrgID, Name: req.Name, Location: req.Location, Latitude: req.Latitude, Longitude: req.Longitude,
		Timezone: req.Timezone, Hours: string(hours), Holidays: string(hol)}, nil
}

func trialTimezone(tz string) error {
	if _, err := time.LoadLocation(tz); err != nil {
		return invalid("timezone must be an IANA name such as Asia/Ho_Chi_Minh")
	}
	return nil
}

func (s *Server) createCluster(c *fiber.Ctx) error {
	cl, err := s.checkCluster(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	if cl, err = s.store.CreateCluster(ctx, cl); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.clusterView(cl, nil))
}

func (s *Server) updateCluster(c *fiber.Ctx) error {
	cl, err := s.checkCluster(c)
	if err != nil {
		return err
	}
	cl.ID = c.Params("id")
	ctx, cancel := s.timeout()
	defer cancel()
	release, err := s.preflight(ctx, cl.OrgID, func(oc *orgContent, ds []store.Display) ([]store.Display, error) {
		oc.clusters[cl.ID] = cl
		return ds, nil
	})
	if err != nil {
		return err
	}
	defer release()
	cl, err = s.store.UpdateCluster(ctx, cl)
	if err != nil {
		return err
	}
	s.changed(cl.OrgID)
	ds, _ := s.store.Displays(ctx, cl.OrgID)
	return c.JSON(s.clusterView(cl, ds))
}

func (s *Server) deleteCluster(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	err := s.store.DeleteCluster(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	s.changed(who(c).OrgID)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) getCluster(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	cl, err := s.store.Cluster(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	ds, _ := s.store.Displays(ctx, cl.OrgID)
	return c.JSON(s.clusterView(cl, ds))
}

func (s *Server) listClusters(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	list, err := s.store.Clusters(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	ds, err := s.store.Displays(ctx, who(c).OrgID)
	if err != nil {
		return err
	}
	return listPage(c, "clusters", list, func(cl store.Cluster) string { return sortKey(cl.Name, cl.ID) }, false, func(cl store.Cluster) (any, error) {
		return s.clusterView(cl, ds), nil
	})
}
