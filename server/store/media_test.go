package store

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
)

// TestDeleteMedia: deleting an item returns its original and renditions
// and drops its rows; a playlist entry that refers to it makes the delete
// a conflict (nothing removed); files shared by content stay in use while
// another item holds them.
func TestDeleteMedia(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.CreateOrg(ctx, "A")
	b, _ := s.CreateOrg(ctx, "B")
	orig, rend := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ma, _, err := s.CreateMedia(ctx, Media{OrgID: a.ID, SHA256: orig, Filename: "x.jpg", Kind: "image", Status: MediaReady})
	if err != nil {
		t.Fatal(err)
	}
	mb, _, _ := s.CreateMedia(ctx, Media{OrgID: b.ID, SHA256: orig, Filename: "y.jpg", Kind: "image", Status: MediaReady})
	for _, m := range []Media{ma, mb} {
		if err := s.PutRendition(ctx, Rendition{MediaID: m.ID, Profile: "thumb", SHA256: rend, ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := s.CreatePlaylist(ctx, Playlist{OrgID: a.ID, Name: "Loop", Items: []PlaylistItem{{MediaID: ma.ID, DurationS: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMedia(ctx, a.ID, ma.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete media in a playlist: %v, want ErrConflict", err)
	}
	if _, err := s.Media(ctx, a.ID, ma.ID); err != nil {
		t.Fatalf("a refused delete removed the item: %v", err)
	}
	if err := s.DeletePlaylist(ctx, a.ID, pl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMedia(ctx, b.ID, ma.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another organisation deletes the item: %v", err)
	}
	shas, err := s.DeleteMedia(ctx, a.ID, ma.ID)
	sort.Strings(shas)
	if err != nil || len(shas) != 2 || shas[0] != orig || shas[1] != rend {
		t.Fatalf("delete: %v %v", shas, err)
	}
	if rs, _ := s.Renditions(ctx, ma.ID); len(rs) != 0 {
		t.Fatalf("renditions left: %v", rs)
	}
	for _, sha := range shas {
		if used, err := s.FileInUse(ctx, sha); err != nil || !used {
			t.Fatalf("%s is B's too, but FileInUse = %v %v", sha[:4], used, err)
		}
	}
	if _, err := s.DeleteMedia(ctx, b.ID, mb.ID); err != nil {
		t.Fatal(err)
	}
	for _, sha := range shas {
		if used, _ := s.FileInUse(ctx, sha); used {
			t.Fatalf("%s in use after both items were deleted", sha[:4])
		}
	}
}
