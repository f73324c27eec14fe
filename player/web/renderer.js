// Beacon renderer page. The player drives it over ws://HOST/renderer/ws:
//   {"type":"pairing","code":"ABC123"}
//   {"type":"show","kind":"image","url":"/content/<sha>","sha256":"…","item_id":"…","duration_ms":10000}
//   {"type":"blank"} | {"type":"waiting"}
// It answers {"type":"shown","sha256":"…","item_id":"…"} once an image is on
// screen and {"type":"error",…} if one cannot be loaded. The page state is
// mirrored in document.body.dataset: state (pairing|playing|blank|waiting),
// code (while pairing), shown (sha256 on screen while playing).
(function () {
  'use strict';

  var body = document.body;
  var stage = document.getElementById('stage');
  var pairing = document.getElementById('pairing');
  var codeEl = document.getElementById('code');
  var waiting = document.getElementById('waiting');
  var ws = null;
  var seq = 0;          // bumps on every command; stale image loads are dropped
  var shownSHA = '';    // sha256 of the image on screen

  var fits = { contain: 'contain', cover: 'cover', stretch: 'fill' };

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(msg));
    }
  }

  function setView(state) {
    body.dataset.state = state;
    pairing.hidden = state !== 'pairing';
    waiting.hidden = state !== 'waiting';
    stage.hidden = state !== 'playing';
    if (state !== 'pairing') {
      delete body.dataset.code;
    }
    if (state !== 'playing') {
      delete body.dataset.shown;
      stage.replaceChildren();
      shownSHA = '';
    }
  }

  function style(img, cmd) {
    img.style.objectFit = fits[cmd.fit] || 'contain';
    var bg = /^#[0-9a-fA-F]{6}$/.test(cmd.background || '') ? cmd.background : '#000';
    stage.style.background = bg;
  }

  function reportShown(cmd) {
    body.dataset.shown = cmd.sha256;
    body.dataset.item = cmd.item_id || '';
    send({ type: 'shown', sha256: cmd.sha256, item_id: cmd.item_id });
  }

  function show(cmd) {
    var my = ++seq;
    if (body.dataset.state === 'playing' && shownSHA === cmd.sha256 && stage.firstChild) {
      style(stage.firstChild, cmd);
      reportShown(cmd);
      return;
    }
    // Load and decode off screen, then swap the decoded element in, so a
    // partial image is never visible.
    var img = new Image();
    img.alt = '';
    img.decoding = 'async';
    img.src = cmd.url;
    img.decode().then(function () {
      if (my !== seq) {
        return;
      }
      style(img, cmd);
      stage.replaceChildren(img);
      shownSHA = cmd.sha256;
      setView('playing');
      reportShown(cmd);
    }, function (err) {
      if (my !== seq) {
        return;
      }
      send({ type: 'error', sha256: cmd.sha256, item_id: cmd.item_id, message: 'image not shown: ' + err });
    });
  }

  function handle(cmd) {
    switch (cmd.type) {
      case 'pairing':
        seq++;
        setView('pairing');
        codeEl.textContent = cmd.code || '';
        body.dataset.code = cmd.code || '';
        break;
      case 'show':
        show(cmd);
        break;
      case 'blank':
        seq++;
        setView('blank');
        break;
      case 'waiting':
        seq++;
        setView('waiting');
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
      // Keep whatever is on screen; the player re-sends its command.
      setTimeout(connect, 1000);
    };
  }

  connect();
}());
