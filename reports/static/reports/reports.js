/* Sortable tables, the charts (Chart.js from this site's static files) and report progress. */
(function () {
  "use strict";
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

  function sortable(table) {
    var heads = table.querySelectorAll("thead th[data-sort]");
    heads.forEach(function (th, index) {
      var button = th.querySelector("button.sort");
      if (!button) return;
      button.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") !== "descending";
        heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var column = Array.prototype.indexOf.call(th.parentNode.children, th);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.children[column].getAttribute("data-value");
          var y = b.children[column].getAttribute("data-value");
          if (th.getAttribute("data-sort") === "text") {
            x = a.children[column].textContent.trim().toLowerCase();
            y = b.children[column].textContent.trim().toLowerCase();
            return descending ? y.localeCompare(x) : x.localeCompare(y);
          }
          if (x === "" || x === null) return 1;
          if (y === "" || y === null) return -1;
          return descending ? parseFloat(y) - parseFloat(x) : parseFloat(x) - parseFloat(y);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function chart(canvas) {
    if (typeof Chart === "undefined") return;
    var spec = JSON.parse(document.getElementById(canvas.getAttribute("data-spec")).textContent);
    spec.datasets.forEach(function (ds, i) {
      var colour = PALETTE[i % PALETTE.length];
      ds.backgroundColor = ds.backgroundColor || colour;
      ds.borderColor = ds.borderColor || colour;
      if (spec.type === "line") { ds.fill = false; ds.tension = 0.2; ds.pointStyle = ["circle", "rect", "triangle", "star"][i % 4]; }
    });
    if (spec.rows) {
      // Horizontal bars, one band per group: the box grows with the groups (set through the
      // style object: the Content-Security-Policy refuses style attributes, not this).
      canvas.parentNode.style.height = Math.max(260, 70 + spec.rows * 14 * (spec.datasets.length + 1)) + "px";
    }
    var created = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: { legend: { position: "bottom" } },
        scales: spec.scales || {}
      }
    });
    canvas.setAttribute("data-rendered", "true");
    return created;
  }

  function poll(box) {
    var url = box.getAttribute("data-status-url");
    var label = box.querySelector(".status");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          label.textContent = data.status;
          label.className = "status " + data.status;
          // An attempt failed on a transient error: say why while the job is retried.
          var retrying = document.getElementById("report-retrying");
          if (retrying) {
            retrying.hidden = !data.error;
            retrying.querySelector("[data-error]").textContent = data.error || "";
          }
          if (data.status === "done" || data.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(tick, 1000);
          }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 500);
  }

  // The figures' definitions: a tooltip shown on hover and focus by the CSS (glossary.css);
  // a tap on a card's term toggles it (phones have no hover), Escape hides it until the pointer
  // or the focus leaves (WCAG 1.4.13: dismissible without moving).
  function tooltips() {
    var triggers = document.querySelectorAll("[aria-describedby] + .tip");
    triggers.forEach(function (tip) {
      var trigger = tip.previousElementSibling;
      var reset = function () { tip.classList.remove("dismissed"); tip.classList.remove("open"); };
      trigger.addEventListener("blur", reset);
      trigger.addEventListener("mouseleave", function () { tip.classList.remove("dismissed"); });
      if (trigger.classList.contains("term")) {
        trigger.addEventListener("click", function () { tip.classList.toggle("open"); });
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      document.querySelectorAll(".tip").forEach(function (tip) {
        tip.classList.remove("open");
        tip.classList.add("dismissed");
      });
    });
  }

  // A table wider than the screen scrolls inside its box. A keyboard user reaches such a box with
  // Tab and scrolls it with the arrow keys, so it is a named group in the tab order, but only
  // while it does scroll: a box that fits would be a useless tab stop. (A group, not a region:
  // regions are landmarks, and a box named by its section's heading would repeat the section's.)
  function scrollBoxes() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      var table = box.querySelector("table");
      if (box.scrollWidth > box.clientWidth + 1) {
        var caption = table && table.caption && table.caption.textContent.trim();
        var section = box.closest("section, figure");
        var heading = section && section.querySelector("h2, figcaption");
        box.setAttribute("role", "group");
        box.setAttribute("aria-label", caption || (heading && heading.textContent.trim()) || "Table");
        box.tabIndex = 0;
      } else {
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        box.removeAttribute("tabindex");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tooltips();
    document.querySelectorAll("table.sortable").forEach(sortable);
    scrollBoxes();
    var resizing;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(scrollBoxes, 150);
    });
    document.querySelectorAll("details.data").forEach(function (details) {
      details.addEventListener("toggle", scrollBoxes);
    });
    document.querySelectorAll("canvas[data-spec]").forEach(chart);
    document.querySelectorAll("[data-status-url]").forEach(poll);
    // Wired here, not in an onclick attribute: the Content-Security-Policy allows no inline script.
    document.querySelectorAll("[data-action=print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    var preset = document.getElementById("id_preset");
    if (preset) {
      var toggle = function () {
        var custom = preset.value === "custom";
        document.querySelectorAll(".custom-range").forEach(function (el) {
          el.hidden = !custom;
          // Hidden dates are not sent: the address names only what the page shows.
          el.querySelectorAll("input").forEach(function (input) { input.disabled = !custom; });
        });
      };
      preset.addEventListener("change", toggle);
      toggle();
      // Back to this page (from the browser's cache, or with its form values restored): show
      // what the address says, the values the server wrote, not the choice made before leaving.
      window.addEventListener("pageshow", function () {
        if (preset.form) { preset.form.reset(); preset.form.removeAttribute("aria-busy"); }
        toggle();
      });
    }
    document.querySelectorAll("form[data-auto-apply]").forEach(autoApply);
  });

  // Filters apply as soon as they change (a GET, so the address keeps them: links, reload and
  // the back button all work). The form's button stays for browsers without JavaScript.
  function autoApply(form) {
    form.addEventListener("change", function () {
      var preset = form.querySelector("[name=preset]");
      if (preset && preset.value === "custom") {
        var start = form.querySelector("[name=start]");
        var end = form.querySelector("[name=end]");
        // A custom range waits for both of its days (and a valid order) before applying.
        if (!start || !end || !start.value || !end.value || end.value < start.value) return;
      }
      form.setAttribute("aria-busy", "true");
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    });
  }
})();
