// Beacon preview bridge. Loaded before the player's renderer.js in the
// console's preview frame (/renderer/preview?display=ID&playlist=ID, or
// &layout=ID&zone=ZONE:PLAYLIST…): it stands in for the player's renderer
// socket, asks the server for the commands that play the content on that
// display, and hands them to the renderer at their times, looping.
// Reports the renderer sends (shown, error) go to the parent page as
// {type:'beacon-preview', report}. Without a display, the parent page
// sends the commands itself (see commandMode).
(function () {
  'use strict';

  var sockets = [];
  var timers = [];

  function FakeSocket() {
    var self = this;
    self.readyState = 0;
    sockets.push(self);
    setTimeout(function () {
      self.readyState = 1;
      if (self.onopen) {
        self.onopen({});
      }
      start();
    }, 0);
  }
  FakeSocket.CONNECTING = 0;
  FakeSocket.OPEN = 1;
  FakeSocket.CLOSING = 2;
  FakeSocket.CLOSED = 3;
  FakeSocket.prototype.send = function (data) {
    var report;
    try {
      report = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (window.parent !== window) {
      window.parent.postMessage({ type: 'beacon-preview', report: report }, location.origin);
    }
  };
  FakeSocket.prototype.close = function () {};
  window.WebSocket = FakeSocket;

  function deliver(cmd) {
    var text = JSON.stringify(cmd);
    sockets.forEach(function (s) {
      if (s.onmessage) {
        s.onmessage({ data: text });
      }
    });
  }

  function apiURL() {
    var q = new URLSearchParams(location.search);
    var display = q.get('display') || '';
    var out = new URLSearchParams();
    if (q.get('playlist')) {
      out.set('playlist_id', q.get('playlist'));
    }
    if (q.get('layout')) {
      out.set('layout_id', q.get('layout'));
    }
    q.getAll('zone').forEach(function (z) {
      out.append('zone', z);
    });
    return '/api/v1/displays/' + encodeURIComponent(display) + '/preview?' + out.toString();
  }

  var started = false;

  // Command mode (no display in the address): the parent console page
  // composes the commands itself (the emergency page's override preview)
  // and posts {type: 'beacon-preview-command', cmd}; only the same origin
  // is heard. The bridge says {type: 'beacon-preview', ready: true} once
  // the renderer listens.
  function commandMode() {
    window.addEventListener('message', function (ev) {
      if (ev.origin !== location.origin || ev.source !== window.parent || !ev.data || ev.data.type !== 'beacon-preview-command' || !ev.data.cmd) {
        return;
      }
      deliver(ev.data.cmd);
    });
    if (window.parent !== window) {
      window.parent.postMessage({ type: 'beacon-preview', ready: true }, location.origin);
    }
  }

  function start() {
    if (started) {
      return;
    }
    started = true;
    if (!new URLSearchParams(location.search).get('display')) {
      commandMode();
      return;
    }
    fetch(apiURL(), { credentials: 'same-origin' }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) {
          throw body;
        }
        return body;
      });
    }).then(play, function (err) {
      document.body.dataset.previewError = (err && err.error && err.error.message) || String(err);
      deliver({ type: 'waiting' });
    });
  }

  function play(plan) {
    timers.forEach(clearTimeout);
    timers = [];
    document.body.dataset.previewSteps = String(plan.steps.length);
    plan.steps.forEach(function (step) {
      timers.push(setTimeout(function () {
        deliver(step.cmd);
      }, step.at_ms));
    });
    // Loop: fetch again at the end of the span (the plan moves with time).
    timers.push(setTimeout(function () {
      started = false;
      start();
    }, plan.span_ms));
  }
}());
