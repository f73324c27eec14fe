// Package media owns Beacon's content-addressed file store and image
// renditions (video/audio transcoding joins later behind a build boundary).
//
// The store (Store) keeps every uploaded file once, named by the SHA-256 of
// its bytes, under root/blobs/<first two hex digits>/<hash>. Uploads stream
// to root/tmp while being hashed and are renamed into place atomically, so a
// blob path either holds the complete file or nothing.
//
// Image renditions (RenderImage) turn one uploaded picture into JPEGs sized
// exactly for each screen profile. The pipeline reads the dimensions from
// the header and refuses oversized pictures before decoding, decodes once,
// applies the orientation, and resamples every profile with a Lanczos
// filter from that single decode. HEIF/HEIC, AVIF, JPEG and the TIFFs Go
// cannot read are decoded by C libraries (package media/native, cgo); the
// rest by Go's decoders. The package does not use FFmpeg, and the player
// binary does not import it.
//
// SVG documents are sanitised here (SanitizeSVG) and rasterised by the media
// worker; animated GIF, APNG and WebP are recognised from their structure
// (ProbeAnimation) and played as video.
package media
