// The upload pages (evidence/intake_upload.html, evidence/packets/receive.html): upload progress, and the size checked before sending
// (the server checks it again).
(function () {
  "use strict";
  function uploadForm() { return document.getElementById("upload"); }
  function fromForm(evt) {
    // Events of the upload's request fire on the form or on #upload-form, the swap target around it.
    var area = document.getElementById("upload-form");
    return area && evt.target instanceof Node && area.contains(evt.target) ? uploadForm() : null;
  }
  function show(form, percent) {
    var bar = form.querySelector(".upload-progress .progress");
    var shown = Math.max(Number(bar.getAttribute("aria-valuenow")) || 0, percent);
    bar.setAttribute("aria-valuenow", shown);
    bar.querySelector(".progress-fill").setAttribute("data-value", shown);
    bar.querySelector(".progress-text").textContent = shown + "%";
  }
  document.body.addEventListener("htmx:beforeRequest", function (evt) {
    var form = fromForm(evt);
    if (!form) return;
    var file = form.querySelector("input[type=file]").files[0];
    var problem = form.querySelector("#upload-client-error");
    if (file && file.size > Number(form.dataset.limit)) {
      evt.preventDefault();
      problem.textContent = "This file is " + file.size.toLocaleString("en") + " bytes; " + form.dataset.tooLarge;
      problem.hidden = false;
      return;
    }
    problem.hidden = true;
    form.querySelector(".upload-progress").hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
  });
  document.body.addEventListener("htmx:xhr:progress", function (evt) {
    var form = fromForm(evt);
    if (form && evt.detail.lengthComputable && evt.detail.total) {
      show(form, Math.floor(100 * evt.detail.loaded / evt.detail.total));
    }
  });
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    // A refused or invalid upload comes back as the form with its errors: show it.
    if (fromForm(evt) && [400, 403, 413].indexOf(evt.detail.xhr.status) >= 0) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (evt) {
    var form = fromForm(evt);
    if (form && !evt.detail.successful) { form.querySelector("button[type=submit]").disabled = false; }
  });
})();
