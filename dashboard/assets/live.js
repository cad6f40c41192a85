// ringmq dashboard: refreshes each page's live part in place (no reload)
// and asks before a destructive action. No build step, no dependency.
(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh-ms") || 0);
  var live = document.getElementById("live");
  var stamp = document.getElementById("refreshed");
  var busy = false;

  function refresh() {
    if (!live || busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, { headers: { "X-Live": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(function (html) {
        live.innerHTML = html;
        live.setAttribute("data-refreshes", String(Number(live.getAttribute("data-refreshes")) + 1));
        if (stamp) { stamp.textContent = "live · " + new Date().toLocaleTimeString(); stamp.className = "refreshed"; }
      })
      .catch(function (e) {
        if (stamp) { stamp.textContent = "refresh failed: " + e.message; stamp.className = "refreshed bad"; }
      })
      .then(function () { busy = false; });
  }

  if (every > 0) window.setInterval(refresh, every);

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
