// The cache metrics demo (templates/demo-metrics.html): polls /metrics,
// keeps the counters of the StampedeTarget page, plots them. Plain JS.
(function () {
  'use strict';
  var PAGE = 'page="StampedeTarget"';
  var history = [];

  /** Sums the target page's counters over every store in a Prometheus text exposition. */
  function parse(text) {
    var m = { hit: 0, miss: 0, wait: 0, stale: 0, bypass: 0, renders: 0 };
    text.split('\n').forEach(function (line) {
      if (line.charAt(0) === '#' || line.indexOf(PAGE) === -1) return;
      var value = Number(line.slice(line.lastIndexOf(' ') + 1));
      var status = /status="(\w+)"/.exec(line);
      if (line.indexOf('nevow_cache_requests_total{') === 0 && status) m[status[1]] += value;
      else if (line.indexOf('nevow_cache_renders_total{') === 0) m.renders += value;
    });
    return m;
  }

  function text(id, value) {
    document.getElementById(id).textContent = String(value);
  }

  function show(m) {
    text('hits', m.hit);
    text('misses', m.miss);
    text('waits', m.wait);
    text('stale', m.stale);
    text('renders', m.renders);
    var total = m.hit + m.miss + m.wait + m.stale + m.bypass;
    text('ratio', total === 0 ? '–' : Math.round(100 * (total - m.miss - m.bypass) / total) + ' %');
  }

  function draw() {
    var canvas = document.getElementById('plot');
    var g = canvas.getContext('2d');
    var w = canvas.width, h = canvas.height;
    g.clearRect(0, 0, w, h);
    var ratios = [], renders = [], peak = 1;
    for (var i = 1; i !== history.length; i++) {
      var a = history[i - 1], b = history[i];
      var asked = (b.hit + b.miss + b.wait + b.stale + b.bypass) - (a.hit + a.miss + a.wait + a.stale + a.bypass);
      var rendered = b.renders - a.renders;
      ratios.push(asked === 0 ? null : (asked - (b.miss - a.miss) - (b.bypass - a.bypass)) / asked);
      renders.push(rendered);
      peak = Math.max(peak, rendered);
    }
    function line(values, colour, scale) {
      g.strokeStyle = colour;
      g.lineWidth = 2;
      g.beginPath();
      var started = false;
      values.forEach(function (v, i) {
        if (v === null) return;
        var x = (i / 59) * w, y = h - 4 - v * scale * (h - 8);
        if (started) g.lineTo(x, y); else g.moveTo(x, y);
        started = true;
      });
      g.stroke();
    }
    line(ratios, '#2471a3', 1);
    line(renders, '#c0392b', 1 / peak);
  }

  function poll() {
    return fetch('/metrics', { cache: 'no-store' }).then(function (r) { return r.text(); }).then(function (body) {
      var m = parse(body);
      history.push(m);
      if (history.length > 60) history.shift();
      show(m);
      draw();
    });
  }

  document.getElementById('stampede').addEventListener('click', function () {
    var result = document.getElementById('stampede-result');
    result.textContent = 'running…';
    fetch('/metrics-demo/expire', { method: 'POST' }).then(function () {
      var requests = [];
      for (var i = 0; i !== 40; i++) requests.push(fetch('/metrics-demo/target', { cache: 'no-store' }));
      return Promise.all(requests);
    }).then(function (answers) {
      var counts = {};
      answers.forEach(function (r) {
        var x = r.headers.get('X-Cache') || '?';
        counts[x] = (counts[x] || 0) + 1;
      });
      result.textContent = Object.keys(counts).sort().map(function (k) { return k + ' ' + counts[k]; }).join(', ');
      return poll();
    }, function (err) {
      result.textContent = 'failed: ' + err;
    });
  });

  setInterval(poll, 1000);
  poll();
})();
