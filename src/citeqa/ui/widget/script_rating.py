"""The widget's 👍 / 👎 methods (``ui.widget.script`` puts them in the ``CiteqaChat`` class): rate an answer.

👍 or 👎 goes to ``POST /api/feedback`` at once; after 👎 an optional comment is sent as the same
rating. The comment form is in the shadow root only while open (a hidden form would be a control
too small to tap). Inlined into the class body, so it shares its methods and helpers.
"""

RATING_JS = r"""    // 👍 / 👎 and an optional comment for 👎; the line beside them says how it went.
    rating(id) {
      var self = this, box = el("span", "rate"), state = {rating: "", changes: 0, busy: false};
      var note = el("span", "rate-note");
      note.setAttribute("role", "status");
      var form = el("span", "rate-form"), area = el("textarea"), send = el("button", "btn vote rate-send", "送出");
      area.maxLength = 1000;
      area.rows = 2;
      area.placeholder = "哪裡沒有幫助？（選填，按「送出」）";
      area.setAttribute("aria-label", "哪裡沒有幫助？（選填）");
      send.type = "button";
      form.append(area, send);
      // In the page only while open: a hidden form's button would still be a (0 × 0) control.
      var open = function (on) { if (on) { box.append(form); } else { form.remove(); } };
      var buttons = {};
      ["up", "down"].forEach(function (rating) {
        var b = el("button", "btn vote", WORDS.vote[rating][0]);  // the icon and a word: no emoji font, still read
        b.type = "button";
        b.setAttribute("aria-label", WORDS.vote[rating][1]);
        b.setAttribute("aria-pressed", "false");
        b.title = WORDS.vote[rating][1];
        buttons[rating] = b;
        box.append(b);
      });
      box.append(note);
      var say = function (text, bad) { note.textContent = text; note.classList.toggle("bad", !!bad); };
      var post = function (rating, comment) {
        if (state.busy) return;
        if (state.rating === rating && !comment) { say("已收到您的回饋。"); return; }
        if (state.rating && state.rating !== rating && state.changes >= 1) {
          say(WORDS.refused[409], true); open(false); return;
        }
        state.busy = true;
        var body = {id: id, rating: rating};
        if (comment) body.comment = comment;
        fetch(self.url("api/feedback"), {
          method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
        }).then(function (res) { return res.status; }, function () { return 0; }).then(function (status) {
          state.busy = false;
          if (status >= 200 && status < 300) {
            if (state.rating && state.rating !== rating) state.changes += 1;
            state.rating = rating;
            buttons.up.setAttribute("aria-pressed", String(rating === "up"));
            buttons.down.setAttribute("aria-pressed", String(rating === "down"));
            open(rating === "down" && !comment);  // 👎: a box for what was wrong, optional
            if (comment) area.value = "";
            say("謝謝您的回饋");
            if (form.isConnected) area.focus({preventScroll: true});
            return;
          }
          if (status === 404) { buttons.up.hidden = buttons.down.hidden = true; open(false); }
          if (status === 409) state.changes = 1;
          say(WORDS.refused[status] || (status ? "無法送出回饋（HTTP " + status + "），請稍後再試。"
            : "無法連線到伺服器，回饋沒有送出，請稍後再試。"), true);
        });
      };
      buttons.up.addEventListener("click", function () { open(false); post("up", ""); });
      buttons.down.addEventListener("click", function () {
        if (state.rating !== "down") { post("down", ""); return; }
        open(!form.isConnected);  // 👎 again: open (or close) the comment box
      });
      send.addEventListener("click", function () { post("down", area.value.trim()); });
      return box;
    }
"""
