// After a failed submit: bring the error summary and the first invalid field into view and focus
// that field; a link of the summary focuses its own field. Without JavaScript the summary (at the
// top of the page) and its links still work.
(function () {
  function control(field) {
    return field && field.querySelector("input:not([type=hidden]), select, textarea, canvas");
  }
  function focusField(name) {
    var field = document.getElementById("field-" + name);
    var target = control(field);
    if (!field) return false;
    field.scrollIntoView({block: "center"});
    if (target) target.focus({preventScroll: true});
    return true;
  }
  var summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.addEventListener("click", function (e) {
    var link = e.target.closest("a[data-field]");
    if (link && focusField(link.getAttribute("data-field"))) e.preventDefault();
  });
  var first = document.querySelector(".field.has-error");
  var target = control(first);
  if (target) {
    target.focus({preventScroll: true});
  }
  summary.scrollIntoView({block: "start"});
})();
