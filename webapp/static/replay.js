// History replay: bring the active element (else the last completed one) into view inside the
// diagram box, and the current step into view in the list of steps.
(function () {
  var box = document.getElementById("diagram");
  if (box) {
    var marked = box.querySelectorAll("g.active");
    if (!marked.length) marked = box.querySelectorAll("g.done");
    if (marked.length) {
      var target = marked[marked.length - 1].getBoundingClientRect(), frame = box.getBoundingClientRect();
      box.scrollLeft += target.left - frame.left - frame.width / 2 + target.width / 2;
      box.scrollTop += target.top - frame.top - frame.height / 2 + target.height / 2;
    }
  }
  var current = document.querySelector("#steps tr.current");
  if (current) current.scrollIntoView({block: "nearest"});
})();
