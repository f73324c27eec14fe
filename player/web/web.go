// Package web holds the renderer page a player shows full-screen (the
// page, its script and style sheet, the kill switch's slate) and the
// commands that drive it. The player serves the files to its kiosk
// browser; the server serves the very same files to the console's
// preview and builds the preview's commands with the same functions, so a
// preview and a screen run one renderer.
package web

import "embed"

// FS holds index.html, renderer.js, renderer.css and slate.svg.
//
//go:embed index.html renderer.js glyphs.js renderer.css slate.svg
var FS embed.FS
