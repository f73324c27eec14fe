// Beacon renderer page. The player drives it over ws://HOST/renderer/ws.
//
// Screen commands (each replaces what is on screen):
//   {"type":"pairing","code":"ABC123"}
//   {"type":"waiting"} | {"type":"blank"} | {"type":"off"}
//   {"type":"layout","width":1920,"height":1080,"timezone":"Asia/Ho_Chi_Minh",
//    "zones":[{"id":"main","x":0,"y":0,"w":1920,"h":960,"z":0},…]}
// Zone commands (after a layout):
//   {"type":"show","zone":"main","kind":"image|video|audio|web|text|clock",
//    "url":"/content/<sha>","sha256":"…","item_id":"…","duration_ms":10000,
//    "transition":{"kind":"cut|fade","duration_ms":500},"text":"…",
//    "style":{"font_size_px":48,"color":"#fff","background":"#000","scroll":true,
//             "speed_px_s":120,"format":"15:04"},"refresh_s":300,"same_origin":false,
//    "fit":"contain","background":"#000000"}
//   {"type":"clear","zone":"main"}
//   {"type":"preload","zone":"main","kind":"video|audio","url":"/content/<sha>"}   (next video or audio)
// A show without a zone is a full-screen image (plain playlists).
//
// It answers {"type":"shown","zone":…,"sha256":…,"item_id":…,"seq":…} once
// an item has been painted (seq echoes the show command's; the player
// journals proof of play from these reports only) and {"type":"error",…}
// if one cannot be shown. State for
// tests and diagnostics is mirrored in the DOM:
//   body[data-state]                 connecting|pairing|waiting|blank|off|playing
//   body[data-code]                  the pairing code
//   body[data-shown], [data-item]    sha256 / item of the main zone
//   body[data-zone-<id>-shown]       sha256 (or item id) shown in zone <id>
//   .zone[data-zone=<id>][data-shown][data-item][data-kind]
(function () {
  'use strict';

  var body = document.body;
  var stage = document.getElementById('stage');
  var pairing = document.getElementById('pairing');
  var codeEl = document.getElementById('code');
  var waiting = document.getElementById('waiting');
  var ws = null;
  var epoch = 0;       // bumps on every screen command; stale loads are dropped
  var layout = null;   // {width, height, timezone, legacy}
  var zones = {};      // id → zone

  var fits = { contain: 'contain', cover: 'cover', stretch: 'fill' };
  var colourRE = /^#[0-9a-fA-F]{6}$/;

  function colour(c, def) {
    return colourRE.test(c || '') ? c : def;
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(msg));
    }
  }

  function attrName(id) {
    return 'data-zone-' + String(id).toLowerCase().replace(/[^a-z0-9_-]/g, '_') + '-shown';
  }

  // ---- zones -------------------------------------------------------------

  function stopNode(node) {
    if (!node) {
      return;
    }
    if (node._stop) {
      node._stop();
      node._stop = null;
    }
    fitted.delete(node);
    if (node.tagName === 'VIDEO' || node.tagName === 'AUDIO') {
      try {
        node.pause();
        node.removeAttribute('src');
        node.load();
      } catch (e) { /* already gone */ }
    }
    if (node.parentNode) {
      node.parentNode.removeChild(node);
    }
  }

  function clearZone(z) {
    z.seq++;
    stopNode(z.cur);
    z.cur = null;
    if (z.leaving) {
      stopNode(z.leaving);
      z.leaving = null;
    }
    z.shownMsg = null;
    delete z.el.dataset.shown;
    delete z.el.dataset.item;
    delete z.el.dataset.kind;
    body.removeAttribute(attrName(z.id));
    if (z.id === 'main') {
      delete body.dataset.shown;
      delete body.dataset.item;
    }
  }

  function teardown() {
    Object.keys(zones).forEach(function (id) {
      var z = zones[id];
      clearZone(z);
      if (z.preload) {
        stopNode(z.preload);
        z.preload = null;
      }
    });
    zones = {};
    layout = null;
    stage.replaceChildren();
  }

  function fitStage() {
    if (!layout) {
      return;
    }
    var sx = window.innerWidth / layout.width;
    var sy = window.innerHeight / layout.height;
    stage.style.width = layout.width + 'px';
    stage.style.height = layout.height + 'px';
    stage.style.transform = 'scale(' + sx + ',' + sy + ')';
  }

  function setLayout(cmd, legacy) {
    teardown();
    var w = cmd.width > 0 ? cmd.width : window.innerWidth;
    var h = cmd.height > 0 ? cmd.height : window.innerHeight;
    layout = { width: w, height: h, timezone: cmd.timezone || '', legacy: !!legacy };
    (cmd.zones || []).forEach(function (zc) {
      var el = document.createElement('div');
      el.className = 'zone';
      el.dataset.zone = zc.id;
      el.style.left = zc.x + 'px';
      el.style.top = zc.y + 'px';
      el.style.width = zc.w + 'px';
      el.style.height = zc.h + 'px';
      el.style.zIndex = String(zc.z || 0);
      stage.appendChild(el);
      zones[zc.id] = { id: zc.id, el: el, w: zc.w, h: zc.h, seq: 0, cur: null, leaving: null, preload: null };
    });
    fitStage();
  }

  function legacyLayout() {
    var w = window.innerWidth, h = window.innerHeight;
    setLayout({ width: w, height: h, zones: [{ id: 'main', x: 0, y: 0, w: w, h: h, z: 0 }] }, true);
  }

  window.addEventListener('resize', function () {
    if (layout && layout.legacy && zones.main) {
      var w = window.innerWidth, h = window.innerHeight;
      layout.width = w;
      layout.height = h;
      zones.main.el.style.width = w + 'px';
      zones.main.el.style.height = h + 'px';
    }
    fitStage();
    refitAll();
  });

  // ---- item kinds ----------------------------------------------------------

  // Each builder returns {node, ready: Promise, start: function}.
  function buildImage(z, cmd) {
    var img = new Image();
    img.alt = '';
    img.decoding = 'async';
    img.src = cmd.url;
    img.style.objectFit = fits[cmd.fit] || 'contain';
    return { node: img, ready: img.decode() };
  }

  function mediaReady(el, enough) {
    return new Promise(function (resolve, reject) {
      if (el.readyState >= enough) {
        resolve();
        return;
      }
      var done = false;
      function ok() { if (!done) { done = true; resolve(); } }
      function bad() { if (!done) { done = true; reject(new Error('media error ' + (el.error ? el.error.code : ''))); } }
      el.addEventListener(enough >= 3 ? 'canplay' : 'loadeddata', ok);
      el.addEventListener('loadeddata', function () { if (enough <= 2) { ok(); } });
      el.addEventListener('error', bad);
    });
  }

  function buildVideo(z, cmd) {
    var v;
    if (z.preload && z.preload._url === cmd.url && z.preload.tagName === 'VIDEO') {
      v = z.preload;
      z.preload = null;
      v.classList.remove('preload');
    } else {
      v = document.createElement('video');
      v.muted = true;
      v.defaultMuted = true;
      v.playsInline = true;
      v.autoplay = true;
      v.preload = 'auto';
      v.setAttribute('muted', '');
      v.setAttribute('playsinline', '');
      v.src = cmd.url;
    }
    v.style.objectFit = fits[cmd.fit] || 'contain';
    // A video shorter than its slot (an animated picture, a short loop)
    // starts again until the slot ends, rather than freezing on its last
    // frame.
    var slot = cmd.duration_ms || 0;
    var setLoop = function () { v.loop = slot > 0 && isFinite(v.duration) && v.duration > 0 && v.duration * 1000 + 250 < slot; };
    v.addEventListener('loadedmetadata', setLoop);
    setLoop();
    return {
      node: v,
      ready: mediaReady(v, 2),
      start: function () {
        try { v.currentTime = 0; } catch (e) { /* not seekable yet */ }
        var p = v.play();
        if (p && p.catch) {
          p.catch(function (err) {
            send({ type: 'error', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id, message: 'video not playing: ' + err });
          });
        }
      }
    };
  }

  function buildAudio(z, cmd) {
    var a;
    if (z.preload && z.preload._url === cmd.url && z.preload.tagName === 'AUDIO') {
      a = z.preload;
      z.preload = null;
    } else {
      a = document.createElement('audio');
      a.preload = 'auto';
      a.src = cmd.url;
    }
    a.className = 'audio';
    return {
      node: a,
      ready: Promise.resolve(),
      start: function () {
        var p = a.play();
        if (p && p.catch) {
          p.catch(function (err) {
            send({ type: 'error', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id, message: 'audio not playing: ' + err });
          });
        }
      }
    };
  }

  function buildWeb(z, cmd) {
    var f = document.createElement('iframe');
    // Scripts run in an opaque origin: the page cannot reach the renderer,
    // the player's local server or its own cookies, unless the item asks to
    // keep its origin (same_origin).
    f.setAttribute('sandbox', cmd.same_origin === true ? 'allow-scripts allow-same-origin' : 'allow-scripts');
    f.setAttribute('referrerpolicy', 'no-referrer');
    f.setAttribute('scrolling', 'no');
    f.src = cmd.url;
    var timer = null;
    f._stop = function () {
      if (timer) {
        clearInterval(timer);
      }
    };
    return {
      node: f,
      ready: Promise.resolve(),
      start: function () {
        var every = Number(cmd.refresh_s) || 0;
        if (every > 0) {
          timer = setInterval(function () {
            f.src = cmd.url; // reload, also across origins
          }, Math.max(every, 1) * 1000);
        }
      }
    };
  }

  // ---- text fitting --------------------------------------------------------
  //
  // Text is never clipped: fitText gives a box the largest font size, up to
  // maxPx, at which its content (wrapped: white-space pre-wrap, breaking
  // anywhere it must) lies wholly inside it, by binary search on whole
  // pixels, measured in the live layout. A ticker keeps its one line, and
  // is fitted to the height only. Fitted boxes are fitted again when the
  // window is resized and when web fonts finish loading.

  var MIN_FONT_PX = 4;
  var fitTries = 0; // layouts tried, for diagnostics
  var fitSizes = new Set(); // font sizes the text was laid out at, for diagnostics

  function setPx(box, px) {
    fitSizes.add(px);
    box.style.fontSize = px + 'px';
  }
  var fitted = new Set();

  function overflows(box, inner, oneLine) {
    var bh = box.clientHeight, bw = box.clientWidth;
    if (inner.offsetHeight > bh || inner.scrollHeight > bh) {
      return true;
    }
    return !oneLine && (inner.scrollWidth > bw || inner.offsetWidth > bw);
  }

  // largestFit returns the largest whole-pixel size, up to maxPx, at which
  // the content fits (0: none). Each try is a layout, and laying a long
  // text out at a font size not used before (shaping every word again,
  // more so for glyphs not yet seen) is most of its cost; so the search
  // lays the text out at one size only, maxPx, in the box enlarged by
  // maxPx/px, which breaks into the same lines as px in the real box (up
  // to the rounding of line heights), and only the size it finds is laid
  // out for real, stepped down while that rounding makes it overflow. The
  // first try is maxPx itself; the next a size estimated from how much
  // the content overflowed there (a wrapped text's height grows with the
  // square of its size); the bracket left is binary-searched.
  function largestFit(box, inner, maxPx, oneLine) {
    var hi = Math.max(MIN_FONT_PX, Math.floor(maxPx)), lo = MIN_FONT_PX, best = 0;
    var ref = hi;
    fitTries++;
    setPx(box, ref);
    if (!overflows(box, inner, oneLine)) {
      return hi;
    }
    hi--;
    var bw = box.clientWidth, bh = box.clientHeight;
    var ih = Math.max(1, inner.offsetHeight, inner.scrollHeight);
    var iw = Math.max(1, inner.scrollWidth, inner.offsetWidth);
    var saved = [box.style.flex, box.style.width, box.style.height, box.style.maxWidth, box.style.maxHeight, box.style.minWidth, box.style.minHeight];
    box.style.flex = 'none';
    box.style.maxWidth = box.style.maxHeight = 'none';
    box.style.minWidth = box.style.minHeight = '0';
    function tryPx(px) {
      fitTries++;
      var f = ref / px;
      box.style.width = Math.floor(bw * f) + 'px';
      box.style.height = Math.floor(bh * f) + 'px';
      if (overflows(box, inner, oneLine)) {
        hi = Math.min(hi, px - 1);
        return false;
      }
      best = Math.max(best, px);
      lo = Math.max(lo, px + 1);
      return true;
    }
    var k = oneLine ? bh / ih : Math.sqrt(bh / ih);
    if (!oneLine && iw > bw) {
      k = Math.min(k, bw / iw);
    }
    var est = Math.floor((ref + 1) * k);
    if (est >= lo && est <= hi) {
      if (tryPx(est)) {
        var up = Math.min(hi, Math.ceil(est * 1.15));
        if (up > est) {
          tryPx(up);
        }
      } else {
        var down = Math.max(lo, Math.floor(est * 0.85));
        if (down < est) {
          tryPx(down);
        }
      }
    }
    while (lo <= hi) {
      tryPx((lo + hi) >> 1);
    }
    box.style.flex = saved[0];
    box.style.width = saved[1];
    box.style.height = saved[2];
    box.style.maxWidth = saved[3];
    box.style.maxHeight = saved[4];
    box.style.minWidth = saved[5];
    box.style.minHeight = saved[6];
    // The size found, for real.
    while (best >= MIN_FONT_PX) {
      fitTries++;
      setPx(box, best);
      if (!overflows(box, inner, oneLine)) {
        return best;
      }
      best--;
    }
    return 0;
  }

  // Lines break between words; inside a word only when a word alone would
  // otherwise force the text far smaller (a long URL, a compound), or not
  // fit at all.
  function fitText(box, inner, maxPx, oneLine) {
    if (!box.isConnected) {
      return;
    }
    box.style.overflowWrap = 'normal';
    var size = largestFit(box, inner, maxPx, oneLine);
    if (!oneLine && size < maxPx) {
      // Did the width bind (a word longer than the line)? Then see how
      // large the text could be if words may break.
      setPx(box, size + 1);
      if (inner.scrollWidth > box.clientWidth || inner.offsetWidth > box.clientWidth) {
        // Breaking inside words is worth it only if it allows a text
        // three times larger: one try tells.
        box.style.overflowWrap = 'anywhere';
        var probe = Math.min(Math.floor(maxPx), Math.max(MIN_FONT_PX, Math.ceil(size / 0.35)));
        setPx(box, probe);
        if (size === 0 || !overflows(box, inner, false)) {
          size = largestFit(box, inner, maxPx, false);
        } else {
          box.style.overflowWrap = 'normal';
        }
      }
    }
    size = Math.max(size, MIN_FONT_PX);
    setPx(box, size);
    box.dataset.fontPx = String(size);
  }

  // fitted(): register a refit for node; it is dropped when node stops.
  function keepFitted(node, refit) {
    node._fit = refit;
    fitted.add(node);
    refit();
  }

  function refitAll() {
    fitted.forEach(function (n) {
      if (!n.isConnected) {
        fitted.delete(n);
        return;
      }
      n._fit();
    });
  }

  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(refitAll);
    if (document.fonts.addEventListener) {
      document.fonts.addEventListener('loadingdone', refitAll);
    }
  }

  function textStyle(el, z, st) {
    el.style.color = colour(st.color, '#ffffff');
    el.style.background = colour(st.background, '#000000');
  }

  // The largest font of a text or clock item: its style's size, else a
  // third of the zone's height (shrunk to fit either way).
  function textMaxPx(z, st) {
    return st.font_size_px > 0 ? st.font_size_px : Math.max(8, Math.round(z.h / 3));
  }

  function buildText(z, cmd) {
    var st = cmd.style || {};
    var box = document.createElement('div');
    box.className = 'text';
    textStyle(box, z, st);
    var span = document.createElement('span');
    span.textContent = cmd.text || '';
    box.appendChild(span);
    var anim = null;
    box._stop = function () {
      if (anim) {
        anim.cancel();
      }
    };
    if (!st.scroll) {
      box.classList.add('static');
      return {
        node: box,
        ready: Promise.resolve(),
        start: function () {
          keepFitted(box, function () { fitText(box, span, textMaxPx(z, st), false); });
        }
      };
    }
    box.classList.add('ticker');
    function run() {
      if (anim) {
        anim.cancel();
      }
      fitText(box, span, textMaxPx(z, st), true);
      var speed = st.speed_px_s > 0 ? st.speed_px_s : 120;
      var tw = span.offsetWidth;
      var zw = z.w;
      var ms = (zw + tw) / speed * 1000;
      anim = span.animate(
        [{ transform: 'translateX(' + zw + 'px)' }, { transform: 'translateX(' + (-tw) + 'px)' }],
        { duration: Math.max(ms, 100), iterations: Infinity, easing: 'linear' });
    }
    return {
      node: box,
      ready: Promise.resolve(),
      start: function () { keepFitted(box, run); }
    };
  }

  // Go reference-time layout tokens, longest first.
  var goTokens = ['January', 'Monday', '2006', 'Jan', 'Mon', '_2', '15', '01', '02', '03', '04', '05', '06', 'PM', 'pm', '1', '2', '3', '4', '5'];

  function formatGo(fmt, parts) {
    var out = '';
    var i = 0;
    while (i < fmt.length) {
      var tok = null;
      for (var k = 0; k < goTokens.length; k++) {
        if (fmt.startsWith(goTokens[k], i)) {
          tok = goTokens[k];
          break;
        }
      }
      if (!tok) {
        out += fmt[i];
        i++;
        continue;
      }
      i += tok.length;
      var h24 = parseInt(parts.hour, 10) % 24;
      var h12 = h24 % 12 === 0 ? 12 : h24 % 12;
      switch (tok) {
        case '2006': out += parts.year; break;
        case '06': out += parts.year.slice(-2); break;
        case '01': out += parts.month; break;
        case '1': out += String(parseInt(parts.month, 10)); break;
        case '02': out += parts.day; break;
        case '2': out += String(parseInt(parts.day, 10)); break;
        case '_2': out += (parseInt(parts.day, 10) < 10 ? ' ' : '') + String(parseInt(parts.day, 10)); break;
        case '15': out += (h24 < 10 ? '0' : '') + h24; break;
        case '03': out += (h12 < 10 ? '0' : '') + h12; break;
        case '3': out += String(h12); break;
        case '04': out += parts.minute; break;
        case '4': out += String(parseInt(parts.minute, 10)); break;
        case '05': out += parts.second; break;
        case '5': out += String(parseInt(parts.second, 10)); break;
        case 'PM': out += h24 < 12 ? 'AM' : 'PM'; break;
        case 'pm': out += h24 < 12 ? 'am' : 'pm'; break;
        case 'Jan': out += parts.monthShort; break;
        case 'January': out += parts.monthLong; break;
        case 'Mon': out += parts.weekdayShort; break;
        case 'Monday': out += parts.weekdayLong; break;
      }
    }
    return out;
  }

  function clockFormatters(tz) {
    var base = { hour: '2-digit', minute: '2-digit', second: '2-digit', year: 'numeric', month: '2-digit', day: '2-digit', hourCycle: 'h23' };
    function make(opts) {
      try {
        return new Intl.DateTimeFormat('en-GB', Object.assign({ timeZone: tz || undefined }, opts));
      } catch (e) {
        return new Intl.DateTimeFormat('en-GB', opts); // unknown zone: the display's own
      }
    }
    return {
      num: make(base),
      names: make({ weekday: 'long', month: 'long' }),
      shortNames: make({ weekday: 'short', month: 'short' })
    };
  }

  function clockParts(f, d) {
    var p = {};
    f.num.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    f.names.formatToParts(d).forEach(function (x) {
      if (x.type === 'weekday') { p.weekdayLong = x.value; }
      if (x.type === 'month') { p.monthLong = x.value; }
    });
    f.shortNames.formatToParts(d).forEach(function (x) {
      if (x.type === 'weekday') { p.weekdayShort = x.value; }
      if (x.type === 'month') { p.monthShort = x.value; }
    });
    return p;
  }

  function buildClock(z, cmd) {
    var st = cmd.style || {};
    var box = document.createElement('div');
    box.className = 'text static clock';
    textStyle(box, z, st);
    var span = document.createElement('span');
    box.appendChild(span);
    var fmt = st.format || '15:04';
    var f = clockFormatters(layout ? layout.timezone : '');
    var timer = null;
    var shape = '';
    function tick() {
      span.textContent = formatGo(fmt, clockParts(f, new Date()));
      // Refit when the text's shape changes (not every second).
      var s = span.textContent.replace(/[0-9]/g, '0');
      if (s !== shape && box.isConnected) {
        shape = s;
        fitText(box, span, textMaxPx(z, st), false);
      }
      timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
    }
    box._stop = function () {
      if (timer) {
        clearTimeout(timer);
      }
    };
    tick();
    return {
      node: box,
      ready: Promise.resolve(),
      start: function () { keepFitted(box, function () { fitText(box, span, textMaxPx(z, st), false); }); }
    };
  }

  var builders = { image: buildImage, video: buildVideo, audio: buildAudio, web: buildWeb, text: buildText, clock: buildClock };

  // ---- show --------------------------------------------------------------

  function markShown(z, cmd) {
    var shown = cmd.sha256 || cmd.item_id || '';
    z.el.dataset.shown = shown;
    z.el.dataset.item = cmd.item_id || '';
    z.el.dataset.kind = cmd.kind || 'image';
    body.setAttribute(attrName(z.id), shown);
    if (z.id === 'main') {
      body.dataset.shown = shown;
      body.dataset.item = cmd.item_id || '';
    }
    // Proof of play starts here: report once the frame holding the item
    // has been painted (the second animation frame after it was added).
    var msg = { type: 'shown', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id, seq: cmd.seq || 0 };
    z.shownMsg = msg;
    if (ovr && ovr.covering) {
      return; // hidden under an override: reported when it is taken down
    }
    afterPaint(function () { send(msg); });
  }

  // afterPaint runs f once the frame holding the latest change has been
  // painted: the second animation frame from now.
  function afterPaint(f) {
    requestAnimationFrame(function () {
      requestAnimationFrame(f);
    });
  }

  function swapIn(z, node, cmd, start) {
    var old = z.cur;
    if (z.leaving) {
      stopNode(z.leaving);
      z.leaving = null;
    }
    node.classList.add('item');
    var kind = cmd.kind || 'image';
    if (kind === 'image' || kind === 'video') {
      z.el.style.background = colour(cmd.background, '#000000');
    } else if (kind !== 'audio') {
      z.el.style.background = '';
    }
    var tr = cmd.transition || {};
    var fade = tr.kind === 'fade' && tr.duration_ms > 0 && old && kind !== 'audio';
    if (fade) {
      node.style.opacity = '0';
    }
    z.el.appendChild(node);
    z.cur = node;
    if (ovr && ovr.covering) {
      muteUnder(node);
    }
    if (start) {
      start();
    }
    if (fade) {
      void node.offsetWidth; // commit opacity 0 before the transition
      node.style.transition = 'opacity ' + tr.duration_ms + 'ms linear';
      node.style.opacity = '1';
      z.leaving = old;
      var mySeq = z.seq;
      setTimeout(function () {
        if (z.leaving === old) {
          stopNode(old);
          z.leaving = null;
        }
        if (z.seq === mySeq) {
          node.style.transition = '';
        }
      }, tr.duration_ms);
    } else {
      stopNode(old);
    }
    markShown(z, cmd);
  }

  function showInZone(z, cmd) {
    var my = ++z.seq;
    var ep = epoch;
    var kind = cmd.kind || 'image';
    var cur = z.cur;
    if (kind === 'image' && cur && cur.tagName === 'IMG' && z.el.dataset.shown === cmd.sha256 && !cur._leaving) {
      cur.style.objectFit = fits[cmd.fit] || 'contain';
      z.el.style.background = colour(cmd.background, '#000000');
      markShown(z, cmd);
      return;
    }
    var build = builders[kind];
    if (!build) {
      send({ type: 'error', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id, message: 'unknown kind ' + kind });
      return;
    }
    var b = build(z, cmd);
    b.ready.then(function () {
      if (my !== z.seq || ep !== epoch) {
        stopNode(b.node);
        return;
      }
      swapIn(z, b.node, cmd, b.start);
    }, function (err) {
      if (my !== z.seq || ep !== epoch) {
        stopNode(b.node);
        return;
      }
      stopNode(b.node);
      send({ type: 'error', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id, message: kind + ' not shown: ' + err });
    });
  }

  // show without a zone: the full-screen image of a plain playlist. The
  // current screen stays until the image is decoded.
  function showLegacy(cmd) {
    if (layout && layout.legacy && zones.main && body.dataset.state === 'playing') {
      showInZone(zones.main, cmd);
      return;
    }
    var ep = ++epoch;
    var b = buildImage(null, cmd);
    b.ready.then(function () {
      if (ep !== epoch) {
        return;
      }
      legacyLayout();
      setView('playing');
      swapIn(zones.main, b.node, cmd, null);
    }, function (err) {
      if (ep !== epoch) {
        return;
      }
      send({ type: 'error', sha256: cmd.sha256, item_id: cmd.item_id, message: 'image not shown: ' + err });
    });
  }

  function preload(cmd) {
    var z = zones[cmd.zone];
    if (!z || !cmd.url) {
      return;
    }
    if (z.preload && z.preload._url === cmd.url) {
      return;
    }
    stopNode(z.preload);
    var v;
    if (cmd.kind === 'audio') {
      v = document.createElement('audio');
    } else {
      v = document.createElement('video');
      v.muted = true;
      v.defaultMuted = true;
      v.playsInline = true;
      v.setAttribute('muted', '');
      v.setAttribute('playsinline', '');
    }
    v.preload = 'auto';
    v.className = 'preload';
    v._url = cmd.url;
    v.src = cmd.url;
    z.el.appendChild(v);
    z.preload = v;
  }

  // ---- emergency override layer -------------------------------------------
  //
  //   {"type":"override","seq":7,"id":"…","revision":1,"level":"critical",
  //    "presentation":"fullscreen|banner|blank|slate","position":"top|bottom",
  //    "texts":[{"lang":"vi","text":"…"},…],"lang_mode":"together|rotate",
  //    "rotate_s":8,"media":[{"kind":"image|video|audio","url":"/content/<sha>"}],
  //    "tone":{"kind":"alert","repeat":3},"covering":true}
  //   {"type":"override_clear"}
  //
  // The layer lies above the zones and every screen (pairing excepted it is
  // never replaced by them): the program goes on underneath. A covering
  // override (fullscreen, blank, slate) hides the stage and mutes its
  // media; a banner lies over the top or bottom of the screen. It is built
  // at once when the command arrives (text fitted before the first paint),
  // painted in the next animation frame, and reported painted right after
  // that frame's paint: {"type":"override_shown","id":…,"seq":…}. The alert tone
  // reports {"type":"override_tone","id","seq","state":"playing|blocked"}.
  // DOM for tests: #override[data-id][data-level][data-presentation]
  // [data-lang][data-tone][data-auto-rotate], body[data-override] (the id)
  // and .ovr-text[data-font-px]; timings in #override[data-build-ms]
  // (command to layer built), [data-paint-ms] (to the paint report),
  // [data-fit-ms] (text fitting, with the layouts it took) and
  // [data-fit-sizes] (font sizes laid out); frames in [data-frames] (see
  // countFrames).

  var ovrEl = document.getElementById('override');

  // Load the fonts an override uses (Latin with Vietnamese marks, CJK, in
  // bold) when the page starts, so that an override lays out and paints
  // in the first frame after its message rather than waiting on font
  // files: a hidden sample of each script stays laid out in the page (the
  // fonts and their fallbacks stay resolved), and each family is asked
  // for explicitly. The page reports fonts ready in body[data-fonts].
  var warmText = 'KHẨN CẤP Cảnh báo khẩn cấp EMERGENCY Warning 紧急通知 警报 疏散';
  (function warmFonts() {
    var w = document.createElement('div');
    w.className = 'ovr-warm';
    w.setAttribute('aria-hidden', 'true');
    var glyphs = typeof BEACON_WARM_GLYPHS === 'string' ? BEACON_WARM_GLYPHS : '';
    [700, 400].forEach(function (weight) {
      var sp = document.createElement('span');
      sp.style.fontWeight = String(weight);
      sp.textContent = warmText + ' ' + glyphs;
      w.appendChild(sp);
    });
    ovrEl.parentNode.insertBefore(w, ovrEl);
    var tw = performance.now();
    void w.offsetWidth;
    body.dataset.warmMs = String(Math.round(performance.now() - tw));
    if (!document.fonts || !document.fonts.load) {
      body.dataset.fonts = 'ready';
      return;
    }
    var fams = ['"Noto Sans"', '"DejaVu Sans"', '"Noto Sans CJK SC"', '"Noto Sans CJK JP"', '"WenQuanYi Micro Hei"', 'sans-serif'];
    var loads = [];
    fams.forEach(function (f) {
      ['700 32px ' + f, '400 32px ' + f].forEach(function (spec) {
        loads.push(document.fonts.load(spec, warmText).catch(function () { return []; }));
      });
    });
    Promise.all(loads).then(function () { return document.fonts.ready; }).then(function () {
      body.dataset.fonts = 'ready';
    });
  }());

  // afterThisPaint, called from an animation frame callback, runs f in a
  // task queued now: it runs once the frame's rendering (style, layout,
  // paint, commit) is done, not a frame later.
  function afterThisPaint(f) {
    if (typeof MessageChannel === 'undefined') {
      setTimeout(f, 0);
      return;
    }
    var ch = new MessageChannel();
    ch.port1.onmessage = function () { ch.port1.close(); f(); };
    ch.port2.postMessage(0);
  }

  // Frames from an override's message to its paint, for tests and
  // diagnostics: the page counts the animation frames (requestAnimationFrame
  // callbacks) from the message's arrival to the first frame in which the
  // override is wholly in the DOM (built, text fitted, fonts loaded), and
  // mirrors the figures in #override[data-frames] (that count: 1 is the
  // next frame), [data-frame-ms] (arrival to that frame's start, ms) and
  // [data-first-font-px] (the text size it was painted with; a later
  // refit would differ from .ovr-text[data-font-px]).
  function countFrames(cmd, t0, painted) {
    var n = 0;
    var seq = cmd.seq;
    function complete() {
      if (!ovr || ovr.seq !== seq || ovrEl.hidden || ovrEl.dataset.id !== cmd.id) {
        return false;
      }
      if (document.fonts && document.fonts.status !== 'loaded') {
        return false;
      }
      var box = ovrEl.querySelector('.ovr-text');
      return !box || !!box.dataset.fontPx;
    }
    function frame(ts) {
      n++;
      if (!ovr || ovr.seq !== seq) {
        return;
      }
      if (complete()) {
        var box = ovrEl.querySelector('.ovr-text');
        ovrEl.dataset.frames = String(n);
        ovrEl.dataset.frameMs = String(Math.round(performance.now() - t0));
        ovrEl.dataset.firstFontPx = box ? box.dataset.fontPx : '';
        afterThisPaint(painted);
        return;
      }
      if (n < 300) {
        requestAnimationFrame(frame);
        return;
      }
      // Fonts still loading after 300 frames: it is on screen all the
      // same (with the fonts it has); report it.
      ovrEl.dataset.frames = String(n);
      afterThisPaint(painted);
    }
    requestAnimationFrame(frame);
  }
  var ovr = null; // {id, seq, covering, timers, audio}
  var lastToneKey = ''; // id#revision whose tone was played
  var SVGNS = 'http://www.w3.org/2000/svg';
  var levelColours = {
    critical: { bg: '#c62828', fg: '#ffffff' },
    warning: { bg: '#ffb300', fg: '#000000' },
    info: { bg: '#1565c0', fg: '#ffffff' }
  };

  function svgEl(name, attrs) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  // icon: a warning triangle with "!" (critical, warning) or a disc with
  // "i" (info), in the level's colours, drawn large.
  function icon(level, c) {
    var svg = svgEl('svg', { viewBox: '0 0 100 100', 'aria-hidden': 'true' });
    svg.setAttribute('class', 'ovr-svg');
    if (level === 'info') {
      svg.appendChild(svgEl('circle', { cx: 50, cy: 50, r: 47, fill: c.fg }));
      svg.appendChild(svgEl('circle', { cx: 50, cy: 25, r: 8, fill: c.bg }));
      svg.appendChild(svgEl('rect', { x: 42, y: 40, width: 16, height: 42, rx: 3, fill: c.bg }));
    } else {
      svg.appendChild(svgEl('path', { d: 'M50 4 L98 93 H2 Z', fill: c.fg, 'stroke-linejoin': 'round' }));
      svg.appendChild(svgEl('rect', { x: 43, y: 30, width: 14, height: 36, rx: 3, fill: c.bg }));
      svg.appendChild(svgEl('circle', { cx: 50, cy: 79, r: 8, fill: c.bg }));
    }
    return svg;
  }

  function muteUnder(node) {
    var els = node.tagName === 'VIDEO' || node.tagName === 'AUDIO' ? [node] : node.querySelectorAll ? node.querySelectorAll('video, audio') : [];
    Array.prototype.forEach.call(els, function (m) {
      if (!m.muted) {
        m.muted = true;
        m._ovrMuted = true;
      }
    });
  }

  function unmuteUnder(node) {
    Array.prototype.forEach.call(node.querySelectorAll('video, audio'), function (m) {
      if (m._ovrMuted) {
        m.muted = false;
        m._ovrMuted = false;
      }
    });
  }

  // stopOverride ends what the layer runs; keepAudio leaves the tone
  // sounding (the same revision is shown again).
  function stopOverride(keepAudio) {
    if (!ovr) {
      return;
    }
    ovr.timers.forEach(function (t) { clearInterval(t); clearTimeout(t); });
    if (ovr.audio && !keepAudio) {
      try { ovr.audio.close(); } catch (e) { /* closed */ }
    }
    Array.prototype.forEach.call(ovrEl.querySelectorAll('video, audio'), stopNode);
    fitted.forEach(function (n) {
      if (ovrEl.contains(n)) {
        fitted.delete(n);
      }
    });
  }

  function clearOverride() {
    var wasCovering = ovr && ovr.covering;
    stopOverride();
    ovr = null;
    ovrEl.replaceChildren();
    ovrEl.hidden = true;
    ovrEl.className = '';
    ['id', 'level', 'presentation', 'lang', 'tone', 'autoRotate', 'buildMs', 'paintMs', 'fitMs', 'frames', 'frameMs', 'firstFontPx', 'fitSizes', 'toneChimes'].forEach(function (k) { delete ovrEl.dataset[k]; });
    delete body.dataset.override;
    delete body.dataset.overrideCovering;
    if (wasCovering) {
      uncovered();
    }
  }

  // uncovered: the zones are seen again; report what each shows, so its
  // proof of play starts again now.
  function uncovered() {
    unmuteUnder(stage);
    var msgs = [];
    Object.keys(zones).forEach(function (id) {
      if (zones[id].shownMsg) {
        msgs.push(zones[id].shownMsg);
      }
    });
    afterPaint(function () {
      msgs.forEach(send);
    });
  }

  // The alert tone: a two-note chime made with WebAudio, repeated.
  function playTone(cmd) {
    var t = cmd.tone;
    if (!t || t.kind !== 'alert') {
      return;
    }
    var seq = cmd.seq, id = cmd.id;
    function report(state, message) {
      if (ovr && ovr.seq === seq) {
        ovrEl.dataset.tone = state;
        send({ type: 'override_tone', id: id, seq: seq, state: state, message: message || '' });
      }
    }
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) {
      report('blocked', 'no WebAudio');
      return;
    }
    var ac;
    try {
      ac = new AC();
    } catch (e) {
      report('blocked', String(e));
      return;
    }
    ovr.audio = ac;
    var repeat = Math.max(1, Math.min(20, t.repeat || 1));
    ovrEl.dataset.toneChimes = String(repeat); // chimes scheduled, for tests
    var t0 = ac.currentTime + 0.05;
    for (var i = 0; i < repeat; i++) {
      [[880, 0], [660, 0.45]].forEach(function (n) {
        var o = ac.createOscillator(), g = ac.createGain();
        var at = t0 + i * 1.2 + n[1];
        o.type = 'square';
        o.frequency.value = n[0];
        g.gain.setValueAtTime(0.0001, at);
        g.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
        g.gain.setValueAtTime(0.3, at + 0.35);
        g.gain.exponentialRampToValueAtTime(0.0001, at + 0.42);
        o.connect(g);
        g.connect(ac.destination);
        o.start(at);
        o.stop(at + 0.45);
      });
    }
    function check() {
      if (ac.state === 'running') {
        report('playing');
      } else {
        // The autoplay policy refused sound: the override stays on screen.
        report('blocked', 'audio context ' + ac.state + ' (autoplay policy)');
      }
    }
    if (ac.state === 'running') {
      check();
    } else {
      var p = ac.resume();
      var timer = setTimeout(check, 1000);
      ovr.timers.push(timer);
      if (p && p.then) {
        p.then(function () { clearTimeout(timer); check(); }, function () { clearTimeout(timer); check(); });
      }
    }
  }

  function ovrMedia(cmd, holder) {
    (cmd.media || []).forEach(function (m) {
      var el;
      if (m.kind === 'image') {
        el = new Image();
        el.alt = '';
        el.src = m.url;
      } else if (m.kind === 'video') {
        el = document.createElement('video');
        el.muted = true;
        el.setAttribute('muted', '');
        el.playsInline = true;
        el.loop = true;
        el.autoplay = true;
        el.src = m.url;
      } else if (m.kind === 'audio') {
        el = document.createElement('audio');
        el.autoplay = true;
        el.src = m.url;
        el.className = 'ovr-audio';
        ovrEl.appendChild(el);
        return;
      } else {
        return;
      }
      el.className = 'ovr-media-item';
      holder.appendChild(el);
    });
  }

  function showOverride(cmd, arrived) {
    var t0 = arrived || performance.now();
    var wasCovering = ovr && ovr.covering;
    var same = ovr && ovr.id === cmd.id && ovr.revision === cmd.revision;
    var audio = same ? ovr.audio : null;
    stopOverride(same);
    ovrEl.replaceChildren();
    var covering = cmd.presentation !== 'banner';
    ovr = { id: cmd.id, revision: cmd.revision, seq: cmd.seq, covering: covering, timers: [], audio: audio };
    var c = levelColours[cmd.level] || levelColours.critical;
    var W = window.innerWidth, H = window.innerHeight;
    ovrEl.className = 'ovr pres-' + cmd.presentation + ' level-' + (cmd.level || 'critical');
    ovrEl.dataset.id = cmd.id;
    ovrEl.dataset.level = cmd.level || '';
    ovrEl.dataset.presentation = cmd.presentation;
    delete ovrEl.dataset.lang;
    delete ovrEl.dataset.tone;
    if (!same) {
      delete ovrEl.dataset.toneChimes;
    }
    delete ovrEl.dataset.autoRotate;
    delete ovrEl.dataset.fitMs;
    delete ovrEl.dataset.frames;
    delete ovrEl.dataset.frameMs;
    delete ovrEl.dataset.firstFontPx;
    delete ovrEl.dataset.paintMs;
    delete ovrEl.dataset.fitSizes;
    ovrEl.style.cssText = '';
    body.dataset.override = cmd.id;
    if (covering) {
      body.dataset.overrideCovering = 'true';
      muteUnder(stage);
    } else {
      delete body.dataset.overrideCovering;
    }

    if (cmd.presentation === 'blank') {
      ovrEl.style.background = '#000000';
    } else if (cmd.presentation === 'slate') {
      ovrEl.style.background = '#202020';
      var img = new Image();
      img.alt = '';
      img.src = '/slate.svg';
      img.className = 'ovr-slate';
      ovrEl.appendChild(img);
    } else {
      ovrEl.style.background = c.bg;
      ovrEl.style.color = c.fg;
      var banner = cmd.presentation === 'banner';
      var bw = W, bh = H;
      if (banner) {
        bh = Math.max(24, Math.round(H * (W >= H ? 0.22 : 0.16)));
        ovrEl.style.height = bh + 'px';
        ovrEl.style[cmd.position === 'top' ? 'top' : 'bottom'] = '0px';
      }
      var pad = Math.max(2, Math.round(Math.min(bw, bh) * (banner ? 0.08 : 0.03)));
      var landscape = banner || bw >= bh;
      ovrEl.style.padding = pad + 'px';
      ovrEl.style.gap = pad + 'px';
      ovrEl.style.flexDirection = landscape ? 'row' : 'column';
      var iw = bw - 2 * pad, ih = bh - 2 * pad;
      var isz = Math.floor(banner ? ih : (landscape ? Math.min(ih * 0.6, iw * 0.24) : Math.min(iw * 0.45, ih * 0.2)));
      var ic = document.createElement('div');
      ic.className = 'ovr-icon';
      ic.style.width = ic.style.height = isz + 'px';
      ic.appendChild(icon(cmd.level, c));
      ovrEl.appendChild(ic);
      var main = document.createElement('div');
      main.className = 'ovr-main';
      main.style.flexDirection = landscape && !banner ? 'column' : 'row';
      main.style.gap = pad + 'px';
      ovrEl.appendChild(main);
      var hasVisual = (cmd.media || []).some(function (m) { return m.kind === 'image' || m.kind === 'video'; });
      if (hasVisual) {
        var mh = document.createElement('div');
        mh.className = 'ovr-media';
        // Side by side in a wide media box, stacked in a tall one.
        mh.style.flexDirection = landscape && !banner ? 'row' : (banner ? 'row' : 'column');
        ovrMedia(cmd, mh);
        main.appendChild(mh);
      } else {
        ovrMedia(cmd, main);
      }
      var box = document.createElement('div');
      box.className = 'ovr-text';
      box.style.color = c.fg;
      main.appendChild(box);
      var inner = document.createElement('div');
      inner.className = 'ovr-inner';
      box.appendChild(inner);
      var texts = cmd.texts || [];
      // The largest font: the box's height over the lines a short text
      // needs, i.e. a one-line text may fill 60% of a banner's height.
      var maxPx = function () { return Math.max(MIN_FONT_PX, Math.floor(box.clientHeight * (banner ? 0.6 : 0.3))); };
      var put = function (list) {
        inner.replaceChildren();
        list.forEach(function (t, i) {
          var pEl = document.createElement('p');
          pEl.className = 'ovr-t';
          pEl.lang = t.lang;
          pEl.dataset.lang = t.lang;
          pEl.textContent = t.text;
          if (i > 0) {
            pEl.style.borderTopColor = c.fg;
            pEl.classList.add('sep');
          }
          inner.appendChild(pEl);
        });
        ovrEl.dataset.lang = list.map(function (t) { return t.lang; }).join(',');
      };
      var refit = function () { fitText(box, inner, maxPx(), false); };
      var rotate = function () {
        var i = 0;
        put([texts[0]]);
        var every = Math.max(1, Number(cmd.rotate_s) || 8) * 1000;
        ovr.timers.push(setInterval(function () {
          i = (i + 1) % texts.length;
          put([texts[i]]);
          refit();
        }, every));
      };
      ovrEl.hidden = false;
      var tf;
      if (cmd.lang_mode === 'rotate' && texts.length > 1) {
        rotate();
        keepFitted(box, refit);
      } else {
        put(texts);
        tf = performance.now();
        fitTries = 0;
        fitSizes.clear();
        keepFitted(box, refit);
        ovrEl.dataset.fitMs = String(Math.round(performance.now() - tf)) + ' (' + fitTries + ' layouts)';
        ovrEl.dataset.fitSizes = String(fitSizes.size);
        // A banner too small for its languages stacked (under a quarter of
        // its height) shows them in turn instead.
        if (banner && texts.length > 1 && Number(box.dataset.fontPx) < box.clientHeight / 4) {
          ovrEl.dataset.autoRotate = 'true';
          rotate();
          refit();
        }
      }
    }
    ovrEl.hidden = false;
    if (wasCovering && !covering) {
      uncovered();
    }
    var msg = { type: 'override_shown', id: cmd.id, seq: cmd.seq };
    var seq = cmd.seq;
    ovrEl.dataset.buildMs = String(Math.round(performance.now() - t0));
    // Reported painted once the first frame that holds it wholly has been
    // painted (the next frame, unless fonts were still loading).
    countFrames(cmd, t0, function () {
      if (ovr && ovr.seq === seq) {
        ovrEl.dataset.paintMs = String(Math.round(performance.now() - t0));
        send(msg);
        // The tone starts after the paint: making an audio context can
        // take longer than a frame.
        // Once per revision: the same revision shown again (its media
        // arrived, the display's languages changed) does not sound again.
        var toneKey = cmd.id + '#' + cmd.revision;
        if (cmd.presentation !== 'blank' && cmd.presentation !== 'slate' && toneKey !== lastToneKey) {
          lastToneKey = toneKey;
          playTone(cmd);
        }
      }
    });
  }

  // ---- screens -----------------------------------------------------------

  function setView(state) {
    body.dataset.state = state;
    pairing.hidden = state !== 'pairing';
    waiting.hidden = state !== 'waiting';
    stage.hidden = state !== 'playing';
    if (state !== 'pairing') {
      delete body.dataset.code;
    }
    if (state !== 'playing') {
      teardown();
      delete body.dataset.shown;
      delete body.dataset.item;
    }
  }

  function handle(cmd, arrived) {
    var z;
    switch (cmd.type) {
      case 'pairing':
        epoch++;
        setView('pairing');
        codeEl.textContent = cmd.code || '';
        body.dataset.code = cmd.code || '';
        break;
      case 'layout':
        epoch++;
        setView('playing');
        setLayout(cmd, false);
        break;
      case 'show':
        if (!cmd.zone) {
          showLegacy(cmd);
          break;
        }
        z = zones[cmd.zone];
        if (z && body.dataset.state === 'playing') {
          showInZone(z, cmd);
        }
        break;
      case 'clear':
        z = zones[cmd.zone];
        if (z) {
          clearZone(z);
        }
        break;
      case 'preload':
        preload(cmd);
        break;
      case 'override':
        showOverride(cmd, arrived);
        break;
      case 'override_clear':
        clearOverride();
        break;
      case 'blank':
      case 'off':
      case 'waiting':
        epoch++;
        setView(cmd.type);
        break;
    }
  }

  function connect() {
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    var sock = new WebSocket(scheme + location.host + '/renderer/ws');
    ws = sock;
    sock.onmessage = function (ev) {
      var arrived = performance.now();
      var cmd;
      try {
        cmd = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (cmd && typeof cmd.type === 'string') {
        handle(cmd, arrived);
      }
    };
    sock.onclose = function () {
      if (ws === sock) {
        ws = null;
      }
      // Keep whatever is on screen; the player re-sends its scene.
      setTimeout(connect, 1000);
    };
  }

  connect();
}());
