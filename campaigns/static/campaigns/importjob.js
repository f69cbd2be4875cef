// An import job's page while the job works: reloaded every two seconds to show its progress,
// unless the person reading it unticks the box (WCAG 2.2.1: a timed refresh the user can stop,
// which a <meta http-equiv="refresh"> is not).
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  if (!box) {
    return;
  }
  var timer = null;
  function schedule() {
    window.clearTimeout(timer);
    if (box.checked) {
      timer = window.setTimeout(function () {
        window.location.reload();
      }, 2000);
    }
  }
  box.addEventListener("change", schedule);
  schedule();
})();
