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
//             "speed_px_s":120,"format":"15:04"},"refresh_s":300,
//    "fit":"contain","background":"#000000"}
//   {"type":"clear","zone":"main"}
//   {"type":"preload","zone":"main","kind":"video|audio","url":"/content/<sha>"}   (next video or audio)
// A show without a zone is a full-screen image (plain playlists).
//
// It answers {"type":"shown","zone":…,"sha256":…,"item_id":…} once an item
// is on screen and {"type":"error",…} if one cannot be shown. State for
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
    f.setAttribute('sandbox', 'allow-scripts allow-same-origin');
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

  function textStyle(el, z, st) {
    el.style.color = colour(st.color, '#ffffff');
    el.style.background = colour(st.background, '#000000');
    var size = st.font_size_px > 0 ? st.font_size_px : Math.max(8, Math.round(z.h / 3));
    el.style.fontSize = size + 'px';
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
      return { node: box, ready: Promise.resolve() };
    }
    box.classList.add('ticker');
    return {
      node: box,
      ready: Promise.resolve(),
      start: function () {
        var speed = st.speed_px_s > 0 ? st.speed_px_s : 120;
        var tw = span.offsetWidth;
        var zw = z.w;
        var ms = (zw + tw) / speed * 1000;
        anim = span.animate(
          [{ transform: 'translateX(' + zw + 'px)' }, { transform: 'translateX(' + (-tw) + 'px)' }],
          { duration: Math.max(ms, 100), iterations: Infinity, easing: 'linear' });
      }
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
    function tick() {
      span.textContent = formatGo(fmt, clockParts(f, new Date()));
      timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
    }
    box._stop = function () {
      if (timer) {
        clearTimeout(timer);
      }
    };
    tick();
    return { node: box, ready: Promise.resolve() };
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
    send({ type: 'shown', zone: z.id, sha256: cmd.sha256, item_id: cmd.item_id });
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

  function handle(cmd) {
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
      var cmd;
      try {
        cmd = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (cmd && typeof cmd.type === 'string') {
        handle(cmd);
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
