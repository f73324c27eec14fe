package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"beacon/server/servertest"
)

// noisyJPEG is a photo-like JPEG of about a megabyte.
func noisyJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tusReq sends one tus request with a token ("" sends none).
func tusReq(t *testing.T, s *servertest.Server, token, method, path string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func tusCreate(t *testing.T, s *servertest.Server, token, name string, length int) (int, string, []byte) {
	t.Helper()
	resp, b := tusReq(t, s, token, "POST", "/api/v1/uploads", map[string]string{
		"Upload-Length":   strconv.Itoa(length),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte(name)),
	}, nil)
	return resp.StatusCode, resp.Header.Get("Location"), b
}

func tusOffset(t *testing.T, s *servertest.Server, token, loc string) (int, int) {
	t.Helper()
	resp, _ := tusReq(t, s, token, "HEAD", loc, nil, nil)
	off, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	return resp.StatusCode, off
}

func tusPatch(t *testing.T, s *servertest.Server, token, loc string, offset int, chunk []byte) (*http.Response, []byte) {
	t.Helper()
	return tusReq(t, s, token, "PATCH", loc, map[string]string{
		"Upload-Offset": strconv.Itoa(offset),
		"Content-Type":  "application/offset+octet-stream",
	}, chunk)
}

// TestResumableUploadResumesAfterDroppedConnection: a PATCH whose
// connection drops mid-way keeps what arrived; the client asks the
// server's offset, sends the rest from there, and the finished upload is
// a media item whose original is byte-identical to the file.
func TestResumableUploadResumesAfterDroppedConnection(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	data := noisyJPEG(t, 900, 700)
	if len(data) < 500<<10 {
		t.Fatalf("test image is only %d bytes", len(data))
	}
	code, loc, body := tusCreate(t, s, s.Token, "Lobby photo.jpg", len(data))
	if code != 201 || !strings.HasPrefix(loc, "/api/v1/uploads/") {
		t.Fatalf("create: %d %q %s", code, loc, body)
	}

	// Send the head and 60% of the body over a raw connection, then drop it.
	sent := len(data) * 6 / 10
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		loc, s.Addr, s.Token, len(data))
	if _, err := conn.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has written some of it, then cut.
	var off int
	servertest.Eventually(t, 30*time.Second, "the server to store part of the upload", func() bool {
		fi, err := os.Stat(filepath.Join(s.DataDir, "uploads", filepath.Base(loc)))
		return err == nil && fi.Size() >= int64(sent/2)
	})
	conn.Close()
	servertest.Eventually(t, 30*time.Second, "the offset to settle", func() bool {
		var c int
		c, off = tusOffset(t, s, s.Token, loc)
		if c != 200 {
			t.Fatalf("HEAD: %d", c)
		}
		_, again := tusOffset(t, s, s.Token, loc)
		return off > 0 && again == off
	})
	if off <= 0 || off > sent {
		t.Fatalf("offset after the drop: %d (sent %d of %d)", off, sent, len(data))
	}
	t.Logf("dropped after %d of %d bytes; server kept %d", sent, len(data), off)

	// A PATCH at the wrong offset is refused and changes nothing.
	if resp, b := tusPatch(t, s, s.Token, loc, off+1, data[off+1:off+100]); resp.StatusCode != 409 || !strings.Contains(string(b), `"offset_mismatch"`) {
		t.Fatalf("wrong offset: %d %s", resp.StatusCode, b)
	}

	// Resume from the server's offset.
	resp, b := tusPatch(t, s, s.Token, loc, off, data[off:])
	if resp.StatusCode != 201 || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("resume: %d %s (offset %s)", resp.StatusCode, b, resp.Header.Get("Upload-Offset"))
	}
	var m servertest.Media
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" || m.Width != 900 || m.Height != 700 {
		t.Fatalf("finished upload answered %s (%v)", b, err)
	}
	got, err := http.NewRequest("GET", s.URL+"/api/v1/media/"+m.ID+"/original", nil)
	if err != nil {
		t.Fatal(err)
	}
	got.Header.Set("Authorization", "Bearer "+s.Token)
	r2, err := http.DefaultClient.Do(got)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if !bytes.Equal(orig, data) {
		t.Fatalf("original differs from the uploaded file: %d bytes vs %d", len(orig), len(data))
	}
	// As a multipart upload: processed into renditions, listed with its name.
	servertest.Eventually(t, 60*time.Second, "renditions", func() bool {
		var v servertest.Media
		s.Do("GET", "/api/v1/media/"+m.ID, nil, &v)
		return v.Status == "ready" && len(v.Renditions) > 0
	})
	var page mediaPageJSON
	s.Do("GET", "/api/v1/media?q=Lobby", nil, &page)
	if page.Total != 1 || page.Media[0].Filename != "Lobby photo.jpg" {
		t.Fatalf("listed: %+v", page)
	}
	// The upload itself is gone.
	if c, _ := tusOffset(t, s, s.Token, loc); c != 404 {
		t.Fatalf("HEAD after finishing: %d", c)
	}
	// The same bytes again answer the same item (200), as multipart does.
	_, loc2, _ := tusCreate(t, s, s.Token, "again.jpg", len(data))
	resp, b = tusPatch(t, s, s.Token, loc2, 0, data)
	var m2 servertest.Media
	_ = json.Unmarshal(b, &m2)
	if resp.StatusCode != 200 || m2.ID != m.ID {
		t.Fatalf("same bytes again: %d %s", resp.StatusCode, b)
	}
}

func TestResumableUploadRefusals(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MaxUploadBytes: 256 << 10})
	_, otherTok := s.NewOrg("other")
	apiErr := func(b []byte) string {
		var e servertest.APIError
		_ = json.Unmarshal(b, &e)
		return e.Error.Code
	}

	// No token, a viewer, a display token: refused before tus sees it.
	if code, _, b := tusCreate(t, s, "", "a.jpg", 10); code != 401 || apiErr(b) != "unauthorized" {
		t.Fatalf("no auth: %d %s", code, b)
	}
	var tok struct{ Token string }
	s.Do("POST", "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer"}, &tok)
	if code, _, b := tusCreate(t, s, tok.Token, "a.jpg", 10); code != 403 {
		t.Fatalf("viewer: %d %s", code, b)
	}

	// Over the limit: declared, or sent beyond what was declared.
	if code, _, b := tusCreate(t, s, s.Token, "big.jpg", 256<<10+1); code != 413 || apiErr(b) != "too_large" {
		t.Fatalf("over the limit: %d %s", code, b)
	}
	_, loc, _ := tusCreate(t, s, s.Token, "small.jpg", 1000)
	if resp, b := tusPatch(t, s, s.Token, loc, 0, make([]byte, 2000)); resp.StatusCode != 413 {
		t.Fatalf("more than declared: %d %s", resp.StatusCode, b)
	}
	if resp, _ := tusReq(t, s, s.Token, "DELETE", loc, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	// Unknown length.
	resp, b := tusReq(t, s, s.Token, "POST", "/api/v1/uploads", map[string]string{"Upload-Defer-Length": "1"}, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("deferred length: %d %s", resp.StatusCode, b)
	}

	// Another organisation cannot see, resume or cancel an upload.
	_, loc, _ = tusCreate(t, s, s.Token, "mine.jpg", 5000)
	if resp, _ := tusPatch(t, s, s.Token, loc, 0, make([]byte, 100)); resp.StatusCode != 204 {
		t.Fatalf("first chunk: %d", resp.StatusCode)
	}
	if c, _ := tusOffset(t, s, otherTok, loc); c != 404 {
		t.Fatalf("HEAD from another org: %d", c)
	}
	if resp, _ := tusPatch(t, s, otherTok, loc, 100, make([]byte, 100)); resp.StatusCode != 404 {
		t.Fatalf("PATCH from another org: %d", resp.StatusCode)
	}
	if resp, _ := tusReq(t, s, otherTok, "DELETE", loc, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("DELETE from another org: %d", resp.StatusCode)
	}
	if c, off := tusOffset(t, s, s.Token, loc); c != 200 || off != 100 {
		t.Fatalf("owner's upload after the other org tried: %d offset %d", c, off)
	}
	// The owner cancels it: gone.
	if resp, _ := tusReq(t, s, s.Token, "DELETE", loc, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if c, _ := tusOffset(t, s, s.Token, loc); c != 404 {
		t.Fatalf("after cancel: %d", c)
	}
	for _, bad := range []string{"/api/v1/uploads/..%2f..%2fbeacon.db", "/api/v1/uploads/ZZZ"} {
		if c, _ := tusOffset(t, s, s.Token, bad); c != 404 {
			t.Fatalf("HEAD %s: %d", bad, c)
		}
	}

	// A finished upload that is not media is refused as multipart is,
	// and leaves nothing behind.
	text := []byte("this is not an image, a video or a sound\n")
	_, loc, _ = tusCreate(t, s, s.Token, "notes.txt", len(text))
	resp, b = tusPatch(t, s, s.Token, loc, 0, text)
	if resp.StatusCode != 415 || apiErr(b) != "unsupported_media" {
		t.Fatalf("text file: %d %s", resp.StatusCode, b)
	}
	var page mediaPageJSON
	s.Do("GET", "/api/v1/media", nil, &page)
	if page.Total != 0 {
		t.Fatalf("a refused upload left %d items", page.Total)
	}
	entries, _ := os.ReadDir(filepath.Join(s.DataDir, "uploads"))
	if len(entries) != 0 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("uploads left behind: %v", names)
	}
	// A broken JPEG is refused with the multipart upload's code.
	broken := testJPEG(t, 64, 64, color.RGBA{1, 2, 3, 255})
	broken = broken[:len(broken)/2]
	_, loc, _ = tusCreate(t, s, s.Token, "broken.jpg", len(broken))
	resp, b = tusPatch(t, s, s.Token, loc, 0, broken)
	var mp servertest.APIError
	mcode := s.Upload("broken.jpg", broken, &mp)
	if resp.StatusCode != mcode || apiErr(b) != mp.Error.Code {
		t.Fatalf("broken JPEG: tus %d %s, multipart %d %v", resp.StatusCode, b, mcode, mp)
	}
}

// TestResumableUploadWithSessionCookie: the console's cookie admits tus
// requests like any API request: a state-changing one needs the session's
// CSRF token.
func TestResumableUploadWithSessionCookie(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	s.NewUser(s.OrgID, "lan", "editor", "correct horse battery")
	body, _ := json.Marshal(map[string]string{"username": "lan", "password": "correct horse battery"})
	res, err := http.Post(s.URL+"/api/v1/auth/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "beacon_session" {
			cookie = c
		}
	}
	if res.StatusCode != 201 || cookie == nil || sess.CSRF == "" {
		t.Fatalf("sign in: %d %v %q", res.StatusCode, cookie, sess.CSRF)
	}
	data := testJPEG(t, 32, 32, color.RGBA{9, 99, 199, 255})
	send := func(method, path, csrf string, hdr map[string]string, b []byte) *http.Response {
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
		req.AddCookie(cookie)
		req.Header.Set("Tus-Resumable", "1.0.0")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	create := map[string]string{"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("c.jpg"))}
	if r := send("POST", "/api/v1/uploads", "", create, nil); r.StatusCode != 403 {
		t.Fatalf("cookie without CSRF token: %d", r.StatusCode)
	}
	r := send("POST", "/api/v1/uploads", sess.CSRF, create, nil)
	loc := r.Header.Get("Location")
	if r.StatusCode != 201 || loc == "" {
		t.Fatalf("cookie with CSRF token: %d", r.StatusCode)
	}
	if r := send("HEAD", loc, "", nil, nil); r.StatusCode != 200 {
		t.Fatalf("HEAD with the cookie: %d", r.StatusCode)
	}
	patch := map[string]string{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
	if r := send("PATCH", loc, "", patch, data); r.StatusCode != 403 {
		t.Fatalf("PATCH without CSRF token: %d", r.StatusCode)
	}
	if r := send("PATCH", loc, sess.CSRF, patch, data); r.StatusCode != 201 {
		t.Fatalf("PATCH with CSRF token: %d", r.StatusCode)
	}
}
