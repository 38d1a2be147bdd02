// Live progress for running jobs, and the certificate's print button. No dependencies.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var ACTIVE = { queued: true, running: true, cancelling: true };

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-job]"));
  }

  function update(el, job) {
    var bar = el.querySelector("progress");
    var text = el.querySelector(".live-text");
    if (bar) { bar.max = job.total; bar.value = job.step; }
    if (text) {
      var eta = job.eta_seconds ? " · about " + Math.round(job.eta_seconds) + "s left" : "";
      text.textContent = job.step + "/" + job.total + " · " + (job.phase || job.status) + eta;
    }
  }

  function poll() {
    var elements = liveElements();
    if (!elements.length) { return; }
    var ids = elements.map(function (el) { return el.getAttribute("data-live-job"); });
    fetch("/dashboard/jobs/progress?ids=" + encodeURIComponent(ids.join(",")), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return null; }
      return response.ok ? response.json() : null;
    }).then(function (jobs) {
      if (!jobs) { return; }
      var finished = false;
      elements.forEach(function (el) {
        var job = jobs[el.getAttribute("data-live-job")];
        if (!job) { return; }
        update(el, job);
        if (!ACTIVE[job.status]) { finished = true; }
      });
      if (finished) { window.location.reload(); }
    }).catch(function () { /* the next poll retries */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (liveElements().length) { window.setInterval(poll, POLL_MS); }
    var print = document.querySelector("[data-print]");
    if (print) { print.addEventListener("click", function () { window.print(); }); }
  });
})();
