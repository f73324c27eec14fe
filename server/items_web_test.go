package server_test

import (
	"testing"

	"beacon/server/servertest"
)

// TestWebItemSameOrigin: same_origin is kept for web items and refused on
// any other kind, with a clear error.
func TestWebItemSameOrigin(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var web struct {
		ID         string `json:"id"`
		SameOrigin bool   `json:"same_origin"`
	}
	if code := s.Do("POST", "/api/v1/items", map[string]any{"kind": "web", "same_origin": true,
		"variants": map[string]any{"vi": map[string]string{"url": "https://dashboard.example/"}}}, &web); code != 201 || !web.SameOrigin {
		t.Fatalf("web item with same_origin: %d %+v", code, web)
	}
	var got struct {
		SameOrigin bool `json:"same_origin"`
	}
	if code := s.Do("GET", "/api/v1/items/"+web.ID, nil, &got); code != 200 || !got.SameOrigin {
		t.Errorf("GET web item: %d, same_origin %v", code, got.SameOrigin)
	}
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "same_origin": true,
		"variants": map[string]any{"vi": map[string]string{"text": "Xin chào"}}}, &e); code != 400 {
		t.Errorf("text item with same_origin: %d %v", code, e)
	}
}
