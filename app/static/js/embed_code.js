// The share panel's embed code: one click copies the <iframe> a partner site pastes. The
// clipboard API needs a secure context; elsewhere (an intranet over http) the text is selected
// and copied the old way, and failing both the person is told to copy it by hand.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-embed]").forEach(function (button) {
    var panel = button.closest("details") || document;
    var code = panel.querySelector("[data-embed-code]");
    var status = panel.querySelector("[data-copy-status]");
    function say(text) { if (status) status.textContent = text; }
    function fallback() {
      code.focus();
      code.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? button.dataset.copied : button.dataset.failed);
    }
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code.value).then(function () {
          say(button.dataset.copied);
        }, fallback);
      } else {
        fallback();
      }
    });
  });
})();
