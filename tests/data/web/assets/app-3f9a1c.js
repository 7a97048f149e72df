document.getElementById("app").textContent = "fixture script ran";
