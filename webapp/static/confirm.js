// Destructive actions (撤回, 撤销项目, 退回) ask first: a submit button with data-confirm submits
// only when the user confirms its question.
(function () {
  document.addEventListener("submit", function (e) {
    var button = e.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
