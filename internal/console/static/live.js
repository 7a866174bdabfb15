// Live updates of the lookups' states, from the console's server-sent
// events (GET /events/stream): a lookup shown on the page (an element with
// data-key) gets its new state in its [data-state] element, without a
// reload. Lookups not on the page are counted in #live-notice.
(function () {
  "use strict";
  if (!window.EventSource || !document.querySelector("[data-key]")) {
    return;
  }
  var notice = document.getElementById("live-notice");
  var fresh = 0;
  function say(text) {
    if (notice) {
      notice.textContent = text;
      notice.hidden = false;
    }
  }
  var source = new EventSource("/events/stream");
  source.addEventListener("lookup", function (e) {
    var u = JSON.parse(e.data);
    var found = false;
    document.querySelectorAll("[data-key]").forEach(function (el) {
      if (el.getAttribute("data-key") !== u.key) {
        return;
      }
      found = true;
      el.querySelectorAll("[data-state]").forEach(function (s) {
        s.textContent = u.state;
        s.className = "state state-" + u.state;
      });
      el.querySelectorAll("[data-last]").forEach(function (s) {
        s.textContent = u.kind + " " + u.at;
      });
      if (document.querySelector(".timeline")) {
        say("A new event arrived (" + u.kind + "): reload the page to see it in the timeline.");
      }
    });
    if (!found && u.new && document.getElementById("lookups")) {
      fresh++;
      say(fresh + (fresh === 1 ? " new lookup" : " new lookups") + " since this page was loaded: reload to see them.");
    }
  });
  source.addEventListener("lagged", function () {
    say("Live updates fell behind: reload the page.");
  });
})();
