// The caller's own part of a shared page (app/page_cache.py): the page body is the same for
// everyone and carries nothing personal, so this asks GET /api/v1/me/state once for who is signed
// in, the bell, which of the page's works they liked, live counts and the CSRF token, and fills
// them in. Until it answers, like links do nothing (a signed-in person never acts on a "not
// liked" button for a work they liked). Other scripts wait for window.pageState.
// Only a browser carrying the signed-in hint cookie asks (app/auth/sessions.py): a visitor who
// is not signed in has nothing of their own on the page, keeps the body as served (its counts
// may be a few seconds old) and its log-in links, and costs the server no call. On a work page
// the call also counts the view (views.js then sends no beacon unless it was not counted).
(function () {
  "use strict";
  var script = document.currentScript;
  var stateUrl = script && script.getAttribute("data-state-url");
  if (!stateUrl || !window.fetch || !window.Promise) return;
  var ANONYMOUS = { signed_in: false, view_counted: false };

  if (!/(?:^|;\s*)signed_in=1(?:;|$)/.test(document.cookie)) {
    window.pageState = Promise.resolve(ANONYMOUS);
    return;
  }

  function all(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  function workIds() {
    var ids = {};
    all("[data-comments][data-work-id]").forEach(function (node) { ids[node.getAttribute("data-work-id")] = true; });
    all("[data-like-work]").forEach(function (node) { ids[node.getAttribute("data-like-work")] = true; });
    all("[data-editable]").forEach(function (node) { ids[node.getAttribute("data-editable")] = true; });
    return Object.keys(ids).slice(0, 100);
  }

  function show(node, visible) {
    if (visible) node.removeAttribute("hidden");
    else node.setAttribute("hidden", "");
  }

  function likeButton(link, liked, likes) {
    // The shared body's log-in link becomes the caller's toggle (static/js/likes.js).
    var button = document.createElement("button");
    button.type = "button";
    button.className = "like-button" + (liked ? " is-liked" : "");
    button.setAttribute("aria-pressed", liked ? "true" : "false");
    ["data-like-url", "data-login-url", "data-error"].forEach(function (name) {
      button.setAttribute(name, link.getAttribute(name));
    });
    while (link.firstChild) button.appendChild(link.firstChild);
    var count = button.querySelector(".like-count");
    if (count && typeof likes === "number") count.textContent = String(likes);
    link.parentNode.replaceChild(button, link);
  }

  function fill(state) {
    var signedIn = !!state.signed_in;
    all("[data-like-work]").forEach(function (widget) {
      var id = widget.getAttribute("data-like-work");
      var counts = state.counts && state.counts[id];
      var link = widget.querySelector("a.like-button");
      widget.removeAttribute("data-state-pending");
      if (signedIn && link) {
        likeButton(link, state.liked.indexOf(Number(id)) !== -1, counts && counts.likes);
      } else if (counts) {
        var count = widget.querySelector(".like-count");
        if (count) count.textContent = String(counts.likes);
      }
    });
    all("[data-signed-in]").forEach(function (node) { show(node, signedIn); });
    all("[data-signed-out]").forEach(function (node) { show(node, !signedIn); });
    all("[data-signed-in-only]").forEach(function (node) { show(node, signedIn); });
    all("[data-signed-out-only]").forEach(function (node) { show(node, !signedIn); });
    if (!signedIn) return;

    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) meta.setAttribute("content", state.csrf_token);
    all('input[name="csrf_token"]').forEach(function (input) {
      if (!input.value) input.value = state.csrf_token;
    });
    all("[data-me-name]").forEach(function (node) { node.textContent = state.user.display_name; });
    all("[data-nav]").forEach(function (node) { show(node, !!state.nav[node.getAttribute("data-nav")]); });
    all("[data-bell]").forEach(function (bell) {
      var badge = bell.querySelector("[data-unread]");
      var label = bell.getAttribute("data-label");
      if (state.unread) {
        label += " " + bell.getAttribute("data-unread-label").replace("0", String(state.unread));
      }
      bell.setAttribute("aria-label", label);
      if (badge) {
        badge.textContent = state.unread < 100 ? String(state.unread) : "99+";
        show(badge, state.unread > 0);
      }
    });
    all("[data-editable]").forEach(function (node) {
      show(node, state.editable.indexOf(Number(node.getAttribute("data-editable"))) !== -1);
    });
    all("[data-manage-collective]").forEach(function (node) {
      var own = String(state.user.collective_id) === node.getAttribute("data-manage-collective");
      show(node, own || state.user.role === "admin");
    });
    all("[data-verify-notice]").forEach(function (node) { show(node, !!state.needs_email_verification); });
    var comments = document.querySelector("[data-comments]");
    if (comments && comments.querySelector("[data-comment-form]")) {
      comments.setAttribute("data-can-post", "true");
    }
  }

  function announce(state) {
    document.dispatchEvent(new CustomEvent("pagestate", { detail: state }));
  }

  function release() {
    all("[data-like-work]").forEach(function (widget) { widget.removeAttribute("data-state-pending"); });
  }

  window.pageState = new Promise(function (resolve) {
    function start() {
      all("[data-like-work]").forEach(function (widget) { widget.setAttribute("data-state-pending", ""); });
      var ids = workIds();
      var query = ids.length ? ["works=" + ids.join(",")] : [];
      var view = document.querySelector("[data-view-token]");
      if (view) query.push("view=" + encodeURIComponent(view.getAttribute("data-view-token")));
      var url = stateUrl + (query.length ? "?" + query.join("&") : "");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (state) fill(state);
          else release();
          announce(state);
          resolve(state);
        })
        .catch(function () {
          release();
          announce(null);
          resolve(null);
        });
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  });
})();
