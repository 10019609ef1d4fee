// Live feedback on the guide's links: poll the feed every second; an unchanged version costs one Redis GET.
(function () {
  var root = document.getElementById("feed");
  if (!root) return;
  var url = root.getAttribute("data-feed-url");
  var version = root.getAttribute("data-version");
  var fields = ["opened", "liked", "carted", "bought", "sales", "commission"];

  function apply(body) {
    version = String(body.version);
    if (body.unchanged) return;
    body.links.forEach(function (link) {
      var card = root.querySelector('[data-link="' + link.id + '"]');
      if (!card) return;
      fields.forEach(function (f) {
        var el = card.querySelector('[data-f="' + f + '"]');
        if (el && el.textContent !== String(link[f])) el.textContent = link[f];
      });
    });
    if (body.links.length && !root.querySelector("[data-link]")) { window.location.reload(); return; }
    Object.keys(body.totals).forEach(function (name) {
      var el = document.querySelector('[data-total="' + name + '"]');
      if (el) el.textContent = body.totals[name];
    });
  }

  function tick() {
    fetch(url + "?v=" + encodeURIComponent(version), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) apply(body); })
      .catch(function () {})
      .then(function () { setTimeout(tick, 1000); });
  }
  setTimeout(tick, 1000);
})();
