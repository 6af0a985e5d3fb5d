// Like buttons (templates/works/_macros.html like_button) on work pages and cards, through API
// v1 without reloading: PUT likes, DELETE takes the like back. The button changes at once and
// goes back if the server refuses, showing the server's own message (voting window closed, too
// many likes, service busy…). Signed-out visitors get a plain link to the log-in page instead,
// which brings them back; so does a session that expired meanwhile (401).
(function () {
  "use strict";
  // Read when a like is sent: on a shared page static/js/state.js fills the token in later.
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function render(button, liked, likes) {
    button.setAttribute("aria-pressed", liked ? "true" : "false");
    button.classList.toggle("is-liked", liked);
    var count = button.querySelector(".like-count");
    if (count) count.textContent = String(likes);
  }

  function say(button, text) {
    var widget = button.closest(".like");
    var node = widget && widget.querySelector(".like-message");
    if (node) node.textContent = text || "";
  }

  function errorText(data, button) {
    if (data && data.error && data.error.message) return data.error.message;
    return button.getAttribute("data-error");
  }

  function toggle(button) {
    if (button.getAttribute("aria-busy") === "true") return; // one request per button at a time
    var liked = button.getAttribute("aria-pressed") === "true";
    var count = button.querySelector(".like-count");
    var likes = parseInt(count ? count.textContent : "0", 10) || 0;
    render(button, !liked, Math.max(likes + (liked ? -1 : 1), 0));
    say(button, "");
    button.setAttribute("aria-busy", "true");

    function undo(text) {
      render(button, liked, likes);
      say(button, text);
    }

    fetch(button.getAttribute("data-like-url"), {
      method: liked ? "DELETE" : "PUT",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf() },
    })
      .then(function (response) {
        return response.json().then(
          function (data) { return { response: response, data: data }; },
          function () { return { response: response, data: null }; }
        );
      })
      .then(function (result) {
        var data = result.data;
        if (result.response.ok && data && typeof data.likes === "number") {
          render(button, data.liked, data.likes);
        } else if (result.response.status === 401) {
          window.location.href = button.getAttribute("data-login-url");
        } else {
          undo(errorText(data, button));
        }
      })
      .catch(function () {
        undo(button.getAttribute("data-error"));
      })
      .then(function () {
        button.removeAttribute("aria-busy");
      });
  }

  // A tap on a shared page before the caller's state is known (static/js/state.js) waits for it:
  // signed out, it then follows the log-in link; signed in, it is dropped, since the person had
  // not seen whether they liked the work yet.
  var deferred = null;
  document.addEventListener("pagestate", function (event) {
    var widget = deferred;
    deferred = null;
    if (!widget || (event.detail && event.detail.signed_in)) return;
    var link = widget.querySelector("a.like-button");
    if (link) window.location.href = link.href;
  });

  document.addEventListener("click", function (event) {
    var pending = event.target.closest("[data-state-pending]");
    if (pending) {
      event.preventDefault();
      deferred = pending;
      return;
    }
    var button = event.target.closest("button.like-button[data-like-url]");
    if (!button) return;
    event.preventDefault();
    toggle(button);
  });
})();
