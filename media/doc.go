// Package media owns Beacon's content-addressed file store and image
// renditions (video/audio transcoding joins later behind a build boundary).
//
// The store (Store) keeps every uploaded file once, named by the SHA-256 of
// its bytes, under root/blobs/<first two hex digits>/<hash>. Uploads stream
// to root/tmp while being hashed and are renamed into place atomically, so a
// blob path either holds the complete file or nothing.
//
// Image renditions (RenderImage) turn one uploaded picture into JPEGs sized
// exactly for each screen profile. The pipeline is pure Go: it reads the
// dimensions from the header and refuses oversized pictures before decoding,
// decodes once, applies the EXIF orientation, and resamples every profile
// with a Lanczos filter from that single decode. The package uses neither cgo
// nor FFmpeg, and the player binary does not import it.
package media
