/* Accessible names the Django admin leaves out, on the admin pages we customise (axe-core finds
   no violation there: tests/reports/test_browser_axe.py). A file, not inline script: the
   Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  function labelFor(id) {
    return id ? document.querySelector('label[for="' + id + '"]') : null;
  }

  // Autocomplete (select2): its combobox and the box showing the chosen value are named by
  // that value only, so an empty one has no name. Name both by the field's label.
  function nameAutocompletes(root) {
    root.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var box = select.nextElementSibling;
      var combo = box && box.querySelector(".select2-selection[role=combobox]");
      var label = labelFor(select.id);
      if (!combo || !label) return;
      if (!label.id) label.id = select.id + "_label";
      combo.setAttribute("aria-labelledby", label.id);
      var value = combo.querySelector(".select2-selection__rendered");
      if (value) value.setAttribute("aria-labelledby", label.id);
    });
  }

  // Tabular inlines: a row's inputs have no label, only the column's header; name each by its
  // header. An empty header cell (the "original" column) is no header: make it a plain cell.
  function nameInlineFields(root) {
    root.querySelectorAll(".inline-group .tabular table").forEach(function (table) {
      var names = [];
      table.querySelectorAll("thead th").forEach(function (th) {
        var text = th.textContent.replace(/\s+/g, " ").trim();
        for (var i = 0; i < (th.colSpan || 1); i++) names.push(text);
        if (!text) {
          var td = document.createElement("td");
          td.className = th.className;
          td.colSpan = th.colSpan;
          th.replaceWith(td);
        }
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = names[column];
          column += cell.colSpan || 1;
          if (!name) return;
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (field) {
            if (!labelFor(field.id) && !field.hasAttribute("aria-label")) field.setAttribute("aria-label", name);
          });
        });
      });
    });
  }

  // The changelist's search box is labelled by a magnifier icon only (and described by the
  // help text), which is no visible label; give its label words.
  function nameSearch() {
    var label = labelFor("searchbar");
    if (!label || label.textContent.trim()) return;
    var words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = "Search";
    label.appendChild(words);
  }

  // On a phone an inline's table scrolls sideways inside its group: a keyboard reaches the group
  // with Tab while it scrolls (and only then).
  function scrollBoxes() {
    document.querySelectorAll(".inline-group").forEach(function (group) {
      if (group.scrollWidth > group.clientWidth + 1) {
        group.tabIndex = 0;
      } else {
        group.removeAttribute("tabindex");
      }
    });
  }

  function fix(root) {
    nameAutocompletes(root);
    nameInlineFields(root);
  }

  // After the admin's own scripts (select2 starts on jQuery's ready, before "load").
  window.addEventListener("load", function () {
    nameSearch();
    fix(document);
    scrollBoxes();
  });
  // select2 rebuilds its boxes at times (a widget started again, a row added): name them again.
  var naming;
  new MutationObserver(function (changes) {
    var rebuilt = changes.some(function (change) {
      return Array.prototype.some.call(change.addedNodes, function (node) {
        return node.nodeType === 1 && (node.matches(".select2, .select2-selection__rendered") || node.querySelector(".select2"));
      });
    });
    if (!rebuilt) return;
    window.clearTimeout(naming);
    naming = window.setTimeout(function () { nameAutocompletes(document); }, 0);
  }).observe(document.documentElement, { childList: true, subtree: true });
  // An open autocomplete: its combobox names the list it controls (ARIA 1.2 asks for
  // aria-controls, select2 sets only aria-owns), its search box is named by the field's label,
  // and the list, which select2 puts at the end of the page outside every landmark, is a named
  // region of its own.
  function nameOpenList(select) {
    var label = labelFor(select.id);
    var name = label ? label.textContent.replace(/:\s*$/, "").trim() : select.name;
    var box = select.nextElementSibling;
    var combo = box && box.querySelector(".select2-selection[role=combobox]");
    var list = document.querySelector(".select2-container--open .select2-results__options");
    if (combo && list && list.id) combo.setAttribute("aria-controls", list.id);
    var search = document.querySelector(".select2-container--open .select2-search__field");
    if (search) search.setAttribute("aria-label", "Search " + name.toLowerCase());
    document.querySelectorAll("body > .select2-container--open").forEach(function (open) {
      open.setAttribute("role", "region");
      open.setAttribute("aria-label", name + " choices");
    });
  }
  // Hooked once the page has loaded: this file may come before the admin's jQuery.
  window.addEventListener("load", function () {
    if (!(window.django && window.django.jQuery)) return;
    window.django.jQuery(document).on("select2:open", function (event) {
      nameOpenList(event.target);
    });
  });
  var resizing;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(scrollBoxes, 150);
  });
  document.addEventListener("formset:added", function (event) {
    window.setTimeout(function () { fix(event.target.closest(".inline-group") || document); }, 0);
  });
})();
