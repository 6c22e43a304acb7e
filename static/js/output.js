// Follows a program's output: new text is appended (the box is never redrawn), the view stays where the reader
// put it, and follows the end only while the reader is at the end. No user text is ever run as code.
(function () {
  function atEnd(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 8; }

  function start(box) {
    var url = box.getAttribute("data-url");
    var jump = document.getElementById("output-jump");
    var offset = null, following = true, first = true, stopped = false;
    box.addEventListener("scroll", function () {
      following = atEnd(box);
      if (jump) jump.hidden = following;
    });
    if (jump) jump.addEventListener("click", function () {
      box.scrollTop = box.scrollHeight; following = true; jump.hidden = true;
    });
    function poll() {
      var request = new XMLHttpRequest();
      request.open("GET", url + (offset === null ? "" : "?offset=" + offset));
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status !== 200) { schedule(5000); return; }
        var answer = JSON.parse(request.responseText);
        var keep = following;
        if (answer.mode === "replace" || first) {
          box.textContent = answer.text || (answer.done ? "It printed nothing." : "Nothing printed yet.");
        } else if (answer.text) {
          box.appendChild(document.createTextNode(answer.text));
        }
        first = false;
        offset = answer.offset;
        box.setAttribute("data-offset", offset === null ? "" : String(offset));
        if (keep) box.scrollTop = box.scrollHeight;
        if (answer.done) { box.setAttribute("data-done", "1"); stopped = true; return; }
        schedule(answer.text && answer.text.length > 200000 ? 50 : 2000);
      };
      request.onerror = function () { schedule(5000); };
      request.send();
    }
    function schedule(ms) { if (!stopped) setTimeout(poll, ms); }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("program-output");
    if (box) start(box);
  });
})();
