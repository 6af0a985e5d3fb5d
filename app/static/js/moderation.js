// The review queue from the keyboard: J/K move between works, Enter opens the preview,
// A approves, R goes to the reason field, P recommends, X selects for a bulk action.
// Every action is still a plain form post, so the page works without this script.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  var selectAll = document.querySelector("[data-select-all]");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll('input[name="work_ids"]').forEach(function (box) { box.checked = selectAll.checked; });
    });
  }
  if (!items.length) return;
  var current = 0;

  function focus(index) {
    current = Math.max(0, Math.min(items.length - 1, index));
    items.forEach(function (item, i) { item.classList.toggle("is-focused", i === current); });
    items[current].focus({ preventScroll: true });
    items[current].scrollIntoView({ block: "nearest" });
  }

  function press(action) {
    var button = items[current].querySelector('[data-action="' + action + '"]');
    if (!button) return;
    if (action === "reject") {
      var field = button.form.querySelector('input[name="reason"]');
      if (field) { field.focus(); return; }
    }
    button.form.requestSubmit ? button.form.requestSubmit(button) : button.form.submit();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) {
      if (event.key === "Escape") { target.blur(); focus(current); }
      return;
    }
    switch (event.key.toLowerCase()) {
      case "j": focus(current + 1); break;
      case "k": focus(current - 1); break;
      case "a": press("approve"); break;
      case "r": press("reject"); break;
      case "p": press("recommend"); break;
      case "x":
        var box = items[current].querySelector('input[name="work_ids"]');
        if (box) box.checked = !box.checked;
        break;
      case "enter":
        var details = items[current].querySelector("details");
        if (details) details.open = !details.open;
        break;
      default: return;
    }
    event.preventDefault();
  });
  focus(0);
})();
