// File browser: uploads with a progress bar (several files, drag and drop), and confirmations read from
// data-confirm attributes (text only, never code). Without JavaScript the plain forms still work.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function upload(zone, files) {
    var form = zone.querySelector("#upload-form");
    var box = zone.querySelector("#upload-progress");
    var bar = box.querySelector(".bar-fill");
    var meter = box.querySelector("[role=progressbar]");
    var status = box.querySelector("#upload-status");
    var data = new FormData();
    data.append("path", zone.getAttribute("data-path"));
    for (var i = 0; i < files.length; i++) data.append("files", files[i]);
    var request = new XMLHttpRequest();
    request.open("POST", zone.getAttribute("data-upload-url"));
    request.setRequestHeader("X-CSRFToken", csrfToken(form));
    request.setRequestHeader("Accept", "application/json");
    box.hidden = false;
    status.textContent = "Uploading " + files.length + " file" + (files.length > 1 ? "s" : "") + "...";
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.floor((e.loaded / e.total) * 100);
      bar.style.width = percent + "%";
      meter.setAttribute("aria-valuenow", String(percent));
      status.textContent = percent < 100 ? "Uploading: " + percent + " %" : "Storing the files...";
    });
    request.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(request.responseText); } catch (err) { answer = {}; }
      if (request.status < 400) {
        status.textContent = answer.message || "Uploaded.";
        box.setAttribute("data-done", "1");
        window.location.reload();
      } else {
        status.textContent = answer.message || ("The upload failed (" + request.status + "). Try again.");
        box.setAttribute("data-error", "1");
      }
    });
    request.addEventListener("error", function () {
      status.textContent = "The connection broke during the upload. Try again.";
      box.setAttribute("data-error", "1");
    });
    request.send(data);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var zone = document.getElementById("upload-zone");
    if (!zone) return;
    var form = zone.querySelector("#upload-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = form.querySelector("input[type=file]");
      if (input.files.length) upload(zone, input.files);
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer.files.length) upload(zone, event.dataTransfer.files);
    });
  });
})();
