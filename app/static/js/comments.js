// The comment section of a work page (templates/works/_comments.html), through API v1:
// post and reply without reloading, delete, "加载更多" and "查看全部回复". Comment text is only
// ever put on the page with textContent, never as HTML. Without this script the same forms and
// links work through the page routes.
// On a shared page (app/page_cache.py) it starts once static/js/state.js has filled in the
// caller's CSRF token and whether they may post.
(function (init) {
  "use strict";
  if (window.pageState) window.pageState.then(init, init);
  else init();
})(function (personal) {
  "use strict";
  var section = document.querySelector("[data-comments]");
  if (!section) return;

  var messagesNode = document.getElementById("comment-messages");
  var MSG = messagesNode ? JSON.parse(messagesNode.textContent) : {};
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var api = section.getAttribute("data-api");
  var deleteApi = section.getAttribute("data-delete-api").replace(/0$/, "");
  var deleteAction = section.getAttribute("data-delete-action").replace(/0\/delete$/, "");
  var canPost = section.getAttribute("data-can-post") === "true";
  var list = section.querySelector("[data-comment-list]");
  var countNode = section.querySelector("[data-comment-count]");
  var emptyNote = section.querySelector("[data-no-comments]");

  var form = section.querySelector("[data-comment-form]");
  var textarea = form && form.querySelector("textarea");
  var parentInput = form && form.querySelector("[data-parent]");
  var errorNode = form && form.querySelector("[data-comment-error]");
  var noticeNode = form && form.querySelector("[data-comment-notice]");
  var replying = form && form.querySelector("[data-replying]");
  var replyingName = form && form.querySelector("[data-replying-name]");
  var charCount = form && form.querySelector("[data-char-count]");
  var submit = form && form.querySelector("[data-submit]");

  function request(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 204) return { ok: true, status: 204, data: null };
      return response.json().then(
        function (data) { return { ok: response.ok, status: response.status, data: data }; },
        function () { return { ok: response.ok, status: response.status, data: null }; }
      );
    });
  }

  function errorMessage(result) {
    if (result && result.data && result.data.error && result.data.error.message) {
      return result.data.error.message;
    }
    return MSG.failed;
  }

  function show(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  function setCount(delta) {
    if (!countNode || !delta) return;
    var n = parseInt(countNode.textContent, 10) || 0;
    countNode.textContent = String(Math.max(0, n + delta));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // One comment as the server renders it (same classes and data attributes).
  function renderComment(c, top) {
    var li = el("li", "comment" + (c.status === "pending" ? " comment-pending" : ""));
    li.id = "comment-" + c.id;
    li.setAttribute("data-comment-id", c.id);
    li.setAttribute("data-status", c.status);

    var head = el("div", "comment-head");
    head.appendChild(el("strong", "comment-author", c.user.display_name));
    head.appendChild(document.createTextNode(" "));
    var time = el("time", "", formatTime(c.created_at));
    time.setAttribute("datetime", c.created_at);
    head.appendChild(time);
    if (c.status === "pending") {
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", "status status-pending_review", MSG.pending));
    }
    li.appendChild(head);
    li.appendChild(el("p", "comment-body", c.body));

    var actions = el("div", "comment-actions");
    if (canPost && c.status === "visible") {
      var reply = el("a", "", MSG.reply);
      reply.href = "#comment-form";
      reply.setAttribute("data-reply", c.id);
      reply.setAttribute("data-reply-name", c.user.display_name);
      actions.appendChild(reply);
      actions.appendChild(document.createTextNode(" "));
    }
    if (c.can_delete) {
      var del = el("form", "inline");
      del.method = "post";
      del.action = deleteAction + c.id + "/delete";
      del.setAttribute("data-delete-form", "");
      var token = el("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = csrf;
      del.appendChild(token);
      var button = el("button", "link", MSG.delete);
      button.type = "submit";
      del.appendChild(button);
      actions.appendChild(del);
    }
    li.appendChild(actions);

    if (top) {
      var replies = el("ol", "replies");
      replies.setAttribute("data-replies", "");
      (c.replies || []).forEach(function (r) { replies.appendChild(renderComment(r, false)); });
      li.appendChild(replies);
      if ((c.reply_count || 0) > (c.replies || []).length) {
        var more = el("button", "link more-replies", MSG.more_replies.replace("{n}", c.reply_count));
        more.type = "button";
        more.setAttribute("data-more-replies", c.id);
        li.appendChild(more);
      }
    }
    return li;
  }

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    if (Date.now() - d.getTime() < 60 * 1000) return MSG.just_now;
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function updateCharCount() {
    if (charCount && textarea) charCount.textContent = String(Array.from(textarea.value).length);
  }

  function setReplyTarget(id, name) {
    if (!form) return;
    parentInput.value = id || "";
    if (replyingName) replyingName.textContent = name || "";
    if (replying) replying.hidden = !id;
  }

  // --- posting ---------------------------------------------------------------------------------
  if (form) {
    updateCharCount();
    textarea.addEventListener("input", updateCharCount);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      show(errorNode, "");
      show(noticeNode, "");
      var body = textarea.value;
      if (!body.trim()) {
        show(errorNode, MSG.empty);
        textarea.focus();
        return;
      }
      var payload = { body: body };
      if (parentInput.value) payload.parent_id = parseInt(parentInput.value, 10);
      submit.disabled = true;
      request("POST", api, payload)
        .then(function (result) {
          if (result.status === 401) {
            var login = section.getAttribute("data-login-url");
            if (login) window.location.href = login;
          }
          if (!result.ok) {
            show(errorNode, errorMessage(result));
            return;
          }
          var c = result.data.comment;
          var node = renderComment(c, c.parent_id === null);
          if (c.parent_id === null) {
            list.insertBefore(node, list.firstChild);
          } else {
            var parent = document.getElementById("comment-" + c.parent_id);
            var replies = parent && parent.querySelector("[data-replies]");
            (replies || list).appendChild(node);
          }
          if (emptyNote) emptyNote.hidden = true;
          if (c.status === "visible") setCount(1);
          show(noticeNode, result.data.message || "");
          textarea.value = "";
          updateCharCount();
          setReplyTarget(null, null);
          node.scrollIntoView({ block: "nearest" });
        })
        .catch(function () { show(errorNode, MSG.network); })
        .then(function () { submit.disabled = false; });
    });
  }

  // --- replies, deletes, more replies (delegated: also for comments added by this script) ----
  section.addEventListener("click", function (event) {
    var target = event.target;
    var replyLink = target.closest("[data-reply]");
    if (replyLink && form) {
      event.preventDefault();
      setReplyTarget(replyLink.getAttribute("data-reply"), replyLink.getAttribute("data-reply-name"));
      show(errorNode, "");
      form.scrollIntoView({ block: "nearest" });
      textarea.focus();
      return;
    }
    if (target.closest("[data-cancel-reply]")) {
      event.preventDefault();
      setReplyTarget(null, null);
      return;
    }
    var moreReplies = target.closest("[data-more-replies]");
    if (moreReplies) {
      event.preventDefault();
      loadAllReplies(moreReplies);
    }
  });

  section.addEventListener("submit", function (event) {
    var del = event.target.closest("[data-delete-form]");
    if (!del) return;
    event.preventDefault();
    if (!window.confirm(MSG.confirm_delete)) return;
    var item = del.closest("[data-comment-id]");
    var id = item.getAttribute("data-comment-id");
    request("DELETE", deleteApi + id)
      .then(function (result) {
        if (!result.ok) {
          window.alert(errorMessage(result));
          return;
        }
        var gone = 0;
        [item].concat(Array.prototype.slice.call(item.querySelectorAll("[data-comment-id]")))
          .forEach(function (node) { if (node.getAttribute("data-status") === "visible") gone += 1; });
        item.parentNode.removeChild(item);
        setCount(-gone);
        if (emptyNote && !list.querySelector("[data-comment-id]")) emptyNote.hidden = false;
      })
      .catch(function () { window.alert(MSG.network); });
  });

  function loadAllReplies(button) {
    var id = button.getAttribute("data-more-replies");
    var parent = document.getElementById("comment-" + id);
    var replies = parent.querySelector("[data-replies]");
    var collected = [];
    button.disabled = true;
    function page(cursor, left) {
      var url = api + "?parent_id=" + encodeURIComponent(id) + "&limit=50" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return request("GET", url).then(function (result) {
        if (!result.ok) throw new Error(errorMessage(result));
        collected = collected.concat(result.data.items);
        if (result.data.next_cursor && left > 1) return page(result.data.next_cursor, left - 1);
        return result.data.next_cursor;
      });
    }
    page(null, 10)
      .then(function (rest) {
        replies.textContent = "";
        collected.forEach(function (r) { replies.appendChild(renderComment(r, false)); });
        if (!rest) button.parentNode.removeChild(button);
        else button.disabled = false;
      })
      .catch(function () { button.disabled = false; window.alert(MSG.network); });
  }

  // The "查看全部回复" buttons need this script, so they are hidden until it runs.
  section.querySelectorAll("[data-more-replies]").forEach(function (b) { b.hidden = false; });

  // --- 加载更多 ----------------------------------------------------------------------------------
  section.addEventListener("click", function (event) {
    var more = event.target.closest("[data-more]");
    if (!more) return;
    event.preventDefault();
    var cursor = more.getAttribute("data-cursor");
    more.setAttribute("aria-busy", "true");
    request("GET", api + "?cursor=" + encodeURIComponent(cursor))
      .then(function (result) {
        if (!result.ok) throw new Error(errorMessage(result));
        result.data.items.forEach(function (c) {
          if (!document.getElementById("comment-" + c.id)) list.appendChild(renderComment(c, true));
        });
        if (result.data.next_cursor) {
          more.setAttribute("data-cursor", result.data.next_cursor);
          more.removeAttribute("aria-busy");
        } else {
          more.parentNode.removeChild(more);
        }
      })
      .catch(function () {
        more.removeAttribute("aria-busy");
        window.location.href = more.href; // fall back to the page route
      });
  });

  // A shared page (app/page_cache.py) shows the comments as everyone sees them. A reader who
  // commented here also sees their own held comments and may delete theirs, and a moderator may
  // delete others': for them only, the first page again as the API answers it (not cached).
  var workId = Number(section.getAttribute("data-work-id"));
  var own = personal && personal.own_comments && personal.own_comments.indexOf(workId) !== -1;
  var moderates = personal && personal.nav && (personal.nav.moderation || personal.nav.audit);
  if (personal && personal.signed_in && (own || moderates) && document.body.hasAttribute("data-shared-page")) {
    request("GET", api).then(function (result) {
      if (!result.ok || !result.data) return;
      var fresh = document.createDocumentFragment();
      result.data.items.forEach(function (c) { fresh.appendChild(renderComment(c, true)); });
      list.replaceChildren(fresh);
      if (emptyNote) emptyNote.hidden = result.data.items.length > 0;
    });
  }
});
