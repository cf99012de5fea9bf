// The layout editor's live preview: after a pause in typing, the form's text goes to the server,
// which answers with the article exactly as the sanitiser keeps it (footer included) and what
// saving would refuse, field by field. No library: a debounced fetch.
(function () {
  "use strict";
  var form = document.getElementById("editor-form");
  var frame = document.getElementById("preview-frame");
  if (!form || !frame) { return; }
  var url = form.getAttribute("data-preview-url");
  var body = form.elements.namedItem("body");
  var timer = null;
  var sent = 0;

  function refresh() {
    var data = new FormData();
    ["csrf_token", "title", "author", "digest", "body", "cover_sha"].forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) { data.append(name, field.value); }
    });
    var mine = ++sent;
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (shown) {
        if (mine !== sent || !shown.html) { return; } // a later keystroke's answer wins
        var scroll = frame.contentWindow ? frame.contentWindow.scrollY : 0;
        frame.onload = function () { if (frame.contentWindow) { frame.contentWindow.scrollTo(0, scroll); } };
        frame.srcdoc = shown.html;
        ["title", "author", "digest", "body"].forEach(function (name) {
          var slot = form.querySelector('[data-field-error="' + name + '"]');
          if (slot) { slot.textContent = (shown.problems[name] || []).join(" "); }
        });
      })
      .catch(function () { /* the next keystroke tries again; saving still checks everything */ });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 400);
  }

  ["title", "author", "digest", "body"].forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (field) { field.addEventListener("input", later); }
  });

  // A file over its limit is refused here, before a long upload that the server would refuse.
  Array.prototype.forEach.call(form.querySelectorAll('input[type="file"][data-max]'), function (input) {
    input.addEventListener("change", function () {
      var max = parseInt(input.getAttribute("data-max"), 10);
      if (input.files.length && input.files[0].size > max) {
        window.alert(form.getAttribute("data-too-large"));
        input.value = "";
      }
    });
  });

  // An uploaded image goes in where the cursor was.
  form.addEventListener("submit", function () {
    form.elements.namedItem("caret").value = String(body.selectionStart || 0);
  });
}());
