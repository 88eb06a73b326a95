// Live cold-chain alerts: poll the JSON endpoint and redraw the table (no inline script: CSP).
(function () {
  "use strict";
  var section = document.querySelector("[data-testid=sensor-alerts]");
  if (!section) { return; }
  var body = section.querySelector("[data-testid=alerts-body]");
  var status = section.querySelector("[data-testid=alerts-status]");
  var source = section.getAttribute("data-source");
  var interval = parseInt(section.getAttribute("data-interval"), 10) || 5000;
  var seen = {};
  Array.prototype.forEach.call(body.querySelectorAll("tr[data-alert]"), function (row) {
    seen[row.getAttribute("data-alert")] = true;
  });

  function text(name) {
    return section.getAttribute("data-" + name) || "";
  }

  function cell(row, value, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = value;
      td.appendChild(a);
    } else {
      td.textContent = value;
    }
    row.appendChild(td);
  }

  function draw(alerts) {
    var rows = document.createDocumentFragment();
    alerts.forEach(function (a) {
      var row = document.createElement("tr");
      row.setAttribute("data-alert", String(a.id));
      if (!seen[a.id]) { row.className = "fresh"; seen[a.id] = true; }
      cell(row, a.raised_at_local);
      cell(row, "#" + a.delivery_id, a.url);
      cell(row, a.box_id);
      cell(row, a.food_class_label);
      cell(row, a.excursion_start_local);
      cell(row, a.peak_c.toFixed(1) + " \u00b0C");
      rows.appendChild(row);
    });
    if (!alerts.length) {
      var empty = document.createElement("tr");
      empty.setAttribute("data-empty", "1");
      var td = document.createElement("td");
      td.colSpan = 6;
      td.className = "muted";
      td.textContent = text("empty-text");
      empty.appendChild(td);
      rows.appendChild(empty);
    }
    body.replaceChildren(rows);
  }

  function poll() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      })
      .then(function (data) {
        draw(data.alerts || []);
        status.textContent = text("live-text");
        status.classList.remove("stale");
      })
      .catch(function () {
        status.textContent = text("stale-text");
        status.classList.add("stale");
      })
      .then(function () { window.setTimeout(poll, interval); });
  }

  window.setTimeout(poll, interval);
})();
