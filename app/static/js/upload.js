// The upload page: a resumable, chunked upload through API v1, then the transcode progress.
//
// POST /api/v1/works/<id>/uploads opens a session: fixed-size parts, each PUT to its own URL
// (the app with local storage, a presigned bucket URL with S3). A failed part is retried with
// backoff; "pause" aborts the part in flight; after a reload the same file (name + size +
// lastModified) resumes the session kept in localStorage, asking GET /api/v1/uploads/<id> which
// parts arrived. Completion queues the transcode; /status is then polled for its progress.
(function () {
  "use strict";
  var root = document.getElementById("media-upload");
  if (!root) return;
  var textBlock = document.getElementById("upload-text");
  var T = textBlock ? JSON.parse(textBlock.textContent) : {};
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var workId = root.dataset.workId;
  var maxBytes = Number(root.dataset.maxBytes);
  var RETRIES = 6;
  var el = function (name) { return root.querySelector("[data-" + name + "]"); };
  var fileInput = el("file"), startButton = el("start"), pauseButton = el("pause"), resumeButton = el("resume");
  var message = el("message");

  var state = null; // {uploadId, partSize, targets, received: {number: etag}, file}
  var paused = false, running = false;
  var inFlight = null, sending = 0; // the part being sent, and how many of its bytes went

  function say(text) { message.textContent = text; }
  function show(name, visible) { el(name).hidden = !visible; }
  function storageKey(file) { return "upload:" + workId + ":" + file.name + ":" + file.size + ":" + file.lastModified; }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function ApiError(message, status, code) { this.message = message; this.status = status; this.code = code; }

  function api(url, options) {
    options = options || {};
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: options.method || "GET",
      credentials: "same-origin",
      headers: headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var error = body.error || {};
          throw new ApiError(error.message || (T.error + response.status), response.status, error.code);
        }
        return body;
      });
    });
  }

  function setUploadProgress() {
    var done = sending;
    Object.keys(state.received).forEach(function (number) {
      var n = Number(number);
      done += Math.min(state.partSize, state.file.size - (n - 1) * state.partSize);
    });
    var percent = state.file.size ? Math.floor((done / state.file.size) * 100) : 100;
    el("upload-bar").value = percent;
    el("upload-percent").textContent = percent + "%";
  }

  function adopt(body, file) {
    state = { uploadId: body.upload_id, partSize: body.part_size, targets: body.parts, received: {}, file: file };
    (body.received || []).forEach(function (part) { state.received[part.number] = part.etag; });
    localStorage.setItem(storageKey(file), body.upload_id);
    show("upload-progress", true);
    show("cancel", true);
    setUploadProgress();
  }

  function openSession(file) {
    var saved = localStorage.getItem(storageKey(file));
    var resume = saved
      ? api(root.dataset.uploadsUrl.replace("UPLOAD_ID", encodeURIComponent(saved))).then(function (body) {
          if (body.status !== "open") throw new ApiError("closed", 409, "upload_closed");
          say(T.resuming);
          return body;
        })
      : Promise.reject(new ApiError("none", 404));
    return resume.catch(function () {
      localStorage.removeItem(storageKey(file));
      return api(root.dataset.createUrl, {
        method: "POST",
        json: { filename: file.name, size: file.size, content_type: file.type || "video/mp4" },
      });
    }).then(function (body) { adopt(body, file); });
  }

  // XMLHttpRequest, not fetch: only it reports an upload's progress, so the bar moves within a
  // part (8 MiB takes a minute on a weak mobile link) instead of once per part.
  function sendPart(target) {
    var start = (target.number - 1) * state.partSize;
    var blob = state.file.slice(start, Math.min(start + state.partSize, state.file.size));
    var toApp = target.url.charAt(0) === "/";
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      inFlight = xhr;
      function settle() { inFlight = null; sending = 0; }
      xhr.open(target.method || "PUT", target.url);
      // Cookies and the CSRF header go to the app only; a presigned bucket URL needs neither.
      if (toApp) {
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
      }
      xhr.upload.onprogress = function (event) { sending = event.loaded; setUploadProgress(); };
      xhr.onload = function () {
        settle();
        var body = {};
        try { body = JSON.parse(xhr.responseText || "{}"); } catch (ignored) { body = {}; }
        if (xhr.status < 200 || xhr.status >= 300) {
          var error = body.error || {};
          reject(new ApiError(error.message || (T.error + xhr.status), xhr.status, error.code));
        } else {
          resolve(toApp ? body.etag : (xhr.getResponseHeader("ETag") || "").replace(/"/g, ""));
        }
      };
      // Network failures and a pause: no answer at all, retried (or stopped) by the caller.
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
        settle();
        setUploadProgress();
        reject(new TypeError("network"));
      };
      xhr.send(blob);
    });
  }

  async function sendWithRetry(target) {
    for (var attempt = 0; ; attempt++) {
      try {
        return await sendPart(target);
      } catch (error) {
        if (paused) throw error;
        var permanent = error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
        if (permanent || attempt >= RETRIES) throw error;
        say(T.retrying);
        await sleep(Math.min(1000 * Math.pow(2, attempt), 30000));
      }
    }
  }

  async function run() {
    if (running) return;
    running = true;
    paused = false;
    show("pause", true); show("resume", false);
    startButton.disabled = true;
    try {
      say(T.uploading);
      for (var i = 0; i < state.targets.length; i++) {
        var target = state.targets[i];
        if (state.received[target.number]) continue;
        if (paused) return;
        state.received[target.number] = await sendWithRetry(target);
        setUploadProgress();
      }
      say(T.completing);
      var parts = state.targets.map(function (t) { return { number: t.number, etag: state.received[t.number] }; });
      await api("/api/v1/uploads/" + encodeURIComponent(state.uploadId) + "/complete", { method: "POST", json: { parts: parts } });
      localStorage.removeItem(storageKey(state.file));
      show("pause", false);
      show("cancel", false);
      show("upload-form", false);
      say(T.processing);
      show("transcode-progress", true);
      poll();
    } catch (error) {
      if (paused) { say(T.paused); return; }
      show("pause", false); show("resume", true);
      if (error instanceof ApiError) {
        say(error.message);
        if (error.code === "upload_closed" || error.code === "upload_expired" || error.code === "no_such_upload" || error.code === "unsupported_format") {
          localStorage.removeItem(storageKey(state.file));
          state = null;
          show("resume", false);
          show("cancel", false); // the server has closed it: nothing left to cancel
          startButton.disabled = false;
        }
      } else {
        say(T.network);
      }
    } finally {
      running = false;
    }
  }

  startButton.addEventListener("click", function () {
    var file = fileInput.files[0];
    if (!file) { say(T.choose); return; }
    if (file.type && file.type.indexOf("video/") !== 0) { say(T.notVideo); return; }
    if (file.size > maxBytes) { say(T.tooLarge); return; }
    startButton.disabled = true;
    openSession(file).then(run).catch(function (error) {
      startButton.disabled = false;
      say(error instanceof ApiError ? error.message : T.network);
    });
  });

  pauseButton.addEventListener("click", function () {
    paused = true;
    if (inFlight) inFlight.abort();
    show("pause", false); show("resume", true);
    say(T.paused);
  });

  resumeButton.addEventListener("click", function () {
    if (!state) return;
    // Ask the server what arrived: a part may have landed although its answer was lost.
    api(root.dataset.uploadsUrl.replace("UPLOAD_ID", encodeURIComponent(state.uploadId))).then(function (body) {
      adopt(body, state.file);
      run();
    }).catch(function (error) { say(error instanceof ApiError ? error.message : T.network); });
  });

  // 取消上传 posts its form (the server drops every unfinished upload of the work); the part in
  // flight stops with the page, and this browser forgets the upload it would have resumed.
  el("cancel").addEventListener("submit", function () {
    paused = true;
    if (inFlight) inFlight.abort();
    if (state) localStorage.removeItem(storageKey(state.file));
  });

  window.addEventListener("online", function () {
    if (state && !running && !paused) resumeButton.click();
  });

  function poll() {
    api(root.dataset.statusUrl).then(function (body) {
      var percent = Math.floor((body.progress || 0) * 100);
      el("transcode-bar").value = percent;
      el("transcode-percent").textContent = percent + "%";
      if (body.status === "processing") { setTimeout(poll, 1500); return; }
      if (body.status === "failed") {
        say(T.failed + (body.error || ""));
        show("transcode-progress", false);
        show("upload-form", true);
        startButton.disabled = false;
        return;
      }
      el("transcode-bar").value = 100;
      el("transcode-percent").textContent = "100%";
      say(T.done);
      root.dataset.status = body.status;
    }).catch(function () { setTimeout(poll, 5000); });
  }

  if (root.dataset.status === "processing") poll();
})();
