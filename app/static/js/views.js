// Counts the view of a work page (the page is one cached body for everyone, so the server cannot
// count it when serving it). A signed-in browser's state call counts it (static/js/state.js sends
// the page's view token with it); otherwise, or if that call did not count it, the beacon does.
// A browser without our visitor cookie gets it with a 202 answer and asks once more, bringing it
// back, so a new visitor counts once as that visitor (app/engagement/visitors.py). Nothing to show
// or wait for.
(function () {
  "use strict";
  var node = document.querySelector("[data-view-beacon]");
  if (!node || !window.fetch) return;
  var url = node.getAttribute("data-view-beacon");
  function post(target) {
    return fetch(target, { method: "POST", credentials: "same-origin", keepalive: true });
  }
  function beacon() {
    post(url)
      .then(function (response) {
        if (response.status === 202) return post(url + "&again=1");
        return null;
      })
      .catch(function () {});
  }
  if (!window.pageState) {
    beacon();
    return;
  }
  window.pageState.then(
    function (state) {
      if (!(state && state.view_counted)) beacon();
    },
    beacon
  );
})();
