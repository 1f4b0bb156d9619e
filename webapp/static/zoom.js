// A large diagram (the dashboard's heatmap) is drawn at its natural size inside its own scrolling
// frame; buttons with data-zoom fit it to the frame's width or zoom it in and out.
(function () {
  var boxes = document.querySelectorAll("[data-zoom-target]");
  for (var i = 0; i < boxes.length; i++) {
    (function (controls) {
      var frame = document.getElementById(controls.getAttribute("data-zoom-target"));
      var svg = frame && frame.querySelector("svg");
      if (!svg) return;
      var natural = parseFloat(svg.getAttribute("width")) || svg.getBoundingClientRect().width;
      var factor = 1;
      function apply() {
        svg.style.width = Math.round(natural * factor) + "px";
        svg.style.height = "auto";
      }
      controls.addEventListener("click", function (e) {
        var button = e.target.closest("button[data-zoom]");
        if (!button) return;
        var zoom = button.getAttribute("data-zoom");
        if (zoom === "fit") factor = frame.clientWidth / natural;
        else if (zoom === "in") factor = Math.min(factor * 1.25, 3);
        else if (zoom === "out") factor = Math.max(factor / 1.25, 0.2);
        else factor = 1;
        apply();
      });
      controls.hidden = false;
    })(boxes[i]);
  }
})();
