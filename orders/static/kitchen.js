// Live incoming orders: poll the JSON endpoint every few seconds; when the list changed, reload
// the page (forms are server-rendered with their CSRF token), unless the cook is typing.
(function () {
  "use strict";
  var section = document.querySelector("[data-testid=kitchen-orders]");
  if (!section) { return; }
  var source = section.getAttribute("data-source");
  var interval = parseInt(section.getAttribute("data-interval"), 10) || 3000;
  var signature = section.getAttribute("data-signature") || "";
  var status = section.querySelector("[data-testid=kitchen-status]");
  var banner = section.querySelector("[data-testid=kitchen-banner]");

  function typing() {
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) { return true; }
    return Array.prototype.some.call(section.querySelectorAll("input[type=text]"), function (el) {
      return el.value !== "";
    });
  }

  function poll() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      })
      .then(function (data) {
        status.textContent = section.getAttribute("data-live-text");
        status.classList.remove("stale");
        if (data.signature !== signature) {
          if (typing()) {
            banner.hidden = false;
          } else {
            window.location.reload();
            return;
          }
        }
        window.setTimeout(poll, interval);
      })
      .catch(function () {
        status.textContent = section.getAttribute("data-stale-text");
        status.classList.add("stale");
        window.setTimeout(poll, interval);
      });
  }

  window.setTimeout(poll, interval);
})();
