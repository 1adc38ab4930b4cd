// Notification preferences: show only the field of what is being followed (the form works without this too).
(function () {
  "use strict";
  var subject = document.getElementById("subject");
  if (!subject) { return; }
  var names = Array.prototype.map.call(subject.options, function (option) { return option.value; });
  function show() {
    names.forEach(function (name) {
      var field = document.getElementById("value_" + name);
      if (field && field.closest(".field")) { field.closest(".field").hidden = name !== subject.value; }
    });
  }
  subject.addEventListener("change", show);
  show();
}());
