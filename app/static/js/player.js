// Video playback on the work page: the HLS ladder through hls.js (vendored, see
// app/static/vendor/hls.js/README.md) where MediaSource exists, native HLS on Safari, and the MP4
// <source> renditions as the fallback when neither works or HLS fails.
//
// Captions: the <track> children serve the MP4. With HLS the master playlist carries the same
// captions as a subtitle group (app/media/playlists.py), which hls.js and Safari turn into text
// tracks of their own, so the <track> children are taken out while HLS plays (or every caption
// would show twice) and put back when playback falls back to the MP4.
//
// Seek previews: when the transcode wrote a storyboard, a seek bar under the video shows the
// thumbnail of the instant under the pointer (hover) or the finger (drag), read from the
// storyboard's WebVTT index (cues "sprite.jpg#xywh=x,y,w,h").
(function () {
  "use strict";

  function detachTracks(video) {
    var tracks = Array.prototype.slice.call(video.querySelectorAll("track"));
    tracks.forEach(function (track) { video.removeChild(track); });
    return function restore() {
      tracks.forEach(function (track) { video.appendChild(track); });
    };
  }

  function startHls(video) {
    var url = video.dataset.hls;
    if (!url) {
      video.dataset.player = "mp4";
      return;
    }
    if (window.Hls && window.Hls.isSupported()) {
      var restoreTracks = detachTracks(video);
      var hls = new window.Hls({ capLevelToPlayerSize: true, subtitleDisplay: true });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        hls.destroy();
        video.removeAttribute("src");
        restoreTracks();
        video.dataset.player = "mp4";
        video.load(); // back to the MP4 <source> children
      });
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, function (event, data) {
        // Captions on by default: most phone video is watched muted.
        if (data.subtitleTracks.length && hls.subtitleTrack < 0) hls.subtitleTrack = 0;
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      video.dataset.player = "hls.js";
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      detachTracks(video);
      video.src = url;
      video.dataset.player = "native-hls";
    } else {
      video.dataset.player = "mp4";
    }
  }

  function seconds(stamp) {
    var parts = stamp.split(":").map(parseFloat);
    return parts.reduce(function (total, part) { return total * 60 + part; }, 0);
  }

  function parseStoryboard(text, base) {
    var cues = [];
    var pattern = /([\d:.]+)\s*-->\s*([\d:.]+)[^\n]*\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
    var match;
    while ((match = pattern.exec(text))) {
      cues.push({
        start: seconds(match[1]),
        end: seconds(match[2]),
        url: new URL(match[3].trim(), base).href,
        x: +match[4], y: +match[5], w: +match[6], h: +match[7],
      });
    }
    return cues;
  }

  function clock(t) {
    t = Math.max(0, Math.floor(t));
    var m = Math.floor(t / 60), s = t % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function startSeekPreview(box, video) {
    var seek = box.querySelector("[data-storyboard]");
    if (!seek) return;
    var bar = seek.querySelector("[data-seek-bar]");
    var preview = seek.querySelector("[data-seek-preview]");
    var thumb = seek.querySelector("[data-seek-thumb]");
    var time = seek.querySelector("[data-seek-time]");
    var base = new URL(seek.dataset.storyboard, document.baseURI).href;
    var cues = [];
    var dragging = false;

    function duration() {
      if (isFinite(video.duration) && video.duration > 0) return video.duration;
      return cues.length ? cues[cues.length - 1].end : 0;
    }

    function show(fraction) {
      var total = duration();
      if (!cues.length || !total) return;
      fraction = Math.min(1, Math.max(0, fraction));
      var at = fraction * total;
      var cue = cues.find(function (c) { return at >= c.start && at < c.end; }) || cues[cues.length - 1];
      thumb.style.width = cue.w + "px";
      thumb.style.height = cue.h + "px";
      thumb.style.backgroundImage = 'url("' + cue.url + '")';
      thumb.style.backgroundPosition = -cue.x + "px " + -cue.y + "px";
      time.textContent = clock(at);
      var width = bar.getBoundingClientRect().width;
      var left = Math.min(Math.max(0, fraction * width - cue.w / 2), Math.max(0, width - cue.w - 4));
      preview.style.left = left + "px";
      preview.hidden = false;
      preview.dataset.time = at.toFixed(3);
    }

    function hide() {
      if (!dragging) preview.hidden = true;
    }

    function fractionAt(clientX) {
      var rect = bar.getBoundingClientRect();
      return rect.width ? (clientX - rect.left) / rect.width : 0;
    }

    bar.addEventListener("pointermove", function (event) { show(fractionAt(event.clientX)); });
    bar.addEventListener("pointerdown", function (event) {
      dragging = true;
      show(fractionAt(event.clientX));
    });
    bar.addEventListener("pointerleave", hide);
    ["pointerup", "pointercancel"].forEach(function (name) {
      bar.addEventListener(name, function () {
        dragging = false;
        hide();
      });
    });
    bar.addEventListener("input", function () {
      var fraction = bar.value / bar.max;
      show(fraction);
      if (duration()) video.currentTime = fraction * duration();
    });
    bar.addEventListener("change", function () {
      dragging = false;
      hide();
    });
    bar.addEventListener("blur", function () { preview.hidden = true; });
    video.addEventListener("timeupdate", function () {
      if (!dragging && duration()) bar.value = Math.round((video.currentTime / duration()) * bar.max);
    });

    fetch(base, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (text) {
        cues = parseStoryboard(text, base);
        if (cues.length) {
          seek.hidden = false;
          seek.dataset.ready = "true";
        }
      })
      .catch(function () { /* no previews: the video's own controls still seek */ });
  }

  document.querySelectorAll("[data-player]").forEach(function (box) {
    var video = box.querySelector("video");
    startHls(video);
    startSeekPreview(box, video);
  });
  // Videos outside a player box (older cached pages) still get HLS.
  document.querySelectorAll("video[data-hls]").forEach(function (video) {
    if (!video.closest("[data-player]")) startHls(video);
  });
})();
