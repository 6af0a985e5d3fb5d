// The poster's "打印海报" button: the browser's print dialog (the page's print CSS makes it one A4 page).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
