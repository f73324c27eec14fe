package av

// Small direct accessors for fields go-astiav does not expose.

//#cgo pkg-config: libavcodec libavutil
//#include <libavcodec/avcodec.h>
//#include <libavutil/frame.h>
//#include <libavutil/dict.h>
//#include <stdlib.h>
//
//static int beacon_frame_interlaced(void *f) { return ((AVFrame*)f)->interlaced_frame; }
//static int beacon_frame_tff(void *f) { return ((AVFrame*)f)->top_field_first; }
//static int64_t beacon_frame_duration(void *f) { return ((AVFrame*)f)->pkt_duration; }
//static const char *beacon_frame_meta(void *f, const char *key) {
//	AVDictionaryEntry *e = av_dict_get(((AVFrame*)f)->metadata, key, NULL, 0);
//	return e ? e->value : NULL;
//}
//static const char *beacon_profile_name(int codec_id, int profile) {
//	return avcodec_profile_name((enum AVCodecID)codec_id, profile);
//}
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// frameInterlaced reports whether a decoded picture is interlaced and,
// if so, whether the top field comes first.
func frameInterlaced(f *astiav.Frame) (interlaced, tff bool) {
	p := f.UnsafePointer()
	return C.beacon_frame_interlaced(p) != 0, C.beacon_frame_tff(p) != 0
}

// frameMeta returns a filter-set metadata value of a frame ("" if absent).
func frameMeta(f *astiav.Frame, key string) string {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	v := C.beacon_frame_meta(f.UnsafePointer(), ck)
	if v == nil {
		return ""
	}
	return C.GoString(v)
}

func profileName(id astiav.CodecID, profile astiav.Profile) string {
	v := C.beacon_profile_name(C.int(id), C.int(profile))
	if v == nil {
		return ""
	}
	return C.GoString(v)
}

// frameDuration is how long a decoded picture shows, in its stream's time
// base, when the container says so (0 when unknown).
func frameDuration(f *astiav.Frame) int64 {
	return int64(C.beacon_frame_duration(f.UnsafePointer()))
}
