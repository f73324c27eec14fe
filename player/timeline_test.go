package player_test

import "beacon/playlists"

// timeline is the reference the journalled plays are compared with.
var timeline = playlists.Timeline
