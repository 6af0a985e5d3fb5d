// Counts the view of a work page for a visitor the page did not know yet (no visitor cookie
// when it was requested): the cookie came with the page, and this request brings it back, so
// the view counts once for this browser (app/engagement/visitors.py). Nothing to show or wait for.
(function () {
  "use strict";
  var node = document.querySelector("[data-view-beacon]");
  if (!node || !window.fetch) return;
  fetch(node.getAttribute("data-view-beacon"), {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
  }).catch(function () {});
})();
