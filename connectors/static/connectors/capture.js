/*
 * Social ROI website capture (docs/connectors.md "Your website (capture script)").
 *
 * Paste before </body>:
 *   <script src=".../static/connectors/capture.js" data-key="KEY" data-endpoint=".../api/v1/capture/" defer></script>
 *
 * For the visit (this tab, in sessionStorage: no cookie) it keeps where the visit came from
 * first and latest: UTM parameters, click ids, the referring site's origin, the landing path.
 * It fills hidden inputs named after them (utm_source, gclid, ..., first_utm_source, ...) in
 * every form; a form marked data-social-roi also gets them added, and when it is submitted with
 * an email the fill is sent as a lead with both, without holding up the site's own submit.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var KEY = script && script.getAttribute("data-key");
  var ENDPOINT = script && script.getAttribute("data-endpoint");
  if (!KEY || !ENDPOINT) return;

  var STORE = "social-roi-visit";
  var TAGS = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
    "fbclid", "gclid", "li_fat_id", "ttclid", "msclkid"];
  var KEPT = TAGS.concat(["referrer", "landing_page"]);
  var HONEYPOT = "sr_website";
  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save(visit) {
    try { window.sessionStorage.setItem(STORE, JSON.stringify(visit)); } catch (e) { /* private mode */ }
  }

  // Where this page view came from: its tags, and the referring site when it is another one.
  function here() {
    var found = {}, fresh = false, query = new URLSearchParams(location.search);
    TAGS.forEach(function (name) {
      var value = query.get(name);
      if (value) { found[name] = value.slice(0, 200); fresh = true; }
    });
    try {
      var from = document.referrer && new URL(document.referrer);
      if (from && from.host !== location.host) { found.referrer = from.origin; fresh = true; }
    } catch (e) { /* no usable referrer */ }
    found.landing_page = location.origin + location.pathname;
    found.at = Date.now();
    return { touch: found, fresh: fresh };
  }

  var visit = load(), now = here();
  if (!visit.first) visit.first = now.touch;
  if (!visit.latest || now.fresh) visit.latest = now.touch;
  save(visit);

  function input(form, name) {
    var field = form.elements.namedItem(name);
    return field && field.nodeType === 1 ? field : null;  // not a RadioNodeList
  }

  function put(form, name, value, add) {
    var field = input(form, name);
    if (!field && add && value) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    if (field && field.type === "hidden") field.value = value || "";
  }

  // Hidden inputs named after what was kept get the latest value; first_<name> the first one.
  // Forms marked data-social-roi get the latest ones added, and the honeypot.
  function fill(form) {
    var marked = form.hasAttribute("data-social-roi");
    KEPT.forEach(function (name) {
      put(form, name, visit.latest && visit.latest[name], marked);
      put(form, "first_" + name, visit.first && visit.first[name], false);
    });
    if (marked && !input(form, HONEYPOT)) {
      // Off-screen, out of the tab order and hidden from assistive technology: people never
      // fill it; form-filling bots do.
      var trap = document.createElement("input");
      trap.type = "text";
      trap.name = HONEYPOT;
      trap.tabIndex = -1;
      trap.autocomplete = "off";
      trap.setAttribute("aria-hidden", "true");
      trap.style.position = "absolute";
      trap.style.left = "-10000px";
      trap.style.width = "1px";
      trap.style.height = "1px";
      trap.style.overflow = "hidden";
      form.appendChild(trap);
    }
  }

  // A field's value: an input marked data-social-roi-field="<name>", else the usual names.
  function value(form, names) {
    var marked = form.querySelector('[data-social-roi-field="' + names[0] + '"]');
    if (marked) return (marked.value || "").trim();
    for (var i = 0; i < names.length; i++) {
      var field = input(form, names[i]);
      if (field && typeof field.value === "string" && field.value.trim()) return field.value.trim();
    }
    return "";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function strip(touch) {
    var kept = {};
    KEPT.forEach(function (name) { if (touch && touch[name]) kept[name] = touch[name]; });
    return kept;
  }

  function send(form) {
    var email = value(form, ["email", "e-mail", "your-email"]);
    if (!EMAIL.test(email)) return;
    // One submission id per form and email on this page: a double click records once.
    if (!form.__socialRoi || form.__socialRoi.email !== email) form.__socialRoi = { email: email, id: uuid() };
    var first = value(form, ["first_name", "firstname", "fname", "given-name"]);
    var last = value(form, ["last_name", "lastname", "lname", "family-name"]);
    var full = value(form, ["name", "full_name", "your-name"]);
    if (!first && !last && full) {
      var parts = full.split(/\s+/);
      first = parts.shift();
      last = parts.join(" ");
    }
    var consent = input(form, "consent");
    var trap = input(form, HONEYPOT);
    var payload = {
      key: KEY,
      submission_id: form.__socialRoi.id,
      email: email,
      first_name: first.slice(0, 100),
      last_name: last.slice(0, 100),
      phone: value(form, ["phone", "tel", "telephone", "your-phone"]).slice(0, 32),
      company: value(form, ["company", "organization", "organisation"]).slice(0, 200),
      heard_about: value(form, ["heard_about"]).slice(0, 200),
      form: (form.getAttribute("data-social-roi") || form.getAttribute("name") || form.id || "").slice(0, 100),
      consent: consent && consent.type === "checkbox" ? consent.checked : null,
      hp: trap ? trap.value : "",
      first: strip(visit.first),
      latest: strip(visit.latest),
      age_seconds: Math.max(0, Math.round((Date.now() - ((visit.first && visit.first.at) || Date.now())) / 1000))
    };
    var body = JSON.stringify(payload);
    // text/plain keeps it a CORS "simple" request (no preflight); keepalive lets it finish
    // after the page moves on; no credentials: it carries no cookie of ours or the site's.
    if (window.fetch) {
      fetch(ENDPOINT, {
        method: "POST", mode: "cors", credentials: "omit", keepalive: true,
        headers: { "Content-Type": "text/plain;charset=UTF-8" }, body: body
      }).catch(function () { /* the site's own submit goes on regardless */ });
    } else if (navigator.sendBeacon) {
      navigator.sendBeacon(ENDPOINT, body);
    }
  }

  function start() {
    Array.prototype.forEach.call(document.forms, fill);
  }
  // Capture phase: runs before the site's own handlers, and still sees forms added later.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.tagName !== "FORM") return;
    try {
      fill(form);
      if (form.hasAttribute("data-social-roi")) send(form);
    } catch (e) { /* never break the site's form */ }
  }, true);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
