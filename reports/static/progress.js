// Poll a report's status while it renders; reveal the PDF link when it is ready.
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("report-progress");
    if (!box) { return; }
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-testid=report-status]");
    function poll() {
      fetch(box.dataset.source, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          bar.value = data.progress;
          if (data.status === "ready") {
            label.textContent = box.dataset.readyText + " (100%)";
            document.getElementById("report-link").hidden = false;
            return;
          }
          if (data.status === "failed") {
            label.textContent = box.dataset.failedText;
            return;
          }
          label.textContent = box.dataset.renderingText + " (" + data.progress + "%)";
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    if (box.dataset.status !== "ready" && box.dataset.status !== "failed") { poll(); }
  }
  document.addEventListener("DOMContentLoaded", start);
})();
