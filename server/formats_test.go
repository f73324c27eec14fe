package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"beacon/server/servertest"
)

// corpusFile is one upload of the formats corpus and what must become of
// it.
type corpusFile struct {
	name string
	data []byte
	// Accepted files: the item's kind and content type, its size, and for
	// pictures the colour at the centre of the 640×360 panel rendition.
	kind, ctype string
	w, h        int
	centre      *color.RGBA
	duration    float64 // video and audio: seconds, ±0.3
	// Refused files: the status, error code and a phrase of the message.
	status int
	code   string
	phrase string
}

// buildCorpus makes the corpus with real tools: Go's encoders, the ffmpeg
// command line, SoX (when installed).
func buildCorpus(t *testing.T) []corpusFile {
	t.Helper()
	ff := needFFmpeg(t)
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		if b, err := exec.Command(ff, append(append([]string{"-v", "error", "-y"}, args...), out)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", name, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	red := &color.RGBA{255, 0, 0, 255}
	blue := &color.RGBA{0, 0, 255, 255}
	black := &color.RGBA{0, 0, 0, 255}

	// A 2:1 logo: left half red, right half blue (the centre of the
	// panel is on the boundary, so sample a little left of it).
	logo := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100"><rect width="100" height="100" fill="#f00"/><rect x="100" width="100" height="100" fill="#00f"/></svg>`
	var svgz bytes.Buffer
	zw := gzip.NewWriter(&svgz)
	zw.Write([]byte(logo))
	zw.Close()
	latin1 := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"200\"><title>Caf\xe9</title><rect width=\"400\" height=\"200\" fill=\"red\"/></svg>")
	var u16 []byte
	u16 = append(u16, 0xFF, 0xFE)
	for _, r := range `<?xml version="1.0" encoding="UTF-16"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><title>Grüße</title><rect width="400" height="200" fill="blue"/></svg>` {
		u16 = append(u16, byte(r), byte(r>>8))
	}
	photo := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for i := range photo.Pix {
		photo.Pix[i] = []byte{255, 0, 0, 255}[i%4]
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, photo, nil)
	embedded := `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="640" height="320"><image width="640" height="320" preserveAspectRatio="none" xlink:href="data:image/jpeg;base64,` +
		base64.StdEncoding.EncodeToString(jb.Bytes()) + `"/></svg>`
	nosize := `<svg xmlns="http://www.w3.org/2000/svg"><rect x="0" y="0" width="300" height="150" fill="#00f"/></svg>`
	lol := "<!DOCTYPE svg [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><svg xmlns=\"http://www.w3.org/2000/svg\"><text>&b;</text></svg>"

	// Animations: Go's GIF encoder and FFmpeg's APNG and animated WebP.
	anim := func(frames, w, h int, delay int) []byte {
		g := &gif.GIF{}
		pal := color.Palette{color.RGBA{}, color.RGBA{0, 255, 0, 255}}
		for n := range frames {
			img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
			img.SetColorIndex(n%w, n%h, 1)
			g.Image = append(g.Image, img)
			g.Delay = append(g.Delay, delay)
		}
		var b bytes.Buffer
		if err := gif.EncodeAll(&b, g); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var still bytes.Buffer
	gif.Encode(&still, photo, nil)
	var stillPNG bytes.Buffer
	png.Encode(&stillPNG, photo)
	src := []string{"-f", "lavfi", "-i", "testsrc2=s=160x90:r=10:d=2"}

	// Audio.
	tone := []string{"-f", "lavfi", "-i", "sine=f=440:d=3,volume=0.3"}
	mp3 := run("tone.mp3", append(tone, "-c:a", "libmp3lame")...)
	rng := rand.New(rand.NewPCG(7, 7))
	junk := make([]byte, 200_000)
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}

	files := []corpusFile{
		{name: "logo.svg", data: []byte(logo), kind: "image", ctype: "image/svg+xml", w: 256, h: 128, centre: red},
		{name: "logo.svgz", data: svgz.Bytes(), kind: "image", ctype: "image/svg+xml", w: 256, h: 128, centre: red},
		{name: "legacy-latin1.svg", data: latin1, kind: "image", ctype: "image/svg+xml", w: 400, h: 200, centre: red},
		{name: "utf16.svg", data: u16, kind: "image", ctype: "image/svg+xml", w: 400, h: 200, centre: blue},
		{name: "embedded-jpeg.svg", data: []byte(embedded), kind: "image", ctype: "image/svg+xml", w: 640, h: 320, centre: red},
		{name: "no-size.svg", data: []byte(nosize), kind: "image", ctype: "image/svg+xml", w: 300, h: 150, centre: blue},
		{name: "hostile.svg", data: []byte(strings.Replace(evilSVGFor("127.0.0.1:9", "/nonexistent"), "</svg>", `<rect width="400" height="200" fill="red"/></svg>`, 1)), kind: "image", ctype: "image/svg+xml", w: 400, h: 200, centre: red},
		{name: "laughs.svg", data: []byte(lol), status: 415, code: "unsupported_media", phrase: "not supported"},
		{name: "cut.svg", data: []byte(logo[:len(logo)/2]), status: 422, code: "corrupt_media", phrase: "not well-formed"},
		{name: "anim.gif", data: anim(20, 64, 36, 10), kind: "video", ctype: "image/gif", w: 64, h: 36, duration: 2, centre: black},
		{name: "anim.png", data: run("anim.apng", append(src, "-plays", "0", "-f", "apng")...), kind: "video", ctype: "image/apng", w: 160, h: 90, duration: 2},
		{name: "anim.webp", data: run("anim.webp", append(src, "-c:v", "libwebp_anim", "-loop", "0")...), kind: "video", ctype: "image/webp", w: 160, h: 90, duration: 2},
		{name: "cut-anim.webp", data: func() []byte {
			b := run("cut.webp", append(src, "-c:v", "libwebp_anim", "-loop", "0")...)
			return b[:len(b)/2]
		}(),
			status: 422, code: "corrupt_media", phrase: "damaged"},
		{name: "still.gif", data: still.Bytes(), kind: "image", ctype: "image/gif", w: 64, h: 32, centre: red},
		{name: "still.webp", data: run("still.webp", "-f", "lavfi", "-i", "color=c=red:s=64x32", "-frames:v", "1", "-c:v", "libwebp"),
			kind: "image", ctype: "image/webp", w: 64, h: 32, centre: red},
		{name: "still.png", data: stillPNG.Bytes(), kind: "image", ctype: "image/png", w: 64, h: 32, centre: red},
		{name: "flood.gif", data: anim(5000, 2, 2, 2), status: 422, code: "image_too_large", phrase: "animation has 5000 frames; the limit is 3000 frames"},
		{name: "endless.gif", data: anim(2, 2, 2, 40000), status: 422, code: "image_too_large", phrase: "animation lasts 800 seconds; the limit is 600 seconds"},
		{name: "ima-adpcm.wav", data: run("ima.wav", append(tone, "-ac", "2", "-c:a", "adpcm_ima_wav")...), kind: "audio", duration: 3},
		{name: "junk-first.mp3", data: append(junk, mp3...), kind: "audio", duration: 3},
		{name: "silence.wav", data: run("silence.wav", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "3"), kind: "audio", duration: 3},
		{name: "clipped.wav", data: run("clipped.wav", "-f", "lavfi", "-i", "aevalsrc=if(lt(mod(t*3000\\,1)\\,0.5)\\,1\\,-1):d=3:s=44100"), kind: "audio", duration: 3},
	}
	if sox, err := exec.LookPath("sox"); err == nil {
		p := filepath.Join(dir, "sox-ima.wav")
		if b, err := exec.Command(sox, "-n", "-r", "11025", "-c", "1", "-e", "ima-adpcm", p, "synth", "3", "sine", "440").CombinedOutput(); err != nil {
			t.Fatalf("sox: %v %s", err, b)
		}
		b, _ := os.ReadFile(p)
		files = append(files, corpusFile{name: "sox-ima-adpcm.wav", data: b, kind: "audio", duration: 3})
	}
	return files
}

// evilSVGFor is an SVG that tries every way to reach host (an HTTP
// listener) and path (a local file), and to run script.
func evilSVGFor(host, path string) string {
	u := "http://" + host
	return `<?xml version="1.0"?>
<?xml-stylesheet href="` + u + `/pi.css" type="text/css"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="400" height="200" onload="fetch('` + u + `/onload')">
<script>fetch('` + u + `/script')</script>
<script href="` + u + `/script.js"/>
<style>@import url(` + u + `/import.css); @import "` + u + `/import2.css"; rect { fill: url(` + u + `/fill.svg#p) }
@font-face { font-family: f; src: url(` + u + `/font.woff) } text { font-family: f; background: url(file://` + path + `) }</style>
<rect width="10" height="10" style="fill:url('` + u + `/style.svg#x');filter:url(file://` + path + `#f)"/>
<rect width="10" height="10" style="fill:\75 rl(` + u + `/escaped)"/>
<rect width="10" height="10" fill="url(` + u + `/attr.svg#g)" mask="url(file://` + path + `#m)"/>
<image href="` + u + `/image.png" width="10" height="10"/>
<image xlink:href="file://` + path + `" width="10" height="10"/>
<image xlink:href="` + path + `" width="10" height="10"/>
<use href="` + u + `/use.svg#a"/>
<use xlink:href="file://` + path + `#a"/>
<filter id="f"><feImage href="` + u + `/feimage.png"/></filter>
<foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" src="` + u + `/iframe"/></foreignObject>
<a href="` + u + `/link"><text x="1" y="20">link</text></a>
<set attributeName="href" to="` + u + `/set"/>
<animate attributeName="href" values="` + u + `/animate"/>
</svg>`
}

// TestFormatsCorpus uploads the corpus through the real server, with its
// real media worker: every file ends as expected (ready with its size and
// picture, or refused with a message that tells the truth), and the server
// answers and keeps its memory bounded throughout.
func TestFormatsCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	pairRaw(t, s, "Wall 640×360")
	corpus := buildCorpus(t)
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	type accepted struct {
		corpusFile
		id string
	}
	var ready []accepted
	for _, c := range corpus {
		var m servertest.Media
		var e servertest.APIError
		var code int
		if c.kind != "" {
			code = s.Upload(c.name, c.data, &m)
		} else {
			code = s.Upload(c.name, c.data, &e)
		}
		sample()
		switch {
		case c.kind != "" && code != 201:
			t.Errorf("%s: upload %d, want 201", c.name, code)
		case c.kind == "" && (code != c.status || e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.phrase) || !strings.HasPrefix(e.Error.Message, c.name+": ")):
			t.Errorf("%s: %d %s, want %d %s containing %q", c.name, code, e, c.status, c.code, c.phrase)
		case c.kind == "":
			t.Logf("%s refused: %s", c.name, e.Error.Message)
		default:
			ready = append(ready, accepted{c, m.ID})
		}
		if code := s.Do("GET", "/api/v1/media?limit=1", nil, nil); code != 200 {
			t.Fatalf("server not answering after %s: %d", c.name, code)
		}
	}
	type view struct {
		Kind        string
		ContentType string `json:"content_type"`
		Status      string
		Error       string
		Width       int
		Height      int
		DurationS   float64 `json:"duration_s"`
		Thumbnail   string  `json:"thumbnail_url"`
		Renditions  []struct {
			Profile       string
			Width, Height int
			URL           string
		}
	}
	for _, a := range ready {
		var v view
		servertest.Eventually(t, 3*time.Minute, a.name+" ready", func() bool {
			v = view{}
			s.Do("GET", "/api/v1/media/"+a.id, nil, &v)
			sample()
			if v.Status == "failed" {
				t.Fatalf("%s failed: %s", a.name, v.Error)
			}
			panel := a.kind == "audio" // audio has one rendition for every display
			for _, r := range v.Renditions {
				panel = panel || strings.HasPrefix(r.Profile, "640x360")
			}
			return v.Status == "ready" && panel && v.Thumbnail != ""
		})
		if v.Kind != a.kind || (a.ctype != "" && v.ContentType != a.ctype) || (a.w != 0 && (v.Width != a.w || v.Height != a.h)) {
			t.Errorf("%s: %s %s %d×%d, want %s %s %d×%d", a.name, v.Kind, v.ContentType, v.Width, v.Height, a.kind, a.ctype, a.w, a.h)
		}
		if a.duration > 0 && (v.DurationS < a.duration-0.3 || v.DurationS > a.duration+0.3) {
			t.Errorf("%s: duration %.2f s, want %.1f", a.name, v.DurationS, a.duration)
		}
		for _, r := range v.Renditions {
			if !strings.HasPrefix(r.Profile, "640x360") {
				continue
			}
			if r.Width != 640 || r.Height != 360 {
				t.Errorf("%s: panel rendition %d×%d", a.name, r.Width, r.Height)
			}
			if a.centre == nil || a.kind != "image" {
				continue
			}
			img := fetchImage(t, s, r.URL)
			if img.Bounds().Dx() != 640 || img.Bounds().Dy() != 360 {
				t.Fatalf("%s: rendition is %v", a.name, img.Bounds())
			}
			c := color.RGBAModel.Convert(img.At(300, 180)).(color.RGBA)
			if !near(c, *a.centre, 30) {
				t.Errorf("%s: panel pixel left of centre is %v, want %v", a.name, c, *a.centre)
			}
		}
		t.Logf("%s: %s %s %d×%d %.1fs, renditions %d", a.name, v.Kind, v.ContentType, v.Width, v.Height, v.DurationS, len(v.Renditions))
	}
	// An animated picture in a playlist without a duration plays whole
	// loops for at least a picture's 10 s; a still picture 10 s.
	for _, a := range ready {
		if a.name != "anim.gif" && a.name != "still.png" {
			continue
		}
		var pl struct {
			Items []struct {
				DurationS float64 `json:"duration_s"`
			}
		}
		if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": a.name, "items": []map[string]any{{"media_id": a.id}}}, &pl); code != 201 || len(pl.Items) != 1 {
			t.Fatalf("playlist of %s: %d %+v", a.name, code, pl)
		}
		if d := pl.Items[0].DurationS; d < 9.9 || d > 10.1 {
			t.Errorf("%s in a playlist: duration_s %.2f, want 10 (whole 2 s loops)", a.name, d)
		}
	}
	t.Logf("peak Go heap in use through the corpus: %.0f MB", float64(peak)/1e6)
	if peak > 1<<30 {
		t.Errorf("server heap reached %d MB", peak>>20)
	}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func fetchImage(t *testing.T, s *servertest.Server, url string) image.Image {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+url, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s (%s): %v", url, resp.Header.Get("Content-Type"), err)
	}
	return img
}
