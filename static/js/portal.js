// Small helpers: copy buttons (connection details, code blocks). No framework.
(function () {
  function copyText(text, button) {
    function done() {
      var old = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = old; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], .copy-code");
    if (!button) return;
    var text = button.hasAttribute("data-copy") ? button.getAttribute("data-copy")
      : button.parentElement.querySelector("code, pre").innerText;
    copyText(text, button);
  });
  function addCodeButtons(root) {
    root.querySelectorAll(".prose pre").forEach(function (pre) {
      if (pre.parentElement.querySelector(".copy-code")) return;
      var wrap = document.createElement("div"); wrap.className = "code-wrap";
      pre.parentNode.insertBefore(wrap, pre); wrap.appendChild(pre);
      var b = document.createElement("button"); b.type = "button"; b.className = "copy-code secondary"; b.textContent = "Copy";
      wrap.appendChild(b);
    });
  }
  // Confirmations and auto-submitting filters read data- attributes: no page text ever becomes JavaScript code.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
  });
  document.addEventListener("DOMContentLoaded", function () { addCodeButtons(document); });
  document.addEventListener("htmx:afterSwap", function (e) { addCodeButtons(e.target); });
  // Live parts are replaced every few seconds: keep the <details> a reader opened open.
  var opened = {};
  document.addEventListener("htmx:beforeSwap", function () {
    document.querySelectorAll("details[id]").forEach(function (d) { opened[d.id] = d.open; });
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("details[id]").forEach(function (d) { if (d.id in opened) d.open = opened[d.id]; });
  });
})();
