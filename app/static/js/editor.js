// Story editor: "插入正文" puts ![](url) of an uploaded picture at the cursor in the body, and the
// picker refuses more files than the story has room for before anything is uploaded.
(function () {
  "use strict";
  var body = document.querySelector("[data-story-body]");
  document.querySelectorAll("[data-insert-image]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!body) return;
      var text = "\n![](" + button.getAttribute("data-insert-image") + ")\n";
      var start = body.selectionStart || body.value.length;
      var end = body.selectionEnd || start;
      body.value = body.value.slice(0, start) + text + body.value.slice(end);
      body.focus();
      body.selectionStart = body.selectionEnd = start + text.length;
      body.scrollIntoView({ block: "center" });
    });
  });
  document.querySelectorAll("input[type=file][data-max-files]").forEach(function (input) {
    input.addEventListener("change", function () {
      var room = parseInt(input.getAttribute("data-max-files"), 10);
      if (input.files.length > room) {
        alert("最多还能上传 " + room + " 张图片。");
        input.value = "";
      }
    });
  });
})();
