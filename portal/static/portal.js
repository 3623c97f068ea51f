// Progressive enhancement only: every page works without this file (the server enforces
// every rule). A textarea with data-word-limit shows a live word count, counted as the
// server counts (models/text.py): white space, control and format characters (zero-width
// spaces...) separate words; a token of punctuation alone is not a word; an ideograph is one.
(function () {
  "use strict";
  var separators = /[\s\p{Cc}\p{Cf}]+/u;
  var ideograph = /\p{Script=Han}/u;
  var wordy = /[\p{L}\p{N}]/u;
  function count(text) {
    var n = 0;
    text.split(separators).forEach(function (token) {
      if (!wordy.test(token)) return;
      var ideographs = Array.from(token).filter(function (ch) { return ideograph.test(ch); }).length;
      var rest = token.replace(/\p{Script=Han}/gu, " ").split(" ").filter(function (t) { return wordy.test(t); }).length;
      n += ideographs + rest;
    });
    return n;
  }
  // A form sent back with problems: the focus goes to their summary, which a screen reader
  // then reads (GOV.UK's error summary pattern).
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
  document.querySelectorAll("textarea[data-word-limit]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-word-output"));
    if (!out) return;
    var low = parseInt(area.getAttribute("data-word-min") || "0", 10);
    var high = parseInt(area.getAttribute("data-word-limit"), 10);
    var template = out.getAttribute("data-template") || "{n}";
    function update() {
      var n = count(area.value);
      out.textContent = template.replace("{n}", String(n));
      out.classList.toggle("over", n > high || n < low);
    }
    area.addEventListener("input", update);
    update();
  });
})();
