// Passage view: bring the cited turns or text into sight; "Back" returns to the chat when
// the reader came from there.
"use strict";

const cited = document.querySelector(".cited");
if (cited) cited.scrollIntoView({ block: "center" });
const back = $("back-link");
if (document.referrer.startsWith(location.origin)) {
  back.addEventListener("click", (e) => { e.preventDefault(); history.back(); });
}
