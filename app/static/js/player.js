// Video playback on the work page: the HLS ladder through hls.js (vendored, see
// app/static/vendor/hls.js/README.md) where MediaSource exists, native HLS on Safari, and the MP4
// <source> renditions as the fallback when neither works or HLS fails.
(function () {
  "use strict";
  document.querySelectorAll("video[data-hls]").forEach(function (video) {
    var url = video.dataset.hls;
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls({ capLevelToPlayerSize: true });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        hls.destroy();
        video.removeAttribute("src");
        video.load(); // back to the MP4 <source> children
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      video.dataset.player = "hls.js";
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
      video.dataset.player = "native-hls";
    } else {
      video.dataset.player = "mp4";
    }
  });
})();
