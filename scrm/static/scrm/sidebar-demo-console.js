/* The WeCom simulator demo page: refresh the callback inbox and welcome deliveries every 3 s. */
(function () {
  "use strict";
  var box = document.getElementById("demo-feed");
  if (!box) return;
  var url = box.dataset.feedUrl;
  var events = box.querySelector("[data-events]");
  var deliveries = box.querySelector("[data-deliveries]");
  var live = box.querySelector("[data-live]");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function cell(row, className, text) { var td = el("td", className, text); row.appendChild(td); return td; }
  function badge(status, label) { return el("span", "badge ev-" + status, label); }
  function member(td, name, code, href) {
    if (href) {
      var a = el("a", "", name);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      a.title = "品牌后台会员页 · Member page in the brand dashboard";
      td.appendChild(a);
    } else {
      td.appendChild(el("span", "", name || "—"));
    }
    if (code) td.appendChild(el("div", "small muted mono", code));
  }
  function empty(body, cols, text) {
    body.textContent = "";
    var row = el("tr");
    var td = cell(row, "empty", text);
    td.colSpan = cols;
    body.appendChild(row);
  }

  function render(feed) {
    if (!feed.events.length) empty(events, 6, "还没有回调 · No callbacks yet.");
    else {
      events.textContent = "";
      feed.events.forEach(function (e) {
        var row = el("tr");
        row.dataset.eventId = e.id;
        cell(row, "nowrap mono small", e.at);
        var what = cell(row, "", e.change_type || e.event);
        if (e.receive_count > 1) what.appendChild(el("div", "small muted", "收到 " + e.receive_count + " 次 · received ×" + e.receive_count));
        cell(row, "", e.guide);
        member(cell(row, ""), e.customer, e.member_code, e.member_url);
        cell(row, "").appendChild(badge(e.status, e.status_label));
        cell(row, "result", e.result);
        events.appendChild(row);
      });
    }
    if (!feed.deliveries.length) empty(deliveries, 7, "还没有欢迎语 · No welcome messages yet.");
    else {
      deliveries.textContent = "";
      feed.deliveries.forEach(function (d) {
        var row = el("tr");
        cell(row, "nowrap mono small", d.at);
        cell(row, "", d.brand);
        cell(row, "", d.guide);
        member(cell(row, ""), d.customer, d.member_code, d.member_url);
        var status = cell(row, "");
        status.appendChild(badge(d.status, d.status_label));
        if (d.errcode) status.appendChild(el("div", "small muted mono", "errcode " + d.errcode));
        if (d.text) status.title = d.text;
        cell(row, "num", d.latency_ms === null ? "—" : d.latency_ms + " ms");
        cell(row, "mono small", d.coupon_code || "—");
        deliveries.appendChild(row);
      });
    }
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (feed) {
        render(feed);
        live.classList.remove("off");
        live.textContent = "已更新 Updated " + feed.now + " · 每3秒 every 3 s";
      })
      .catch(function () { live.classList.add("off"); live.textContent = "无法刷新 · Could not refresh"; })
      .then(function () { window.setTimeout(refresh, 3000); });
  }
  refresh();
})();
